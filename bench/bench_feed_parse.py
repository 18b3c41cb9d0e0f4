"""Parse full-size vulnerability feeds: a Debian OSV dump and a RHEL 9 OVAL file.

Run from the repository root: ``.venv/bin/python bench/bench_feed_parse.py`` (about
2 minutes; ``--quick`` a tenth of the data).  Needs ``../shared/data``
(``PATCHFLEET_SHARED_DATA``).

Builds, in a temp dir, from the real samples of the shared folder:

* an OSV per-ecosystem dump like ``Debian/all.zip``: N records (default 60,000, the
  size of Debian's), each a real OSV record (Debian, Ubuntu or Red Hat) turned
  into a Debian one: new id, ``Debian:11|12|13`` ecosystems, package names and
  versions changed per record (:func:`build_debian_osv_dump`);
* a RHEL 9 OVAL v2 "including unpatched" file, bzip2'ed as Red Hat ships it, with
  the structure of the real sample: N patch definitions (default 2,000) of ~20
  ``rpminfo`` "earlier than" tests plus their signing-key tests, and 3 x N
  per-CVE "unpatched" and "unaffected" definitions (:func:`build_rhel_oval`).

Then times ``osv.iter_file`` and ``oval.iter_oval_file`` over them, each in a fresh
interpreter so that its peak RSS (``getrusage``) is the parser's own, and prints
records/s, seconds and peak RSS against the targets (≤ 60 s, ≤ 500 MB: the
database load comes on top of the parse).  No assertions; other benchmarks import
the two builders.
"""

from __future__ import annotations

import argparse
import bz2
import json
import multiprocessing
import os
import random
import resource
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0
TARGET_RSS_MB = 500.0
DEBIAN_RELEASES = ("11", "12", "13")


