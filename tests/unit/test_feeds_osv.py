"""The OSV parser over the real Debian, Ubuntu and Red Hat records in ../shared/data.

Facts asserted below are read from those files (see their README.md); only the
bad-input tests write small payloads of their own.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchfleet.core.advisories import CVE_ID, Advisory, AffectedPackage
from patchfleet.core.versions import Scheme
from patchfleet.server.feeds import osv
from patchfleet.server.feeds.errors import FeedError

# Collection needs the sample list before fixtures exist: same lookup as the
# ``shared_data`` fixture (tests/conftest.py), which the tests then use.
_DATA = Path(
    os.environ.get("PATCHFLEET_SHARED_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "data"
)
OSV_SAMPLES = sorted(
    p.relative_to(_DATA).as_posix() for p in _DATA.glob("osv/**/*.json")
)


def one(shared_data: Path, name: str) -> Advisory:
    (advisory,) = osv.iter_file(shared_data / "osv" / name)
    return advisory


def by_release(advisory: Advisory, release: str) -> list[AffectedPackage]:
    return [p for p in advisory.affected if p.release == release]


# ------------------------------------------------------------------- every sample


def test_the_samples_are_found(shared_data: Path) -> None:
    assert _DATA.resolve() == shared_data.resolve()
    assert len(OSV_SAMPLES) >= 29


@pytest.mark.parametrize("name", OSV_SAMPLES)
def test_every_sample_parses(shared_data: Path, name: str) -> None:
    path = shared_data / name
    record = json.loads(path.read_bytes())
    advisories = list(osv.iter_file(path))
    assert advisories == [a for a in [osv.parse_record(record)] if a is not None]
    for advisory in advisories:
        assert advisory.id == record["id"]
        assert advisory.source == "osv"
        assert advisory.affected
        assert all(CVE_ID.fullmatch(cve) for cve in advisory.cves)
        assert list(advisory.cves) == sorted(set(advisory.cves))
        for package in advisory.affected:
            assert package.release
            assert package.package
            assert not package.fixed.startswith("0:")


# ------------------------------------------------------------------ Ubuntu facts


def test_looney_tunables_glibc_fixes_per_release(shared_data: Path) -> None:
    advisory = one(shared_data, "ubuntu/UBUNTU-CVE-2023-4911.json")
    assert advisory.id == "UBUNTU-CVE-2023-4911"
    assert advisory.cves == ("CVE-2023-4911",)
    assert advisory.affected == (
        AffectedPackage("ubuntu:22.04", "glibc", Scheme.DEB, fixed="2.35-0ubuntu3.4"),
        AffectedPackage("ubuntu:24.04", "glibc", Scheme.DEB, fixed="2.38-1ubuntu6"),
    )
    # Schema 1.6.3 has no "Ubuntu" severity entry: the per-package priority.
    assert advisory.severity == "high"
    assert advisory.published == datetime(2023, 10, 3, 17, 0, tzinfo=UTC)
    assert advisory.summary.startswith("A buffer overflow was discovered in the GNU C")
    assert advisory.url == ""  # only REPORT references
    assert advisory.withdrawn is False


def test_unfixed_and_pro_only_entries(shared_data: Path) -> None:
    coreutils = one(shared_data, "ubuntu/UBUNTU-CVE-2016-2781.json")
    assert {p.release for p in coreutils.affected} == {
        "ubuntu-pro:14.04",
        "ubuntu-pro:16.04",
        "ubuntu-pro:18.04",
        "ubuntu:20.04",
        "ubuntu:22.04",
        "ubuntu:24.04",
    }
    assert by_release(coreutils, "ubuntu:22.04") == [
        AffectedPackage("ubuntu:22.04", "coreutils", Scheme.DEB, fixed="")
    ]
    assert coreutils.severity == "low"

    netty = one(shared_data, "ubuntu/UBUNTU-CVE-2022-24823.json")
    assert by_release(netty, "ubuntu-pro:16.04")[0].fixed == "1:4.0.34-1ubuntu0.1~esm2"
    assert by_release(netty, "ubuntu-pro:18.04")[0].fixed == "1:4.1.7-4ubuntu0.1+esm3"
    assert by_release(netty, "ubuntu:25.10")[0].fixed == ""
    assert netty.severity == "low"  # the "Ubuntu" severity entry
    assert netty.url == "https://ubuntu.com/security/notices/USN-7284-1"


def test_withdrawn_record(shared_data: Path) -> None:
    wolfssl = one(shared_data, "ubuntu/UBUNTU-CVE-2014-2901.json")
    assert wolfssl.withdrawn is True
    assert wolfssl.cves == ("CVE-2014-2901",)  # from "upstream" (schema 1.7.0)
    assert wolfssl.affected == (
        AffectedPackage("ubuntu-pro:16.04", "wolfssl", Scheme.DEB),
    )
    assert wolfssl.severity == "medium"


def test_sudo_baron_samedit_has_no_2204_entry(shared_data: Path) -> None:
    sudo = one(shared_data, "ubuntu/UBUNTU-CVE-2021-3156.json")
    assert by_release(sudo, "ubuntu:22.04") == []
    assert by_release(sudo, "ubuntu:20.04")[0].fixed == "1.8.31-1ubuntu1.2"
    assert by_release(sudo, "ubuntu-pro:14.04")[0].fixed == "1.8.9p5-1ubuntu1.5+esm6"


def test_schema_170_record(shared_data: Path) -> None:
    perl = one(shared_data, "ubuntu/UBUNTU-CVE-2023-47038.json")
    assert perl.cves == ("CVE-2023-47038",)
    assert by_release(perl, "ubuntu:22.04") == [
        AffectedPackage("ubuntu:22.04", "perl", Scheme.DEB, fixed="5.34.0-3ubuntu1.3")
    ]
    assert by_release(perl, "ubuntu:25.10") == [
        AffectedPackage("ubuntu:25.10", "raku", Scheme.DEB)
    ]
    assert perl.severity == "medium"
    assert perl.url == "https://ubuntu.com/security/notices/USN-6517-1"


def test_usn_takes_cves_from_upstream_and_cves_map(shared_data: Path) -> None:
    usn = one(shared_data, "ubuntu/USN-5710-1.json")
    assert usn.cves == ("CVE-2022-3358", "CVE-2022-3602", "CVE-2022-3786")
    assert usn.affected == (
        AffectedPackage(
            "ubuntu:22.04", "openssl", Scheme.DEB, fixed="3.0.2-0ubuntu1.7"
        ),
    )
    assert usn.summary == "openssl vulnerabilities"
    assert usn.url == "https://ubuntu.com/security/notices/USN-5710-1"
    assert usn.severity == ""  # USNs carry no severity


def test_livepatch_notice(shared_data: Path) -> None:
    lsn = one(shared_data, "ubuntu/LSN-0108-1.json")
    # "related" lists every CVE twice (CVE-… and UBUNTU-CVE-…).
    assert lsn.cves[:2] == ("CVE-2024-26800", "CVE-2024-26921")
    assert "CVE-2024-50264" in lsn.cves
    assert by_release(lsn, "ubuntu-pro:22.04") == [
        AffectedPackage(
            "ubuntu-pro:22.04", "linux-aws", Scheme.DEB, fixed="5.15.0-1076.83"
        )
    ]


# ------------------------------------------------------------ Debian and Red Hat


def test_dla_0001_debian_6(shared_data: Path) -> None:
    dla = one(shared_data, "debian/DLA-0001-1.json")
    assert dla.id == "DLA-0001-1"
    assert dla.cves == ("CVE-2014-3466",)
    assert dla.affected == (
        AffectedPackage("debian:6", "gnutls26", Scheme.DEB, fixed="2.8.6-1+squeeze4"),
    )
    assert dla.summary == "gnutls26 - security update"
    assert dla.url == "https://www.debian.org/lts/security/2014/dla-0001"
    assert dla.published == datetime(2014, 6, 2, tzinfo=UTC)
    assert dla.modified == datetime(2023, 6, 28, 6, 17, 52, 429597, tzinfo=UTC)


def test_dtsa_debian_4(shared_data: Path) -> None:
    dtsa = one(shared_data, "debian/DTSA-1-1.json")
    assert dtsa.cves == ("CVE-2005-2626", "CVE-2005-2627")
    assert dtsa.affected == (
        AffectedPackage("debian:4", "kismet", Scheme.DEB, fixed="2005.08.R1-0.1etch1"),
    )


def test_rhsa_2024_8709_podman_on_rhel_92_eus(shared_data: Path) -> None:
    rhsa = one(shared_data, "redhat/RHSA-2024-8709.json")
    assert rhsa.id == "RHSA-2024:8709"
    assert rhsa.cves == ("CVE-2024-9675",)
    assert {p.release for p in rhsa.affected} == {"rhel-eus:9.2"}
    assert {p.fixed for p in rhsa.affected} == {"2:4.4.1-21.el9_2"}
    assert [p.package for p in rhsa.affected] == [
        "podman",
        "podman-debuginfo",
        "podman-debugsource",
        "podman-docker",
        "podman-gvproxy",
        "podman-gvproxy-debuginfo",
        "podman-plugins",
        "podman-plugins-debuginfo",
        "podman-remote",
        "podman-remote-debuginfo",
        "podman-tests",
    ]
    assert all(p.scheme is Scheme.RPM for p in rhsa.affected)
    assert rhsa.severity == "important"  # …/classification/#important
    assert rhsa.url == "https://access.redhat.com/errata/RHSA-2024:8709"
    assert rhsa.summary == "Red Hat Security Advisory: podman security update"


def test_rhba_epochs_are_printed_as_rpm_does(shared_data: Path) -> None:
    rhba = one(shared_data, "redhat/RHBA-2024-6202.json")
    fixed = {p.package: p.fixed for p in rhba.affected}
    assert fixed["iwl100-firmware"] == "39.31.5.1-118.2.el8_8.1"  # was 0:39.31…
    assert fixed["iwl1000-firmware"] == "1:39.31.5.1-118.2.el8_8.1"
    assert {p.release for p in rhba.affected} == {"rhel-eus:8.8"}
    assert rhba.cves == ("CVE-2023-31315",)


def test_layered_product_record_is_skipped(shared_data: Path) -> None:
    path = shared_data / "osv/redhat/RHEA-2024-1870.json"
    record = json.loads(path.read_bytes())
    assert (
        record["affected"][0]["package"]["ecosystem"] == "Red Hat:ocp_tools:4.15::el9"
    )
    assert osv.parse_record(record) is None
    assert list(osv.iter_file(path)) == []


# ------------------------------------------ range rules, on real records changed


def test_versions_without_ranges_mean_up_to_the_newest(shared_data: Path) -> None:
    data = json.loads((shared_data / "osv/debian/DLA-0001-1.json").read_bytes())
    del data["affected"][0]["ranges"]  # leaves "versions": 2.8.6-1 … +squeeze3
    advisory = osv.parse_record(data)
    assert advisory is not None
    assert advisory.affected == (
        AffectedPackage(
            "debian:6", "gnutls26", Scheme.DEB, last_affected="2.8.6-1+squeeze3"
        ),
    )


def test_interval_pairs_and_other_range_types(shared_data: Path) -> None:
    data = json.loads(
        (shared_data / "osv/ubuntu/UBUNTU-CVE-2023-4911.json").read_bytes()
    )
    jammy = data["affected"][0]
    jammy["ranges"][0]["events"] += [{"introduced": "2.37-0ubuntu1"}]
    jammy["ranges"].append({"type": "GIT", "repo": "x", "events": [{"fixed": "abc"}]})
    data["affected"] = [jammy]
    advisory = osv.parse_record(data)
    assert advisory is not None
    assert advisory.affected == (
        AffectedPackage("ubuntu:22.04", "glibc", Scheme.DEB, fixed="2.35-0ubuntu3.4"),
        AffectedPackage(
            "ubuntu:22.04", "glibc", Scheme.DEB, introduced="2.37-0ubuntu1"
        ),
    )


def test_record_without_an_os_package(shared_data: Path) -> None:
    data = json.loads((shared_data / "osv/debian/DLA-0001-1.json").read_bytes())
    data["affected"][0]["package"]["ecosystem"] = "PyPI"
    assert osv.parse_record(data) is None


# ------------------------------------------------------------------ file shapes


def test_zip_dump_is_read_member_by_member(shared_data: Path, tmp_path: Path) -> None:
    names = [
        "debian/DLA-0001-1.json",
        "debian/DTSA-1-1.json",
        "redhat/RHEA-2024-1870.json",
    ]
    dump = tmp_path / "all.zip"
    with zipfile.ZipFile(dump, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.write(shared_data / "osv" / name, f"all/{Path(name).name}")
        archive.writestr("all/README.txt", "not a record")
    assert [a.id for a in osv.iter_file(dump)] == ["DLA-0001-1", "DTSA-1-1"]
    assert next(osv.iter_file(dump)) == one(shared_data, "debian/DLA-0001-1.json")


def test_folder_list_and_compressed_files(shared_data: Path, tmp_path: Path) -> None:
    folder = sorted(a.id for a in osv.iter_file(shared_data / "osv/debian"))
    assert folder == ["DLA-0001-1", "DTSA-1-1"]

    records = [
        json.loads((shared_data / "osv/ubuntu" / f"UBUNTU-CVE-{n}.json").read_bytes())
        for n in ("2023-4911", "2024-3094")
    ]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(records))
    assert [a.id for a in osv.iter_file(listed)] == [
        "UBUNTU-CVE-2023-4911",
        "UBUNTU-CVE-2024-3094",
    ]

    raw = (shared_data / "osv/ubuntu/UBUNTU-CVE-2024-3094.json").read_bytes()
    expected = one(shared_data, "ubuntu/UBUNTU-CVE-2024-3094.json")
    assert by_release(expected, "ubuntu:22.04")[0].fixed == "5.2.5-2ubuntu1"
    for suffix, compress in (
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
    ):
        packed = tmp_path / f"xz-utils.json{suffix}"
        packed.write_bytes(compress(raw))
        assert list(osv.iter_file(packed)) == [expected]


# ------------------------------------------------------------- ecosystem table


@pytest.mark.parametrize(
    ("ecosystem", "release"),
    [
        ("Debian:12", "debian:12"),
        ("Debian:6.0", "debian:6"),
        ("Ubuntu:22.04:LTS", "ubuntu:22.04"),
        ("Ubuntu:25.10", "ubuntu:25.10"),
        ("Ubuntu:Pro:22.04:LTS", "ubuntu-pro:22.04"),
        ("Ubuntu:Pro:FIPS:20.04:LTS", "ubuntu-pro-fips:20.04"),
        ("Ubuntu:Pro:FIPS-updates:22.04:LTS", "ubuntu-pro-fips-updates:22.04"),
        ("Ubuntu:Pro:FIPS-preview:22.04:LTS", "ubuntu-pro-fips-preview:22.04"),
        ("Ubuntu:Pro:24.04:LTS:Realtime:Kernel", "ubuntu-pro-realtime-kernel:24.04"),
        ("AlmaLinux:9", "almalinux:9"),
        ("Rocky Linux:9", "rocky:9"),
        ("Red Hat:enterprise_linux:9::baseos", "rhel:9"),
        ("Red Hat:enterprise_linux:9::appstream", "rhel:9"),
        ("Red Hat:rhel_eus:9.2::appstream", "rhel-eus:9.2"),
        ("Red Hat:rhel_eus:8.8::baseos", "rhel-eus:8.8"),
        ("Red Hat:rhel_aus:8.4::baseos", "rhel-aus:8.4"),
        ("Red Hat:rhel_e4s:8.6::appstream", "rhel-e4s:8.6"),
        ("Red Hat:ocp_tools:4.15::el9", ""),
        ("SUSE:Linux Enterprise Server 15 SP5", "sles:15"),
        ("SUSE:Linux Enterprise Module for Basesystem 15 SP5", "sles:15"),
        ("openSUSE:Leap 15.5", "opensuse-leap:15.5"),
        ("Debian", ""),
        ("Ubuntu", ""),
        ("npm", ""),
        ("PyPI", ""),
        ("Alpine:v3.19", ""),
        ("", ""),
    ],
)
def test_release_of_ecosystem(ecosystem: str, release: str) -> None:
    assert osv.release_of_ecosystem(ecosystem) == release


@pytest.mark.parametrize(
    ("version", "printed"),
    [
        ("0:1.2-3.el9", "1.2-3.el9"),
        ("1:2.3-4", "1:2.3-4"),
        ("2.35-0ubuntu3.4", "2.35-0ubuntu3.4"),
        ("0:0.9.6-2ubuntu0.22.04.2", "0.9.6-2ubuntu0.22.04.2"),
        ("10:1.0", "10:1.0"),
    ],
)
def test_normalise_version(version: str, printed: str) -> None:
    assert osv.normalise_version(version) == printed


# ------------------------------------------------------------------- bad input


def record(**changes: object) -> dict[str, object]:
    """A minimal record in the Debian shape; ``changes`` break one part of it."""
    base: dict[str, object] = {
        "id": "DSA-5000-1",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "demo"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "1.1"}],
                    }
                ],
            }
        ],
    }
    return base | changes


def entry(**changes: object) -> list[dict[str, object]]:
    affected = record()["affected"]
    assert isinstance(affected, list)
    return [affected[0] | changes]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "osv: record: must be an object, got list"),
        ({"summary": "x"}, "osv: record: id: missing"),
        ({"id": 5}, "osv: record: id: must be a non-empty string"),
        (
            record(affected={"a": 1}),
            "osv: DSA-5000-1: affected: must be a list, got object",
        ),
        (
            record(affected=["x"]),
            "osv: DSA-5000-1: affected[0]: must be an object, got string",
        ),
        (
            record(affected=entry(package="demo")),
            "osv: DSA-5000-1: affected[0].package: must be an object, got string",
        ),
        (
            record(affected=entry(package={"ecosystem": "Debian:12"})),
            "osv: DSA-5000-1: affected[0].package.name: missing",
        ),
        (
            record(affected=entry(ranges=[{"type": "ECOSYSTEM", "events": "0"}])),
            "osv: DSA-5000-1: affected[0].ranges[0].events: must be a list, got string",
        ),
        (
            record(affected=entry(ranges=[{"type": "ECOSYSTEM"}])),
            "osv: DSA-5000-1: affected[0].ranges[0].events: missing",
        ),
        (
            record(
                affected=entry(ranges=[{"type": "ECOSYSTEM", "events": [{"fixed": 2}]}])
            ),
            "osv: DSA-5000-1: affected[0].ranges[0].events[0].fixed: must be a string, got number",
        ),
        (
            record(affected=entry(ranges=[{"type": 1}])),
            "osv: DSA-5000-1: affected[0].ranges[0].type: must be a string, got number",
        ),
        (
            record(affected=entry(ranges=[], versions=["1.0", "bad version"])),
            "osv: DSA-5000-1: affected[0].versions[1]: invalid deb version 'bad version'",
        ),
        (
            record(aliases=["CVE-2024-1", None]),
            "osv: DSA-5000-1: aliases[1]: must be a string, got null",
        ),
        (
            record(references=[{"type": "WEB", "url": 3}]),
            "osv: DSA-5000-1: references[0].url: must be a string",
        ),
        (
            record(severity={"type": "Ubuntu"}),
            "osv: DSA-5000-1: severity: must be a list, got object",
        ),
        (
            record(published="yesterday"),
            "osv: DSA-5000-1: published: not an RFC 3339 timestamp",
        ),
        (
            record(withdrawn=True),
            "osv: DSA-5000-1: withdrawn: must be a string, got boolean",
        ),
    ],
)
def test_wrong_shapes_name_the_record_and_path(data: object, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        osv.parse_record(data)
    assert str(caught.value).startswith(message), str(caught.value)


def test_the_minimal_record_is_valid() -> None:
    advisory = osv.parse_record(record())
    assert advisory is not None
    assert advisory.affected == (
        AffectedPackage("debian:12", "demo", Scheme.DEB, fixed="1.1"),
    )


def test_malformed_json_names_file_line_and_column(
    shared_data: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "DLA-0001-1.json"
    truncated.write_bytes(
        (shared_data / "osv/debian/DLA-0001-1.json").read_bytes()[:700]
    )
    with pytest.raises(
        FeedError,
        match=r"^osv: DLA-0001-1\.json: malformed JSON: .* at line \d+, column \d+$",
    ):
        list(osv.iter_file(truncated))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x89PNG\r\n\x1a\n", "osv: x.json: not UTF-8 JSON text"),
        (
            b"hello, world",
            "osv: x.json: malformed JSON: Expecting value at line 1, column 1",
        ),
        (b"", "osv: x.json: malformed JSON: Expecting value at line 1, column 1"),
        (
            b'"a string"',
            "osv: x.json: must be an OSV record or a list of records, got string",
        ),
        (b"[" * 200_000, "osv: x.json: malformed JSON: nested too deeply"),
        (
            b'[{"id": "X-1", "affected": 1}]',
            "osv: x.json[0]: X-1: affected: must be a list",
        ),
    ],
)
def test_files_that_are_not_osv(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(payload)
    with pytest.raises(FeedError) as caught:
        list(osv.iter_file(path))
    assert str(caught.value).startswith(message), str(caught.value)


def test_zip_with_a_corrupt_member(shared_data: Path, tmp_path: Path) -> None:
    dump = tmp_path / "all.zip"
    with zipfile.ZipFile(dump, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(shared_data / "osv/debian/DLA-0001-1.json", "DLA-0001-1.json")
        archive.write(shared_data / "osv/debian/DTSA-1-1.json", "DTSA-1-1.json")
    with zipfile.ZipFile(dump) as archive:
        info = archive.getinfo("DTSA-1-1.json")
    data = bytearray(dump.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + info.compress_size - 4):
        data[i] ^= 0x55
    dump.write_bytes(bytes(data))
    advisories = osv.iter_file(dump)
    assert next(advisories).id == "DLA-0001-1"  # read before the corrupt member
    with pytest.raises(FeedError, match=r"^osv: all\.zip!DTSA-1-1\.json: corrupt"):
        next(advisories)


def test_truncated_gzip(shared_data: Path, tmp_path: Path) -> None:
    packed = gzip.compress((shared_data / "osv/debian/DLA-0001-1.json").read_bytes())
    path = tmp_path / "DLA-0001-1.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(
        FeedError, match=r"^osv: DLA-0001-1\.json\.gz: corrupt or truncated data"
    ):
        list(osv.iter_file(path))


def test_broken_zip_archive(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(FeedError, match=r"^osv: all\.zip: not a readable zip archive"):
        list(osv.iter_file(path))
