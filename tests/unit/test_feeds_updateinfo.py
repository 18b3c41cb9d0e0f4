"""updateinfo.xml errata: every real sample parses; facts read from the files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from patchfleet.core.versions import Scheme
from patchfleet.server.feeds import sources
from patchfleet.server.feeds.errors import FeedError
from patchfleet.server.feeds.updateinfo import iter_updateinfo, release_of

RELEASES = {
    "almalinux9-baseos-updateinfo.xml.gz": "almalinux:9",
    "rocky9-baseos-updateinfo.xml.gz": "",  # names "Rocky Linux 9" itself
    "amazonlinux2-updateinfo.xml.gz": "amazon:2",
    "amazonlinux2023-updateinfo.xml.gz": "amazon:2023",
    "epel6-updateinfo.xml.bz2": "",  # bugfix errata only: no CVE, nothing to yield
}


def parsed(shared_data: Path, name: str):
    path = shared_data / "updateinfo" / name
    with sources.open_stream(path, "updateinfo") as stream:
        return list(iter_updateinfo(stream, name, RELEASES[name]))


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_every_real_sample_parses(shared_data, name):
    assert (shared_data / "updateinfo" / name).exists()
    for advisory in parsed(shared_data, name):
        assert advisory.cves
        assert all(p.scheme is Scheme.RPM for p in advisory.affected)


def test_almalinux_xz_fix(shared_data):
    (xz,) = parsed(shared_data, "almalinux9-baseos-updateinfo.xml.gz")
    assert xz.id == "ALSA-2022:4940"
    assert xz.cves == ("CVE-2022-1271",)
    assert xz.severity == "Important"
    assert [(p.release, p.package, p.fixed) for p in xz.affected] == [
        ("almalinux:9", "xz", "5.2.5-8.el9_0")
    ]


def test_rocky_names_its_release(shared_data):
    (xz,) = parsed(shared_data, "rocky9-baseos-updateinfo.xml.gz")
    assert xz.id == "RLSA-2022:7513"
    assert xz.affected[0].release == "rocky:9"
    assert release_of("Rocky Linux 9") == "rocky:9"


def test_amazon_linux_packages_and_cves(shared_data):
    (kernel,) = parsed(shared_data, "amazonlinux2-updateinfo.xml.gz")
    assert kernel.cves == ("CVE-2017-5715", "CVE-2017-5754")
    assert kernel.affected[0].fixed == "4.9.76-38.79.amzn2"
    (rsyslog,) = parsed(shared_data, "amazonlinux2023-updateinfo.xml.gz")
    assert rsyslog.cves == ("CVE-2014-3634", "CVE-2022-24903")
    assert {p.fixed for p in rsyslog.affected} == {"8.2204.0-3.amzn2023.0.2"}
    assert "rsyslog-mmfields-debuginfo" in {p.package for p in rsyslog.affected}


def test_bugfix_only_file_yields_nothing(shared_data):
    assert parsed(shared_data, "epel6-updateinfo.xml.bz2") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<updates><update type='security'><id>X-1</id>", "malformed or truncated"),
        (
            b'<!DOCTYPE u [<!ENTITY a "b">]><updates>&a;</updates>',
            "entities/DTD are not allowed",
        ),
        (
            b"<updates><update><id>A-1</id><references><reference type='cve' "
            b"id='CVE-2024-12345'/></references></update></updates>",
            "names no release",
        ),
        (
            b"<updates><update><references/></update></updates>",
            "has no <id>",
        ),
    ],
)
def test_bad_files_are_refused_with_a_reason(data, message):
    with pytest.raises(FeedError, match=message) as caught:
        list(iter_updateinfo(io.BytesIO(data), "bad.xml"))
    assert str(caught.value).startswith("updateinfo: bad.xml")