def shared_data() -> Path:
    configured = os.environ.get("PATCHFLEET_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


# ------------------------------------------------------------------- OSV dump


def _osv_templates(data: Path) -> list[str]:
    """Every real OSV sample record that has an ECOSYSTEM range, as JSON text."""
    templates = []
    for path in sorted(data.glob("osv/**/*.json")):
        record = json.loads(path.read_bytes())
        if any(a.get("ranges") for a in record.get("affected", [])):
            templates.append(json.dumps(record))
    return templates


def _debianised(template: str, n: int, rng: random.Random) -> dict[str, Any]:
    """The template as Debian record number ``n``: id, ecosystems, names, versions."""
    record: dict[str, Any] = json.loads(template)
    year = 2000 + n % 26
    record["id"] = f"DEBIAN-CVE-{year}-{10000 + n}"
    record["aliases"] = [f"CVE-{year}-{10000 + n}"]
    record.pop("upstream", None)
    record["related"] = []
    for i, affected in enumerate(record.get("affected", [])):
        release = DEBIAN_RELEASES[(n + i) % len(DEBIAN_RELEASES)]
        package = affected.setdefault("package", {})
        name = f"{package.get('name', 'pkg')}-{n % 5000}"
        package.update(
            ecosystem=f"Debian:{release}",
            name=name,
            purl=f"pkg:deb/debian/{name}?arch=source",
        )
        for span in affected.get("ranges", []):
            for event in span.get("events", []):
                if "fixed" in event:
                    event["fixed"] = (
                        f"{event['fixed']}+deb{release}u{rng.randint(1, 9)}"
                    )
    return record


def build_debian_osv_dump(directory: Path, n: int = 60_000, seed: int = 1) -> Path:
    """Writes ``all.zip``: ``n`` Debian OSV records, one JSON member each.

    Args:
        directory: Where to write it.
        n: How many records (Debian's dump holds about 50,000 to 60,000).
        seed: For the version suffixes.

    Returns:
        The archive's path.
    """
    rng = random.Random(seed)
    templates = _osv_templates(shared_data())
    path = directory / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i in range(n):
            record = _debianised(templates[i % len(templates)], i, rng)
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return path


# ------------------------------------------------------------------ RHEL OVAL

_NS = (
    'xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5" '
    'xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5" '
    'xmlns:unix-def="http://oval.mitre.org/XMLSchema/oval-definitions-5#unix" '
    'xmlns:red-def="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" '
    'xmlns:ind-def="http://oval.mitre.org/XMLSchema/oval-definitions-5#independent" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
_CPES = "".join(
    f"<cpe>cpe:/{kind}:redhat:enterprise_linux:9{repo}</cpe>\n"
    for kind, repo in [
        ("a", ""),
        ("a", "::appstream"),
        ("a", "::crb"),
        ("a", "::highavailability"),
        ("a", "::nfv"),
        ("a", "::realtime"),
        ("a", "::resilientstorage"),
        ("a", "::sap"),
        ("a", "::sap_hana"),
        ("a", "::supplementary"),
        ("o", ""),
        ("o", "::baseos"),
    ]
)
_RELEASE_TESTS = (
    "oval:com.redhat.cve:tst:20052541003",  # Red Hat Enterprise Linux 9 is installed
    "oval:com.redhat.cve:tst:20052541004",  # Red Hat Enterprise Linux must be installed
)
_SIGNED_STATE = "oval:com.redhat.cve:ste:20052541001"
_GENERATOR = (
    "<generator>\n"
    "<oval:product_name>Red Hat OVAL Patch Definition Merger</oval:product_name>\n"
    "<oval:product_version>3</oval:product_version>\n"
    "<oval:schema_version>5.10</oval:schema_version>\n"
    "<oval:timestamp>2022-08-17T00:34:31</oval:timestamp>\n"
    "</generator>\n"
)


@dataclass
class _Oval:
    """The sections of the OVAL file, written to temp files and then joined."""

    definitions: IO[str]
    tests: IO[str]
    objects: IO[str]
    states: IO[str]


def _description(data: Path) -> str:
    """The real RHSA-2022:4765 description, as every definition's text."""
    import xml.etree.ElementTree as ET

    text = bz2.decompress(
        (data / "oval/rhel-9-including-unpatched.oval.xml.bz2").read_bytes()
    )
    for element in ET.fromstring(text).iter():
        if element.tag.endswith("}description") and "Firefox" in (element.text or ""):
            return element.text or ""
    return "Security Fix(es): see the CVE pages."


def _package_names(data: Path, count: int) -> list[str]:
    """``count`` rpm names: the real Red Hat sample packages, numbered."""
    bases = sorted(
        {
            affected["package"]["name"]
            for path in data.glob("osv/redhat/*.json")
            for affected in json.loads(path.read_bytes())["affected"]
        }
        | {"firefox", "thunderbird", "tar", "zlib", "zlib-devel", "kpatch-patch"}
    )
    return [
        f"{bases[i % len(bases)]}{'' if i < len(bases) else f'-{i}'}"
        for i in range(count)
    ]


def _object_id(index: int) -> str:
    return f"oval:com.redhat.cve:obj:2021{index:07d}"


def _patch(
    out: _Oval, n: int, names: list[str], tests: int, text: str, rng: random.Random
) -> None:
    rhsa = f"RHSA-{2022 + n % 3}:{1000 + n}"
    cves = [f"CVE-{2021 + n % 4}-{20000 + n * 3 + k}" for k in range(rng.randint(1, 4))]
    references = "".join(
        f'<reference ref_id="{c}" ref_url="https://access.redhat.com/security/cve/{c}" source="CVE" />\n'
        for c in cves
    )
    cve_elements = "".join(
        f'<cve cvss3="8.8/CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H" cwe="CWE-843" '
        f'href="https://access.redhat.com/security/cve/{c}" impact="important" public="20220520">{c}</cve>\n'
        for c in cves
    )
    criteria = []
    base = f"oval:com.redhat.rhsa:tst:{2022000000 + n * 100}"
    for t in range(tests):
        package_index = rng.randrange(len(names))
        name = names[package_index]
        evr = f"0:{rng.randint(1, 120)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}-{rng.randint(1, 40)}.el9_{rng.randint(0, 4)}"
        test_id = f"{base}{t:02d}"
        signed_id = f"oval:com.redhat.cve:tst:2021{package_index:07d}"
        state_id = test_id.replace(":tst:", ":ste:")
        criteria.append(
            f'<criteria operator="AND">\n'
            f'<criterion comment="{name} is earlier than {evr}" test_ref="{test_id}" />\n'
            f'<criterion comment="{name} is signed with Red Hat redhatrelease2 key" test_ref="{signed_id}" />\n'
            f"</criteria>\n"
        )
        out.tests.write(
            f'<red-def:rpminfo_test check="at least one" comment="{name} is earlier than {evr}" id="{test_id}" version="635">\n'
            f'<red-def:object object_ref="{_object_id(package_index)}" />\n'
            f'<red-def:state state_ref="{state_id}" />\n'
            f"</red-def:rpminfo_test>\n"
        )
        out.states.write(
            f'<red-def:rpminfo_state id="{state_id}" version="635">\n'
            f'<red-def:arch datatype="string" operation="pattern match">aarch64|ppc64le|s390x|x86_64</red-def:arch>\n'
            f'<red-def:evr datatype="evr_string" operation="less than">{evr}</red-def:evr>\n'
            f"</red-def:rpminfo_state>\n"
        )
    out.definitions.write(
        f'<definition class="patch" id="oval:com.redhat.rhsa:def:{2022000000 + n}" version="635">\n'
        f"<metadata>\n<title>{rhsa}: {names[n % len(names)]} security update (Important)</title>\n"
        f'<affected family="unix"><platform>Red Hat Enterprise Linux 9</platform></affected>\n'
        f'<reference ref_id="{rhsa}" ref_url="https://access.redhat.com/errata/{rhsa}" source="RHSA" />\n'
        f"{references}<description>{escape(text)}</description>\n"
        f'<advisory from="secalert@redhat.com">\n<severity>Important</severity>\n'
        f"<rights>Copyright 2022 Red Hat, Inc.</rights>\n"
        f'<issued date="2022-05-27" />\n<updated date="2022-05-27" />\n{cve_elements}'
        f"<affected_cpe_list>\n{_CPES}</affected_cpe_list>\n</advisory>\n</metadata>\n"
        f'<criteria operator="OR">\n'
        f'<criterion comment="Red Hat Enterprise Linux must be installed" test_ref="{_RELEASE_TESTS[1]}" />\n'
        f'<criteria operator="AND">\n'
        f'<criterion comment="Red Hat Enterprise Linux 9 is installed" test_ref="{_RELEASE_TESTS[0]}" />\n'
        f'<criteria operator="OR">\n{"".join(criteria)}</criteria>\n</criteria>\n</criteria>\n'
        f"</definition>\n"
    )


def _unpatched(out: _Oval, n: int, names: list[str], rng: random.Random) -> None:
    """A per-CVE definition: "Will not fix" (P is installed) or unaffected."""
    cve = f"CVE-{2005 + n % 20}-{30000 + n}"
    unaffected = n % 4 == 0
    namespace = "unaffected" if unaffected else "cve"
    title = (
        f"Unaffected components for: {cve} zlib: Double free in inflateEnd (moderate)"
        if unaffected
        else f"{cve} tar: does not properly warn the user (moderate)"
    )
    description = (
        f"Red Hat's versions of the associated software have been determined to "
        f"NOT be affected by {cve}."
        if unaffected
        else "DOCUMENTATION: Tar 1.15.1 does not properly warn the user when "
        "extracting setuid or setgid files. STATEMENT: There are currently no plans "
        "to change tar behaviour."
    )
    criteria = []
    for _ in range(rng.randint(1, 6)):
        package_index = rng.randrange(len(names))
        name = names[package_index]
        installed = f"oval:com.redhat.cve:tst:2020{package_index:07d}"
        if unaffected:
            absent = f"oval:com.redhat.unaffected:tst:2020{package_index:07d}"
            criteria.append(
                f'<criteria operator="AND">\n'
                f'<criterion comment="{name} is installed" test_ref="{installed}" />\n'
                f'<criterion comment="{name} is not installed" test_ref="{absent}" />\n'
                f"</criteria>\n"
            )
        else:
            criteria.append(
                f'<criteria operator="AND">\n'
                f'<criterion comment="{name} is installed" test_ref="{installed}" />\n'
                f'<criterion comment="{name} is signed with Red Hat redhatrelease2 key" '
                f'test_ref="oval:com.redhat.cve:tst:2021{package_index:07d}" />\n'
                f"</criteria>\n"
            )
    out.definitions.write(
        f'<definition class="vulnerability" id="oval:com.redhat.{namespace}:def:{2005000000 + n}" version="636">\n'
        f"<metadata>\n<title>{title}</title>\n"
        f'<reference ref_id="{cve}" ref_url="https://access.redhat.com/security/cve/{cve}" source="CVE" />\n'
        f"<description>{escape(description)}</description>\n"
        f'<advisory from="secalert@redhat.com">\n<severity>Moderate</severity>\n<updated date="2021-06-28" />\n'
        f'<cve cvss3="7.0/CVSS:3.1/AV:L/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H" href="https://access.redhat.com/security/cve/{cve}" impact="moderate" public="20050804">{cve}</cve>\n'
        f'<affected>\n<resolution state="Will not fix">\n<component>tar</component>\n</resolution>\n</affected>\n'
        f"<affected_cpe_list>\n{_CPES}</affected_cpe_list>\n</advisory>\n</metadata>\n"
        f'<criteria operator="OR">\n'
        f'<criterion comment="Red Hat Enterprise Linux must be installed" test_ref="{_RELEASE_TESTS[1]}" />\n'
        f'<criteria operator="AND">\n'
        f'<criterion comment="Red Hat Enterprise Linux 9 is installed" test_ref="{_RELEASE_TESTS[0]}" />\n'
        f'<criteria operator="OR">\n{"".join(criteria)}</criteria>\n</criteria>\n</criteria>\n'
        f"</definition>\n"
    )


def _shared_elements(out: _Oval, names: list[str]) -> None:
    """Release tests, per-package objects and the "installed"/"signed" tests."""
    out.tests.write(
        f'<red-def:rpmverifyfile_test check="at least one" comment="Red Hat Enterprise Linux 9 is installed" id="{_RELEASE_TESTS[0]}" version="636">\n'
        f'<red-def:object object_ref="oval:com.redhat.cve:obj:20052541002" />\n'
        f'<red-def:state state_ref="oval:com.redhat.cve:ste:20052541002" />\n</red-def:rpmverifyfile_test>\n'
        f'<red-def:rpmverifyfile_test check="none satisfy" comment="Red Hat Enterprise Linux must be installed" id="{_RELEASE_TESTS[1]}" version="636">\n'
        f'<red-def:object object_ref="oval:com.redhat.cve:obj:20052541002" />\n'
        f'<red-def:state state_ref="oval:com.redhat.cve:ste:20052541003" />\n</red-def:rpmverifyfile_test>\n'
    )
    for i, name in enumerate(names):
        obj = _object_id(i)
        out.tests.write(
            f'<red-def:rpminfo_test check="at least one" comment="{name} is signed with Red Hat redhatrelease2 key" id="oval:com.redhat.cve:tst:2021{i:07d}" version="636">\n'
            f'<red-def:object object_ref="{obj}" />\n<red-def:state state_ref="{_SIGNED_STATE}" />\n</red-def:rpminfo_test>\n'
            f'<red-def:rpminfo_test check="at least one" comment="{name} is installed" id="oval:com.redhat.cve:tst:2020{i:07d}" version="636">\n'
            f'<red-def:object object_ref="{obj}" />\n</red-def:rpminfo_test>\n'
            f'<red-def:rpminfo_test check="at least one" check_existence="none_exist" comment="{name} is not installed" id="oval:com.redhat.unaffected:tst:2020{i:07d}" version="635">\n'
            f'<red-def:object object_ref="{obj}" />\n</red-def:rpminfo_test>\n'
        )
        out.objects.write(
            f'<red-def:rpminfo_object id="{obj}" version="636">\n<red-def:name>{escape(name)}</red-def:name>\n</red-def:rpminfo_object>\n'
        )
    out.objects.write(
        '<red-def:rpmverifyfile_object id="oval:com.redhat.cve:obj:20052541002" version="636">\n'
        '<red-def:behaviors noconfigfiles="true" noghostfiles="true" nogroup="true" nolinkto="true" nomd5="true" nomode="true" nomtime="true" nordev="true" nosize="true" nouser="true" />\n'
        '<red-def:name operation="pattern match" />\n<red-def:epoch operation="pattern match" />\n'
        '<red-def:version operation="pattern match" />\n<red-def:release operation="pattern match" />\n'
        '<red-def:arch operation="pattern match" />\n<red-def:filepath>/etc/redhat-release</red-def:filepath>\n'
        "</red-def:rpmverifyfile_object>\n"
    )
    out.states.write(
        '<red-def:rpmverifyfile_state id="oval:com.redhat.cve:ste:20052541002" version="636">\n'
        '<red-def:name operation="pattern match">^redhat-release</red-def:name>\n'
        '<red-def:version operation="pattern match">^9[^\\d]</red-def:version>\n</red-def:rpmverifyfile_state>\n'
        '<red-def:rpmverifyfile_state id="oval:com.redhat.cve:ste:20052541003" version="636">\n'
        '<red-def:name operation="pattern match">^redhat-release</red-def:name>\n</red-def:rpmverifyfile_state>\n'
        f'<red-def:rpminfo_state id="{_SIGNED_STATE}" version="636">\n'
        '<red-def:signature_keyid operation="equals">199e2f91fd431d51</red-def:signature_keyid>\n</red-def:rpminfo_state>\n'
    )


def build_rhel_oval(
    directory: Path,
    n: int = 2_000,
    *,
    tests_per_definition: int = 20,
    unpatched: int | None = None,
    seed: int = 1,
) -> Path:
    """Writes ``rhel-9-including-unpatched.oval.xml.bz2`` shaped like Red Hat's.

    Args:
        directory: Where to write it.
        n: Patch (RHSA) definitions.
        tests_per_definition: ``rpminfo`` "earlier than" tests per patch, each with
            its signing-key test.
        unpatched: Per-CVE definitions ("Will not fix", and every fourth one
            "Unaffected components"); ``3 * n`` when None.
        seed: For package choice and versions.

    Returns:
        The file's path.
    """
    rng = random.Random(seed)
    data = shared_data()
    text = _description(data)
    names = _package_names(data, 3_000)
    path = directory / "rhel-9-including-unpatched.oval.xml.bz2"
    with tempfile.TemporaryDirectory(dir=directory) as scratch, ExitStack() as stack:
        out = _Oval(
            *(
                stack.enter_context(Path(scratch, part).open("w+", encoding="utf-8"))
                for part in ("definitions", "tests", "objects", "states")
            )
        )
        _shared_elements(out, names)
        for i in range(n):
            _patch(out, i, names, tests_per_definition, text, rng)
        for i in range(3 * n if unpatched is None else unpatched):
            _unpatched(out, i, names, rng)
        with bz2.open(path, "wt", encoding="utf-8", compresslevel=9) as sink:
            sink.write(
                f'<?xml version="1.0" encoding="utf-8"?>\n<oval_definitions {_NS}>\n'
            )
            sink.write(_GENERATOR)
            for tag, part in (
                ("definitions", out.definitions),
                ("tests", out.tests),
                ("objects", out.objects),
                ("states", out.states),
            ):
                sink.write(f"<{tag}>\n")
                part.seek(0)
                shutil.copyfileobj(part, sink)
                sink.write(f"</{tag}>\n")
            sink.write("</oval_definitions>\n")
    return path


# -------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measured:
    """One parse: what it read, how long it took, the child's peak RSS."""

    advisories: int
    packages: int
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _parse(kind: str, path: str) -> Measured:
    """Runs in a fresh interpreter: the RSS is the parser's alone."""
    from patchfleet.server.feeds import osv, oval

    before = _rss_mb()
    start = time.perf_counter()
    parse = osv.iter_file if kind == "osv" else oval.iter_oval_file
    advisories = packages = 0
    for advisory in parse(Path(path)):
        advisories += 1
        packages += len(advisory.affected)
    return Measured(
        advisories, packages, time.perf_counter() - start, before, _rss_mb()
    )


def measure(kind: str, path: Path) -> Measured:
    """Parses ``path`` with the ``osv`` or ``oval`` parser in a spawned process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_parse, kind, str(path)).result()


def _uncompressed_mb(path: Path) -> float:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(i.file_size for i in archive.infolist()) / 1e6
    size = 0
    with bz2.open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
    return size / 1e6


def _verdict(m: Measured) -> str:
    ok = m.seconds <= TARGET_SECONDS and m.rss_peak_mb <= TARGET_RSS_MB
    return "[green]met[/green]" if ok else "[red]missed[/red]"


def _rows(
    args: argparse.Namespace, directory: Path, console: Console
) -> Iterator[tuple[str, ...]]:
    builds = [
        (
            "OSV Debian all.zip",
            "osv",
            lambda: build_debian_osv_dump(directory, args.osv_records),
        ),
        (
            "OVAL RHEL 9 v2 .bz2",
            "oval",
            lambda: build_rhel_oval(
                directory,
                args.oval_definitions,
                tests_per_definition=args.tests_per_definition,
            ),
        ),
    ]
    for label, kind, build in builds:
        start = time.perf_counter()
        path = build()
        built = time.perf_counter() - start
        size = f"{path.stat().st_size / 1e6:,.1f} → {_uncompressed_mb(path):,.0f}"
        console.print(f"built {path.name} ({size} MB) in {built:.1f} s; parsing…")
        m = measure(kind, path)
        yield (
            label,
            size,
            f"{m.advisories:,}",
            f"{m.packages:,}",
            f"{m.seconds:.1f}",
            f"{m.advisories / m.seconds:,.0f}",
            f"{m.rss_before_mb:,.0f} → {m.rss_peak_mb:,.0f}",
            _verdict(m),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osv-records", type=int, default=60_000)
    parser.add_argument(
        "--oval-definitions", type=int, default=2_000, help="patch definitions"
    )
    parser.add_argument("--tests-per-definition", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a tenth of the data")
    parser.add_argument("--keep", type=Path, help="build the files here and keep them")
    args = parser.parse_args()
    if args.quick:
        args.osv_records //= 10
        args.oval_definitions //= 10

    console = Console()
    table = Table(
        title="Feed parsers on full-size synthetic feeds (built from the real samples)"
    )
    for name in (
        "feed",
        "MB packed → unpacked",
        "advisories",
        "packages",
        "seconds",
        "adv/s",
        "RSS MB start → peak",
        "≤ 60 s, ≤ 500 MB",
    ):
        table.add_column(name, justify="left" if name == "feed" else "right")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        rows = list(_rows(args, args.keep, console))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-feeds-") as directory:
            rows = list(_rows(args, Path(directory), console))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        "Parse only, in a fresh interpreter per feed; the database load adds to both "
        f"figures. Samples from {shared_data()}."
    )


if __name__ == "__main__":
    main()
