"""The OVAL parser over the real Red Hat, Ubuntu and SUSE files in ../shared/data.

Facts asserted below are read from those files (see their README.md); only the
bad-input tests write small payloads of their own.
"""

from __future__ import annotations

import bz2
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchfleet.core.advisories import Advisory, AffectedPackage
from patchfleet.core.versions import Scheme
from patchfleet.server.feeds import oval, sources
from patchfleet.server.feeds.errors import FeedError

# Collection needs the sample list before fixtures exist: same lookup as the
# ``shared_data`` fixture (tests/conftest.py), which the tests then use.
_DATA = Path(
    os.environ.get("PATCHFLEET_SHARED_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "data"
)
OVAL_SAMPLES = sorted(p.name for p in _DATA.glob("oval/*") if p.is_file())


def advisories(shared_data: Path, name: str) -> dict[str, Advisory]:
    found = {a.id: a for a in oval.iter_oval_file(shared_data / "oval" / name)}
    assert len(found) == len(list(oval.iter_oval_file(shared_data / "oval" / name)))
    return found


def rpm(release: str, package: str, fixed: str = "", **kw: bool) -> AffectedPackage:
    return AffectedPackage(release, package, Scheme.RPM, fixed=fixed, **kw)


def deb(release: str, package: str, fixed: str = "") -> AffectedPackage:
    return AffectedPackage(release, package, Scheme.DEB, fixed=fixed)


# ------------------------------------------------------------------- every sample


def test_the_samples_are_found(shared_data: Path) -> None:
    assert _DATA.resolve() == shared_data.resolve()
    assert len(OVAL_SAMPLES) >= 5


@pytest.mark.parametrize("name", OVAL_SAMPLES)
def test_every_sample_parses(shared_data: Path, name: str) -> None:
    path = shared_data / "oval" / name
    found = list(oval.iter_oval_file(path))
    assert found
    with sources.open_stream(path, "oval") as stream:
        assert list(oval.iter_oval(stream, name)) == found
    for advisory in found:
        assert advisory.source == "oval"
        assert advisory.cves
        assert advisory.affected
        for package in advisory.affected:
            assert package.release
            assert package.package
            assert not package.fixed.startswith("0:")


# --------------------------------------------------------------------- Red Hat


def test_rhsa_2023_1659_kpatch_v1(shared_data: Path) -> None:
    (rhsa,) = advisories(shared_data, "com.redhat.rhsa-20231659.xml").values()
    assert rhsa.id == "RHSA-2023:1659"
    assert rhsa.cves == (
        "CVE-2022-4378",
        "CVE-2023-0266",
        "CVE-2023-0386",
        "CVE-2023-1476",
    )
    assert rhsa.severity == "Important"
    assert rhsa.summary == "RHSA-2023:1659: kpatch-patch security update (Important)"
    assert rhsa.url == "https://access.redhat.com/errata/RHSA-2023:1659"
    assert rhsa.published == datetime(2023, 4, 5, tzinfo=UTC)
    # evr "less than" states only: the kernel "equals" checks, the signing-key and
    # "kpatch-patch not installed" tests state no fix.
    assert rhsa.affected == (
        rpm("rhel:8", "kpatch-patch-4_18_0-425_3_1", "1-6.el8"),
        rpm("rhel:8", "kpatch-patch-4_18_0-425_10_1", "1-4.el8_7"),
        rpm("rhel:8", "kpatch-patch-4_18_0-425_13_1", "1-2.el8_7"),
    )


def test_rhel9_v2_patch_definitions(shared_data: Path) -> None:
    found = advisories(shared_data, "rhel-9-including-unpatched.oval.xml.bz2")
    firefox = found["RHSA-2022:4765"]
    assert firefox.cves == ("CVE-2022-1529", "CVE-2022-1802")
    assert firefox.affected == (rpm("rhel:9", "firefox", "91.9.1-1.el9_0"),)
    assert firefox.severity == "Critical"
    assert firefox.url == "https://access.redhat.com/errata/RHSA-2022:4765"
    thunderbird = found["RHSA-2022:4772"]
    assert thunderbird.cves == ("CVE-2022-1529", "CVE-2022-1802")
    assert thunderbird.affected == (rpm("rhel:9", "thunderbird", "91.9.1-1.el9_0"),)


def test_rhel9_v2_unpatched_and_unaffected(shared_data: Path) -> None:
    found = advisories(shared_data, "rhel-9-including-unpatched.oval.xml.bz2")
    assert set(found) == {
        "CVE-2005-2541@rhel:9",
        "CVE-2002-0059@rhel:9",
        "RHSA-2022:4765",
        "RHSA-2022:4772",
    }
    tar = found["CVE-2005-2541@rhel:9"]  # resolution "Will not fix"
    assert tar.cves == ("CVE-2005-2541",)
    assert tar.affected == (rpm("rhel:9", "tar", ""),)
    assert tar.severity == "Moderate"
    assert tar.url == "https://access.redhat.com/security/cve/CVE-2005-2541"
    zlib = found["CVE-2002-0059@rhel:9"]  # "Unaffected components for: …"
    assert zlib.cves == ("CVE-2002-0059",)
    assert {p.package for p in zlib.affected} == {
        "zlib",
        "zlib-devel",
        "zlib-static",
        "zlib-debugsource",
    }
    assert all(p.not_affected and p.fixed == "" for p in zlib.affected)
    assert all(p.release == "rhel:9" for p in zlib.affected)


# ---------------------------------------------------------------------- Ubuntu


def test_jammy_cve_oval_terrapin(shared_data: Path) -> None:
    found = advisories(shared_data, "oci.com.ubuntu.jammy.cve.oval.xml.bz2")
    (terrapin,) = found.values()
    assert terrapin.id == "CVE-2023-48795@ubuntu:22.04"
    assert terrapin.cves == ("CVE-2023-48795",)
    # Source packages, named by "The 'openssh' package binaries"; the tests list
    # binaries (openssh-client, ssh…).  The libssh state reads 0:0.9.6-….
    assert terrapin.affected == (
        deb("ubuntu:22.04", "openssh", "1:8.9p1-3ubuntu0.5"),
        deb("ubuntu:22.04", "libssh", "0.9.6-2ubuntu0.22.04.2"),
    )
    assert terrapin.severity == "Medium"
    assert terrapin.published == datetime(2023, 12, 18, 15, 0, tzinfo=UTC)
    assert terrapin.summary == "CVE-2023-48795 on Ubuntu 22.04 LTS (jammy) - medium"


def test_jammy_package_oval_is_split_per_cve(shared_data: Path) -> None:
    found = advisories(shared_data, "oci.com.ubuntu.jammy.pkg.oval.xml.bz2")
    (terrapin,) = found.values()  # both package definitions list CVE-2023-48795
    assert terrapin.id == "CVE-2023-48795@ubuntu:22.04"
    assert set(terrapin.affected) == {
        deb("ubuntu:22.04", "openssh", "1:8.9p1-3ubuntu0.5"),
        deb("ubuntu:22.04", "libssh", "0.9.6-2ubuntu0.22.04.2"),
    }
    assert terrapin.severity == "medium"
    assert terrapin.url == "https://ubuntu.com/security/CVE-2023-48795"


# ------------------------------------------------------------------------ SUSE


def test_sles15_affected_not_affected_kernels(shared_data: Path) -> None:
    found = advisories(shared_data, "suse.linux.enterprise.15-affected.xml.gz")
    # The trimmed file keeps 2 of the tests; CVE-1999-0195's rpcbind test is gone.
    (cve,) = found.values()
    assert cve.id == "CVE-1999-0077@sles:15"
    assert cve.cves == ("CVE-1999-0077",)
    assert cve.severity == "Moderate"
    assert rpm("sles:15", "kernel-default", not_affected=True) in cve.affected
    assert rpm("sles:15", "kernel-default-base", not_affected=True) in cve.affected
    assert rpm("sles-ltss:15", "kernel-default-base", not_affected=True) in cve.affected
    assert all(p.not_affected for p in cve.affected)
    assert {p.release for p in cve.affected} <= {
        "sles:15",
        "sles-ltss:15",
        "sles_sap:15",
        "sled:15",
    }


# ------------------------------------------------------------------- products


@pytest.mark.parametrize(
    ("product", "release"),
    [
        ("Red Hat Enterprise Linux 9", "rhel:9"),
        ("Red Hat Enterprise Linux 8", "rhel:8"),
        ("Red Hat CoreOS 4", ""),
        ("Ubuntu 22.04 LTS", "ubuntu:22.04"),
        ("Ubuntu 24.10", "ubuntu:24.10"),
        ("Debian GNU/Linux 12", "debian:12"),
        ("SUSE Linux Enterprise Server 15 SP3", "sles:15"),
        ("SUSE Linux Enterprise Server 15", "sles:15"),
        ("SUSE Linux Enterprise Server 15-LTSS", "sles-ltss:15"),
        ("SUSE Linux Enterprise Server 15 SP2-LTSS", "sles-ltss:15"),
        ("SUSE Linux Enterprise Module for Basesystem 15 SP4", "sles:15"),
        ("SUSE Linux Enterprise Server for SAP Applications 15 SP1", "sles_sap:15"),
        ("SUSE Linux Enterprise Desktop 15 SP4", "sled:15"),
        ("SUSE Linux Enterprise High Performance Computing 15 SP2-ESPOS", ""),
        ("SUSE Linux Enterprise Real Time 15 SP2", ""),
        ("SUSE Manager Server 4.3", ""),
        ("Open Enterprise Server 23.4", ""),
    ],
)
def test_release_of_product(product: str, release: str) -> None:
    assert oval.release_of_product(product) == release


@pytest.mark.parametrize(
    ("codename", "release"),
    [
        ("xenial", "ubuntu:16.04"),
        ("bionic", "ubuntu:18.04"),
        ("focal", "ubuntu:20.04"),
        ("jammy", "ubuntu:22.04"),
        ("noble", "ubuntu:24.04"),
        ("Jammy", "ubuntu:22.04"),
        ("bookworm", ""),
    ],
)
def test_ubuntu_codenames(codename: str, release: str) -> None:
    assert oval.ubuntu_release(codename) == release


# ------------------------------------------------------------------- bad input


def parse(data: bytes, where: str = "bad.xml") -> list[Advisory]:
    return list(oval.iter_oval(io.BytesIO(data), where))


def test_truncated_xml_names_line_and_column(shared_data: Path) -> None:
    data = (shared_data / "oval/com.redhat.rhsa-20231659.xml").read_bytes()[:3000]
    with pytest.raises(
        FeedError,
        match=r"^oval: bad\.xml: malformed or truncated XML: .*line \d+, column \d+",
    ):
        parse(data)


def test_truncated_compressed_file(shared_data: Path, tmp_path: Path) -> None:
    packed = (shared_data / "oval/rhel-9-including-unpatched.oval.xml.bz2").read_bytes()
    path = tmp_path / "rhel-9.oval.xml.bz2"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(
        FeedError,
        match=r"^oval: rhel-9\.oval\.xml\.bz2: corrupt or truncated compressed",
    ):
        list(oval.iter_oval_file(path))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5">&lol9;</oval_definitions>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE oval_definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5">
<definitions><definition id="x" class="patch"><metadata><title>&xxe;</title></metadata>
</definition></definitions></oval_definitions>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE oval_definitions SYSTEM "http://example.invalid/oval.dtd">
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"/>
"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["bomb", "xxe", "dtd"]
)
def test_entities_and_dtds_are_refused(data: bytes) -> None:
    with pytest.raises(
        FeedError, match=r"^oval: bad\.xml: XML entities/DTD are not allowed"
    ):
        parse(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"",
            "oval: bad.xml: malformed or truncated XML: no element found: line 1, column 0",
        ),
        (
            b"not xml at all",
            "oval: bad.xml: malformed or truncated XML: syntax error: line 1, column 0",
        ),
        (
            b'{"id": "DSA-1"}',
            "oval: bad.xml: malformed or truncated XML: not well-formed (invalid token): line 1, column 0",
        ),
        (
            b"<html><body/></html>",
            "oval: bad.xml: not an OVAL definitions document (root <html>)",
        ),
        (
            b"<oval_definitions><definitions>&undefined;",
            "oval: bad.xml: malformed or truncated XML: undefined entity",
        ),
    ],
)
def test_documents_that_are_not_oval(data: bytes, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse(data)
    assert str(caught.value).startswith(message), str(caught.value)


def test_deeply_nested_criteria() -> None:
    nested = b"<criteria>" * 100 + b"</criteria>" * 100
    data = (
        b'<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5">'
        b'<definitions><definition id="oval:x:def:1" class="patch">'
        + nested
        + b"</definition></definitions></oval_definitions>"
    )
    with pytest.raises(
        FeedError, match=r"^oval: bad\.xml: criteria nested deeper than 64 levels$"
    ):
        parse(data)


def test_without_where_the_message_has_no_location(shared_data: Path) -> None:
    data = bz2.decompress(
        (shared_data / "oval/oci.com.ubuntu.jammy.cve.oval.xml.bz2").read_bytes()
    )
    with pytest.raises(FeedError, match=r"^oval: malformed or truncated XML"):
        list(oval.iter_oval(io.BytesIO(data[:-200])))
