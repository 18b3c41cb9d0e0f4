"""Tables and properties for patchfleet.core.versions.

Rows come from TESTLAB §7, dpkg's ``lib/dpkg/t/t-version.c``, apt's
``test/versions.lst``, rpm's ``tests/rpmvercmp.at`` and real Debian and RHEL versions.
Every expected value was checked against ``dpkg --compare-versions`` 1.21 and
``rpm.vercmp`` of rpm 4.18; ``tests/lab/test_versions_oracle.py`` keeps doing that on
thousands of real pairs.
"""

from __future__ import annotations

import functools
import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchfleet.core.versions import (
    Scheme,
    VersionError,
    VersionKey,
    compare,
    compare_deb,
    compare_rpm,
    deb_key,
    rpm_key,
    sort_key,
)

OPS = {"<": -1, "=": 0, ">": 1}


def case(a: str, op: str, b: str, why: str = "") -> object:
    """One table row: ``a op b``, with a readable id."""
    label = f"{a!r} {op} {b!r}" + (f" [{why}]" if why else "")
    return pytest.param(a, b, OPS[op], id=label)


# ----------------------------------------------------------------------------- dpkg

DEB_CASES = [
    # TESTLAB §7
    case("1.0~rc1", "<", "1.0", "tilde before release"),
    case("1:0.9", ">", "2.0", "epoch wins"),
    case("2:1.0", ">", "1:9.9", "bigger epoch wins"),
    case("0:1.0", "=", "1.0", "epoch 0 is no epoch"),
    case("1.0-1", "<", "1.0-1+deb12u1", "stable update"),
    case("1.0-1~bpo12+1", "<", "1.0-1", "backport"),
    case("1.0+dfsg-1", ">", "1.0-1", "repacked upstream"),
    case("2.0a", "<", "2.0+", "letters before non-letters"),
    case("1.0", "=", "1.0-0", "no revision is revision 0"),
    case("1.0~~", "<", "1.0~", "double tilde"),
    case("1.01", "=", "1.1", "leading zero"),
    case("1.0.0", ">", "1.0", "longer wins"),
    case("9.2p1", ">", "9.2", "openssh style"),
    case("5.2.15-2+b8", "<", "5.2.15-2+b13", "binNMU numbers"),
    case("1:2.66-4+deb12u2+b2", "<", "1:2.66-4+deb12u3+b1", "update beats binNMU"),
    # apt test/versions.lst (cupt's cases included)
    case("7.6p2-4", ">", "7.6-0"),
    case("1.0.3-3", ">", "1.0-1"),
    case("1.3", ">", "1.2.2-2"),
    case("1.3", ">", "1.2.2"),
    case("a", "<", ".", "letter before dot"),
    case("z", "<", ".", "any letter before dot"),
    case("1:0.4", ">", "10.3"),
    case("1:1.25-4", "<", "1:1.25-8"),
    case("0:1.18.36", "=", "1.18.36"),
    case("1.18.36", ">", "1.18.35"),
    case("0:1.18.36", ">", "1.18.35"),
    case("9:1.18.36:5.4-20", "<", "10:0.5.1-22", "colon in upstream"),
    case("9:1.18.36:5.4-20", "<", "9:1.18.36:5.5-1"),
    case("9:1.18.36:5.4-20", "<", "9:1.18.37:4.3-22"),
    case("1.18.36-0.17.35-18", ">", "1.18.36-19", "hyphen in upstream"),
    case("1:1.2.13-3", "<", "1:1.2.13-3.1"),
    case("2.0.7pre1-4", "<", "2.0.7r-1"),
    case("0-pre", "=", "0-pre"),
    case("0-pre", "<", "0-pree"),
    case("1.1.6r2-2", ">", "1.1.6r-1"),
    case("2.6b2-1", ">", "2.6b-2"),
    case("98.1p5-1", "<", "98.1-pre2-b6-2"),
    case("0.4a6-2", ">", "0.4-1"),
    case("1:3.0.5-2", "<", "1:3.0.5.1"),
    case("III-alpha9.8", "<", "III-alpha9.8-1.5", "upstream starts with a letter"),
    case("3.0~rc1-1", "<", "3.0-1"),
    case("0.2", "<", "1.0-0"),
    case("1.0", "<", "1.0-0+b1"),
    case("1.0", ">", "1.0-0~"),
    case("0:0-0-0", ">", "0-0"),
    case("0", "=", "0"),
    case("0", "=", "00"),
    case("1.2.3", "=", "1.2.3"),
    case("4.4.3-2", "=", "4.4.3-2"),
    case("1:2ab:5", "=", "1:2ab:5"),
    case("7:1-a:b-5", "=", "7:1-a:b-5"),
    case("57:1.2.3abYZ+~-4-5", "=", "57:1.2.3abYZ+~-4-5"),
    case("1.2.3", "=", "0:1.2.3"),
    case("1.2.3", "=", "1.2.3-0"),
    case("009", "=", "9"),
    case("009ab5", "=", "9ab5"),
    case("1.2.3", "<", "1.2.3-1"),
    case("1.2.3", "<", "1.2.4"),
    case("1.2.4", ">", "1.2.3"),
    case("1.2.24", ">", "1.2.3"),
    case("0.10.0", ">", "0.8.7"),
    case("3.2", ">", "2.3"),
    case("1.3.2a", ">", "1.3.2"),
    case("0.5.0~git", "<", "0.5.0~git2"),
    case("2a", "<", "21"),
    case("1.3.2a", "<", "1.3.2b"),
    case("1:1.2.3", ">", "1.2.4"),
    case("1:1.2.3", "<", "1:1.2.4"),
    case("1.2a+~bCd3", "<", "1.2a++"),
    case("1.2a+~bCd3", ">", "1.2a+~"),
    case("5:2", ">", "304-2"),
    case("5:2", "<", "304:2"),
    case("25:2", ">", "3:2"),
    case("1:2:123", "<", "1:12:3"),
    case("1.2-5", "<", "1.2-3-5"),
    case("5.10.0", ">", "5.005"),
    case("3a9.8", "<", "3.10.2"),
    case("3a9.8", ">", "3~10"),
    case("1.4+OOo3.0.0~", "<", "1.4+OOo3.0.0-4"),
    case("2.4.7-1", "<", "2.4.7-z"),
    case("1.002-1+b2", ">", "1.00"),
    # dpkg lib/dpkg/t/t-version.c
    case("0-1", "<", "0-2", "revision differs"),
    case("1-1", "<", "2-1", "upstream differs"),
    case("0-00", "=", "00-0"),
    case("1:2-3", "=", "1:2-3"),
    case("0-0", "<", "1:0-0"),
    case("a-0", "<", "b-0"),
    case("0-a", "<", "0-b"),
    case("0", "=", "0:0"),
    case("0:0-0", "=", "0"),
    case("0:0.0-0.0", "=", "0.0-0.0"),
    case("1:0", ">", "0:9"),
    case("5:1", "=", "05:1"),
    case("0:0-0-0", "=", "0-0-0"),
    case("0:0-0-0-0", ">", "0:0-0-0"),
    case("0:0:0-0", ">", "0:0.0-0", "colon above dot"),
    case("0:0:0:0-0", ">", "0:0:0-0"),
    case("0:0:0-0-0", ">", "0:0:0-0"),
    case("0:0-0:0-0", ">", "0:0-0-0"),
    case("0:09azAZ.-+~:-0", "=", "0:9azAZ.-+~:-0", "every upstream char"),
    case("0:0-azAZ09.+~", "=", "0-azAZ09.+~", "every revision char"),
    case("  \t0:0-1", "=", "0:0-1", "leading blanks"),
    case("0:0-1\t  ", "=", "0:0-1", "trailing blanks"),
    case("\t  0:0-1  \t", "=", "0-1", "blanks both sides"),
    case("0:abc3-0", "<", "0:abc4-0", "no leading digit: a dpkg warning only"),
    # Debian policy 5.6.12: ~~ < ~~a < ~ < (end) < a
    case("1.0~~", "<", "1.0~~a"),
    case("1.0~~a", "<", "1.0~"),
    case("1.0~", "<", "1.0"),
    case("1.0", "<", "1.0a"),
    case("1.0~~", "<", "1.0a"),
    case("~1", "<", "1", "tilde before digit"),
    case("~", "<", "0~", "tilde alone"),
    case("1.0~rc1", "<", "1.0~rc2"),
    case("1.0~rc10", ">", "1.0~rc9"),
    case("1.0~beta", "<", "1.0~rc"),
    case("1.0~rc1~git5", "<", "1.0~rc1"),
    case("1.0~rc1+git5", ">", "1.0~rc1"),
    case("1.0-1~", "<", "1.0-1", "tilde in revision"),
    case("1.0-1~~", "<", "1.0-1~"),
    # letters and separators
    case("1.0a", "<", "1.0+", "letter before plus"),
    case("1.0a", "<", "1.0.", "letter before dot"),
    case("1.0~", "<", "1.0z", "tilde before letters"),
    case("1.0A", "<", "1.0a", "upper before lower"),
    case("1.0Z", "<", "1.0a"),
    case("1.0+", "<", "1.0.", "plus before dot"),
    case("1.0+1", "<", "1.0.1"),
    case("1:1.0:", ">", "1:1.0.", "colon after dot"),
    case("1.0-1-1", "<", "1.0.1-1", "hyphen before dot"),
    case("1:1.0-1-1", ">", "1:1.0+1-1", "hyphen after plus"),
    case("1.0a1", "<", "1.0b", "alpha run compared first"),
    case("1.0ab", ">", "1.0a", "longer alpha run"),
    case("1.0a.1", ">", "1.0aa", "dot sorts above a letter"),
    # leading zeros and numbers
    case("1.001", "=", "1.1"),
    case("1.000", "=", "1.0"),
    case("1.0010", ">", "1.009"),
    case("01", "=", "1"),
    case("1:1.0", "=", "01:1.0", "leading zero in epoch"),
    case("000:1", "=", "1"),
    case("1.10", ">", "1.9", "numeric, not lexical"),
    case("1.9", "<", "1.10"),
    case("10", ">", "9"),
    case("1.20230101", ">", "1.9"),
    case("1.99999999999999999999999", ">", "1.99999999999999999999998", "past 64 bits"),
    case("1.0-0.1", ">", "1.0"),
    case("1.0-2", "<", "1.0-10", "revision 2 vs 10"),
    case("1.0-1", ">", "1.0"),
    case("1.0-1", "=", "1.0-01"),
    case("1.0-1+b1", ">", "1.0-1"),
    case("1.0-1ubuntu1", ">", "1.0-1"),
    case("1.0-1ubuntu1", "<", "1.0-1+deb12u1", "letter before plus in revision"),
    # trailing separators and empty runs
    case("1.0.", ">", "1.0", "trailing dot"),
    case("1.", "=", "1.0", "empty digit run is zero"),
    case("1.0a", "=", "1.0a0", "empty digit run is zero"),
    case("1.0+", ">", "1.0"),
    case("1.0.", "=", "1.0.0"),
    case("1.0-0.", ">", "1.0-0"),
    # epochs
    case("1:1.0", ">", "9.9"),
    case("2:0", ">", "1:99"),
    case("0:1", "=", "1"),
    case("10:1", ">", "9:1", "epoch numeric"),
    case("2147483647:1", ">", "2147483646:9", "largest epoch"),
    case("0000000000000000001:1", "=", "1:1", "zeros do not make an epoch big"),
    case("+1:1", "=", "1:1", "strtol takes a sign"),
    case("1", "=", "-0:1", "strtol: minus zero"),
    case("\n1:1", "=", "1:1", "strtol skips isspace before the epoch"),
    # real Debian and Ubuntu versions
    case("2.36-9+deb12u4", "<", "2.36-9+deb12u10"),
    case("7.88.1-10+deb12u5", "<", "7.88.1-10+deb12u12"),
    case("1:9.2p1-2+deb12u2", "<", "1:9.2p1-2+deb12u3"),
    case("6.1.76-1", "<", "6.1.112-1"),
    case("3.0.11-1~deb12u2", "<", "3.0.15-1~deb12u1"),
    case("2.9.14+dfsg-1.3~deb12u1", "<", "2.9.14+dfsg-1.3"),
    case("1:9.18.28-1~deb12u2", ">", "1:9.18.24-1"),
    case("252.30-1~deb12u2", "<", "252.31-1~deb12u1"),
    case("2.35-0ubuntu3.6", "<", "2.35-0ubuntu3.10"),
    case("1:8.9p1-3ubuntu0.10", ">", "1:8.9p1-3ubuntu0.6"),
    case("5.15.0-91.101", "<", "5.15.0-101.111"),
    case("1.2.11.dfsg-2+deb11u2", "<", "1:1.2.13.dfsg-1"),
    case("2:8.2.3995-1ubuntu2.15", ">", "2:8.2.3995-1ubuntu2"),
    case("0.0~git20230101.abcdef-1", "<", "0.0~git20230201.123456-1"),
    case("1.0+really0.9-1", ">", "1.0-1", "really trick"),
    case("20230101", ">", "2023.01.01", "date as one number"),
]

DEB_INVALID = [
    pytest.param("", "empty", id="empty"),
    pytest.param("   ", "empty", id="blanks only"),
    pytest.param("\t", "empty", id="tab only"),
    pytest.param("1.0 1", "embedded whitespace", id="embedded space"),
    pytest.param("0:0 0-1", "embedded whitespace", id="t-version embedded space"),
    pytest.param("1.0\t1", "embedded whitespace", id="embedded tab"),
    pytest.param(":1.0", "epoch is empty", id="empty epoch"),
    pytest.param("a:1.0", "not a number", id="letter epoch"),
    pytest.param("A:0-0", "not a number", id="upper letter epoch"),
    pytest.param("1a:1.0", "not a number", id="epoch with letter"),
    pytest.param("1.0-1:1", "not a number", id="colon in revision without epoch"),
    pytest.param("+-0:1", "not a number", id="two signs"),
    pytest.param("-1:0-1", "negative", id="negative epoch"),
    pytest.param("2147483648:1", "too big", id="epoch over INT_MAX"),
    pytest.param("999999999999999999999999:0-1", "too big", id="huge epoch"),
    pytest.param("1" * 5000 + ":1", "too big", id="5000-digit epoch"),
    pytest.param("1:", "nothing after", id="nothing after colon"),
    pytest.param("0:", "nothing after", id="t-version nothing after colon"),
    pytest.param("1.0-", "revision is empty", id="empty revision"),
    pytest.param("0:0-", "revision is empty", id="empty revision after epoch"),
    pytest.param("-0", "upstream version is empty", id="empty upstream"),
    pytest.param("0:-0", "upstream version is empty", id="empty upstream after epoch"),
    pytest.param("1:-1", "upstream version is empty", id="epoch then hyphen"),
    pytest.param("1.0_1", "'_' in upstream", id="underscore"),
    pytest.param("1é", "'é' in upstream", id="non-ASCII letter"),
    pytest.param("\n1.0", "'\\n' in upstream", id="newline is not a blank"),
    pytest.param("1.0\r", "'\\r' in upstream", id="carriage return"),
    pytest.param("1.0\x00", "'\\x00' in upstream", id="NUL"),
    pytest.param("0:0-0:0", "':' in revision", id="colon in revision"),
    pytest.param("1" * 5000, "too long", id="5000-digit run"),
    *(
        pytest.param(f"0:0{c}-0", f"{c!r} in upstream", id=f"upstream char {c}")
        for c in "!#@$%&/|\\<>()[]{};,_=*^'"
    ),
    *(
        pytest.param(f"0:0-0{c}", f"{c!r} in revision", id=f"revision char {c}")
        for c in "!#@$%&/|\\<>()[]{}:;,_=*^'"
    ),
]

# ----------------------------------------------------------------------------- rpm

RPM_CASES = [
    # rpm tests/rpmvercmp.at
    case("1.0", "=", "1.0"),
    case("1.0", "<", "2.0"),
    case("2.0", ">", "1.0"),
    case("2.0.1", "=", "2.0.1"),
    case("2.0", "<", "2.0.1"),
    case("2.0.1", ">", "2.0"),
    case("2.0.1a", "=", "2.0.1a"),
    case("2.0.1a", ">", "2.0.1"),
    case("2.0.1", "<", "2.0.1a"),
    case("5.5p1", "=", "5.5p1"),
    case("5.5p1", "<", "5.5p2"),
    case("5.5p2", ">", "5.5p1"),
    case("5.5p10", "=", "5.5p10"),
    case("5.5p1", "<", "5.5p10"),
    case("5.5p10", ">", "5.5p1"),
    case("10xyz", "<", "10.1xyz"),
    case("10.1xyz", ">", "10xyz"),
    case("xyz10", "=", "xyz10"),
    case("xyz10", "<", "xyz10.1"),
    case("xyz10.1", ">", "xyz10"),
    case("xyz.4", "=", "xyz.4"),
    case("xyz.4", "<", "8"),
    case("8", ">", "xyz.4"),
    case("xyz.4", "<", "2"),
    case("2", ">", "xyz.4"),
    case("5.5p2", "<", "5.6p1"),
    case("5.6p1", ">", "5.5p2"),
    case("5.6p1", "<", "6.5p1"),
    case("6.5p1", ">", "5.6p1"),
    case("6.0.rc1", ">", "6.0"),
    case("6.0", "<", "6.0.rc1"),
    case("10b2", ">", "10a1"),
    case("10a2", "<", "10b2"),
    case("1.0aa", "=", "1.0aa"),
    case("1.0a", "<", "1.0aa"),
    case("1.0aa", ">", "1.0a"),
    case("10.0001", "=", "10.0001"),
    case("10.0001", "=", "10.1"),
    case("10.1", "=", "10.0001"),
    case("10.0001", "<", "10.0039"),
    case("10.0039", ">", "10.0001"),
    case("4.999.9", "<", "5.0"),
    case("5.0", ">", "4.999.9"),
    case("20101121", "=", "20101121"),
    case("20101121", "<", "20101122"),
    case("20101122", ">", "20101121"),
    case("2_0", "=", "2_0"),
    case("2.0", "=", "2_0"),
    case("2_0", "=", "2.0"),
    case("a", "=", "a", "RhBug:178798"),
    case("a+", "=", "a+"),
    case("a+", "=", "a_"),
    case("a_", "=", "a+"),
    case("+a", "=", "+a"),
    case("+a", "=", "_a"),
    case("_a", "=", "+a"),
    case("+_", "=", "+_"),
    case("_+", "=", "+_"),
    case("_+", "=", "_+"),
    case("+", "=", "_"),
    case("_", "=", "+"),
    case("1.0~rc1", "=", "1.0~rc1"),
    case("1.0~rc1", "<", "1.0"),
    case("1.0", ">", "1.0~rc1"),
    case("1.0~rc1", "<", "1.0~rc2"),
    case("1.0~rc2", ">", "1.0~rc1"),
    case("1.0~rc1~git123", "=", "1.0~rc1~git123"),
    case("1.0~rc1~git123", "<", "1.0~rc1"),
    case("1.0~rc1", ">", "1.0~rc1~git123"),
    case("1.0^", "=", "1.0^"),
    case("1.0^", ">", "1.0", "caret after end"),
    case("1.0", "<", "1.0^"),
    case("1.0^git1", "=", "1.0^git1"),
    case("1.0^git1", ">", "1.0"),
    case("1.0", "<", "1.0^git1"),
    case("1.0^git1", "<", "1.0^git2"),
    case("1.0^git2", ">", "1.0^git1"),
    case("1.0^git1", "<", "1.01", "caret before a segment"),
    case("1.01", ">", "1.0^git1"),
    case("1.0^20160101", "=", "1.0^20160101"),
    case("1.0^20160101", "<", "1.0.1"),
    case("1.0.1", ">", "1.0^20160101"),
    case("1.0^20160101^git1", "=", "1.0^20160101^git1"),
    case("1.0^20160102", ">", "1.0^20160101^git1"),
    case("1.0^20160101^git1", "<", "1.0^20160102"),
    case("1.0~rc1^git1", "=", "1.0~rc1^git1"),
    case("1.0~rc1^git1", ">", "1.0~rc1"),
    case("1.0~rc1", "<", "1.0~rc1^git1"),
    case("1.0^git1~pre", "=", "1.0^git1~pre"),
    case("1.0^git1", ">", "1.0^git1~pre"),
    case("1.0^git1~pre", "<", "1.0^git1"),
    # rpmvercmp.at "oddities" (commented out there), as rpm 4.18 answers
    case("1b.fc17", "=", "1b.fc17", "RhBug:811992"),
    case("1b.fc17", "<", "1.fc17"),
    case("1.fc17", ">", "1b.fc17"),
    case("1g.fc17", "=", "1g.fc17"),
    case("1g.fc17", ">", "1.fc17"),
    case("1.fc17", "<", "1g.fc17"),
    case(
        "1.1.\N{GREEK SMALL LETTER ALPHA}",
        "=",
        "1.1.\N{GREEK SMALL LETTER ALPHA}",
        "non-ASCII separates",
    ),
    case("1.1.\N{GREEK SMALL LETTER ALPHA}", "=", "1.1.\N{GREEK SMALL LETTER BETA}"),
    case("1.1.\N{GREEK SMALL LETTER BETA}", "=", "1.1.\N{GREEK SMALL LETTER ALPHA}"),
    case(
        "1.1.\N{GREEK SMALL LETTER ALPHA}\N{GREEK SMALL LETTER ALPHA}",
        "=",
        "1.1.\N{GREEK SMALL LETTER ALPHA}",
    ),
    case(
        "1.1.\N{GREEK SMALL LETTER ALPHA}",
        "=",
        "1.1.\N{GREEK SMALL LETTER BETA}\N{GREEK SMALL LETTER BETA}",
    ),
    case(
        "1.1.\N{GREEK SMALL LETTER BETA}\N{GREEK SMALL LETTER BETA}",
        "=",
        "1.1.\N{GREEK SMALL LETTER ALPHA}\N{GREEK SMALL LETTER ALPHA}",
    ),
    # tilde and caret order: ~ < end < ^ < alpha < number
    case("1.0~", "<", "1.0", "tilde before end"),
    case("1.0~~", "<", "1.0~"),
    case("1.0~", "<", "1.0^"),
    case("1.0^", "<", "1.0a", "caret before alpha"),
    case("1.0^", "<", "1.0.0", "caret before number"),
    case("1.0^~", "<", "1.0^"),
    case("~1", "<", "1"),
    case("1.0~a", "<", "1.0~1", "alpha before number after tilde"),
    # brief: .el9 vs .el9_2, 2.0.1 vs 2.0a, 1.10 vs 1.9, release 2 vs 10
    case("1.0-1.el9", "<", "1.0-1.el9_2", "el9 vs el9_2"),
    case("1.0-1.el9_2", "<", "1.0-2.el9"),
    case("5.14.0-284.11.1.el9_2", ">", "5.14.0-284.el9"),
    case("2.0.1", ">", "2.0a", "number beats alpha"),
    case("2.0a", "<", "2.0.1"),
    case("1.10", ">", "1.9"),
    case("1.0-2", "<", "1.0-10", "release 2 vs 10"),
    case("1.0-10.el9", ">", "1.0-9.el9"),
    # leading zeros, separators, alpha vs numeric
    case("1.01", "=", "1.1", "leading zero"),
    case("1.001", "=", "1.1"),
    case("1.0010", ">", "1.009"),
    case("007", "=", "7"),
    case("1.0", "=", "1_0", "separators are equal"),
    case("1.0", "=", "1+0"),
    case("1.0", "=", "1..0"),
    case("1.0", "=", "1 0"),
    case("1.0", "=", "1,0"),
    case("1.0.", "=", "1.0", "trailing separator ignored"),
    case("1.0_", "=", "1.0"),
    case(".1.0", "=", "1.0", "leading separator ignored"),
    case("1.a", "<", "1.0", "alpha segment below numeric"),
    case("1a", "<", "1.0"),
    case("1.0a", ">", "1.0"),
    case("1.0A", "<", "1.0a", "ASCII order"),
    case("1.0Z", "<", "1.0a"),
    case("a1", "<", "1", "alpha start below numeric"),
    case("1.99999999999999999999", ">", "1.99999999999999999998", "past 64 bits"),
    # EVR parsing: epoch, release after the last hyphen
    case("1:1.0", ">", "2.0", "epoch wins"),
    case("0:1.0", "=", "1.0", "missing epoch is 0"),
    case(":1.0", "=", "0:1.0", "empty epoch is 0"),
    case("00:1", "=", "0:1"),
    case("01:1.0", "=", "1:1.0"),
    case("2:1.0-1", ">", "1:9.9-9"),
    case("10:1", ">", "9:1"),
    case("a:1.0", "<", "1.0", "not an epoch: part of the version"),
    case("1a:1.0", "<", "1.0", "not an epoch either"),
    case("1-2-3", "<", "1-2-4", "release after the last hyphen"),
    case("1-2-3", "=", "1.2-3", "hyphen in version separates"),
    case("1-2:3", ">", "1-2", "colon after a hyphen is not an epoch"),
    case("1.0-1", "<", "1.0-1.1"),
    case("1.0-1", ">", "1.0-1~1"),
    # missing release: lower than any release (rpmverCmp)
    case("1.0", "<", "1.0-1", "missing release is lowest"),
    case("1.0", "<", "1.0-0"),
    case("1.0", "<", "1.0-", "below an empty release"),
    case("1.0", "<", "1.0-~", "below a tilde release"),
    case("1.0-", "<", "1.0-0"),
    case("1.0-", ">", "1.0-~"),
    case("1:1.0", ">", "0:1.0-9"),
    case("1.1", ">", "1.0-9", "version decides first"),
    case("1.0~1", "<", "1.0-1", "tilde version, missing release"),
    case("1.0", ">", "1.0~-1"),
    case("1:", "<", "1:-1", "empty version"),
    case("1:", "=", "1:", "empty version equals itself"),
    # real EVRs from the shared updateinfo, OVAL and OSV samples
    case("0:5.2.5-8.el9_0", ">", "0:5.2.5-8.el9"),
    case("0:7.76.1-23.el9", ">", "0:7.76.1-19.el9_1.1"),
    case("0:4.18.0-425.10.1.el8_7", "<", "0:4.18.0-425.13.1.el8_7"),
    case("0:4.18.0-425.3.1.el8", "<", "0:4.18.0-425.10.1.el8_7"),
    case("0:1-2.el8_7", "<", "0:1-4.el8_7"),
    case("0:1-6.el8", ">", "0:1-4.el8_7"),
    case("2:4.4.1-21.el9_2", ">", "4.4.1-21.el9_2"),
    case(
        "0:20240715-118.2.git4c8fb21e.el8_8", "<", "2:20240715-118.2.git4c8fb21e.el8_8"
    ),
    case("0:8.83.5.1_1-118.2.el8_8.1", ">", "0:8.24.2.2-118.2.el8_8.1"),
    case("0:91.9.1-1.el9_0", ">", "0:91.9.0-1.el9_0"),
    case("0:3.13.2-35.el9", "<", "0:3.13.2-35.el9_4"),
    case("8.2204.0-3.amzn2023.0.2", ">", "8.2204.0-3.amzn2023.0.1"),
    case("4.9.76-38.79.amzn2", ">", "4.9.76-3.78.amzn2"),
    case("2.2.23-1.el6", "<", "2.2.23-1.el7"),
]

RPM_INVALID = [
    pytest.param("", "empty", id="empty"),
    pytest.param("1.0\x00", "NUL", id="NUL"),
    pytest.param("1." + "1" * 5000, "too long", id="5000-digit run"),
]

# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize(("a", "b", "expected"), DEB_CASES)
def test_compare_deb(a: str, b: str, expected: int) -> None:
    assert compare_deb(a, b) == expected
    assert compare_deb(b, a) == -expected
    assert compare(Scheme.DEB, a, b) == expected
    assert compare("deb", a, b) == expected
    assert key_order(deb_key(a), deb_key(b)) == expected


@pytest.mark.parametrize(("a", "b", "expected"), RPM_CASES)
def test_compare_rpm(a: str, b: str, expected: int) -> None:
    assert compare_rpm(a, b) == expected
    assert compare_rpm(b, a) == -expected
    assert compare(Scheme.RPM, a, b) == expected
    assert compare("rpm", a, b) == expected
    assert key_order(rpm_key(a), rpm_key(b)) == expected


def key_order(x: VersionKey, y: VersionKey) -> int:
    """-1, 0 or 1 from Python's own tuple ordering of two keys."""
    return (x > y) - (x < y)


@pytest.mark.parametrize(("version", "reason"), DEB_INVALID)
def test_deb_rejects(version: str, reason: str) -> None:
    with pytest.raises(VersionError, match=re.escape(reason)) as caught:
        compare_deb(version, "1.0")
    assert caught.value.version == version
    assert caught.value.scheme is Scheme.DEB
    assert repr(version) in str(caught.value)


@pytest.mark.parametrize(("version", "reason"), RPM_INVALID)
def test_rpm_rejects(version: str, reason: str) -> None:
    with pytest.raises(VersionError, match=re.escape(reason)) as caught:
        compare_rpm("1.0", version)
    assert caught.value.version == version
    assert caught.value.scheme is Scheme.RPM


def test_unknown_scheme_is_a_plain_value_error() -> None:
    with pytest.raises(ValueError, match="unknown version scheme 'pacman'") as caught:
        compare("pacman", "1", "2")
    assert not isinstance(caught.value, VersionError)
    with pytest.raises(ValueError, match="unknown version scheme 'DEB'"):
        sort_key("DEB", "1")


@pytest.mark.parametrize("scheme", [Scheme.DEB, Scheme.RPM], ids=str)
def test_sort_key_takes_the_enum_or_its_value(scheme: Scheme) -> None:
    assert sort_key(scheme, "1:2.0-3") is sort_key(scheme.value, "1:2.0-3")
    assert compare(scheme.value, "1.0", "1.1") == -1


def test_keys_are_cached() -> None:
    for key in (deb_key, rpm_key):
        assert key.cache_info().maxsize == 1 << 16
        assert key("7.88.1-10+deb12u5") is key("7.88.1-10+deb12u5")


def plain(value: object) -> bool:
    """True for (possibly nested) tuples holding only ints and strs."""
    if isinstance(value, tuple):
        return all(plain(item) for item in value)
    return type(value) in (int, str)


@pytest.mark.parametrize(
    ("scheme", "version"),
    [
        pytest.param(Scheme.DEB, "1:2.66-4+deb12u2+b2", id="deb"),
        pytest.param(Scheme.DEB, "0.0~git20230101-1~bpo12+1", id="deb tilde"),
        pytest.param(Scheme.RPM, "2:4.4.1-21.el9_2", id="rpm"),
        pytest.param(Scheme.RPM, "1.0^git1~pre", id="rpm caret tilde, no release"),
    ],
)
def test_keys_are_flat_tuples_of_ints_and_strs(scheme: Scheme, version: str) -> None:
    key = sort_key(scheme, version)
    assert type(key) is tuple
    assert all(type(item) in (int, str) for item in key)
    epoch, colon, _ = version.partition(":")
    assert key[0] == (int(epoch) if colon else 0)  # the epoch comes first


def test_sorting_deb_versions_with_sort_key() -> None:
    expected = [
        "1.0~~",
        "1.0~~a",
        "1.0~rc1",
        "1.0",
        "1.0-1~bpo12+1",
        "1.0-1",
        "1.0-1+deb12u1",
        "1.0-2",
        "1.0-10",
        "1.0a",
        "1.0+dfsg-1",
        "1.0.1",
        "1.10",
        "1:0.9",
    ]
    shuffled = expected[7:] + expected[::-1][7:]
    assert sorted(shuffled, key=functools.partial(sort_key, "deb")) == expected


def test_sorting_rpm_versions_with_sort_key() -> None:
    expected = [
        "1.0~rc1",
        "1.0",
        "1.0-~",
        "1.0-",
        "1.0-1.el9",
        "1.0-1.el9_2",
        "1.0-2.el9",
        "1.0-10.el9",
        "1.0^git1-1",
        "1.0a-1",
        "1.0.1-1",
        "1:0.9-1",
    ]
    shuffled = expected[6:] + expected[::-1][6:]
    assert sorted(shuffled, key=functools.partial(sort_key, Scheme.RPM)) == expected


def test_rpm_missing_release_is_lowest_in_key_and_compare() -> None:
    # rpmverCmp (rpm.vercmp) orders a missing release below every release; the
    # "matches any release" rule of rpm's dependency ranges is not an order.
    bare = rpm_key("1.0")
    for release in ("~", "", "0", "1", "^"):
        assert rpm_key(f"1.0-{release}")[: len(bare)] == bare  # a prefix: lowest
    assert rpm_key("1.0") < rpm_key("1.0-~") < rpm_key("1.0-") < rpm_key("1.0-0")
    assert [compare_rpm("1.0", r) for r in ("1.0-~", "1.0-", "1.0-0", "1.0-1")] == [
        -1
    ] * 4
    assert compare_rpm("1.0", "0:1.0") == 0


def test_deb_blanks_are_stripped_like_dpkg() -> None:
    assert deb_key(" \t1:1.0-1 \t") == deb_key("1:1.0-1")


def test_version_error_names_the_string_and_pickles() -> None:
    with pytest.raises(VersionError) as caught:
        deb_key("a:1.0")
    error = caught.value
    assert isinstance(error, ValueError)
    assert str(error) == "invalid deb version 'a:1.0': epoch is not a number"
    assert error.reason == "epoch is not a number"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.scheme, copy.version, copy.reason) == (
        Scheme.DEB,
        "a:1.0",
        error.reason,
    )
    assert str(copy) == str(error)


# ----------------------------------------------------------- reference ports of the C

DIGITS = "0123456789"
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


def at(s: str, k: int) -> str:
    """The k-th character, or "" past the end (C's NUL)."""
    return s[k] if k < len(s) else ""


def ref_dpkg_order(c: str) -> int:
    """dpkg's order(): "" is the end of the string."""
    if c in DIGITS or not c:
        return 0
    if c in LETTERS:
        return ord(c)
    return -1 if c == "~" else ord(c) + 256


def ref_verrevcmp(a: str, b: str) -> int:
    """dpkg's verrevcmp(), character by character."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (at(a, i) and at(a, i) not in DIGITS) or (
            at(b, j) and at(b, j) not in DIGITS
        ):
            diff = ref_dpkg_order(at(a, i)) - ref_dpkg_order(at(b, j))
            if diff:
                return diff
            i, j = i + 1, j + 1
        while at(a, i) == "0":
            i += 1
        while at(b, j) == "0":
            j += 1
        while at(a, i) and at(a, i) in DIGITS and at(b, j) and at(b, j) in DIGITS:
            first_diff = first_diff or ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if at(a, i) and at(a, i) in DIGITS:
            return 1
        if at(b, j) and at(b, j) in DIGITS:
            return -1
        if first_diff:
            return first_diff
    return 0


def ref_dpkg_compare(a: tuple[int, str, str], b: tuple[int, str, str]) -> int:
    if a[0] != b[0]:
        return sign(a[0] - b[0])
    return sign(ref_verrevcmp(a[1], b[1]) or ref_verrevcmp(a[2], b[2]))


def ref_rpmvercmp(a: str, b: str) -> int:  # noqa: C901 - a literal port of rpmvercmp()
    """rpm 4.18's rpmvercmp(), character by character."""
    if a == b:
        return 0
    i = j = 0
    while at(a, i) or at(b, j):
        while at(a, i) and at(a, i) not in DIGITS + LETTERS + "~^":
            i += 1
        while at(b, j) and at(b, j) not in DIGITS + LETTERS + "~^":
            j += 1
        ca, cb = at(a, i), at(b, j)
        if "~" in (ca, cb):
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if "^" in (ca, cb):
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        run = DIGITS if ca in DIGITS else LETTERS
        s1, s2 = i, j
        while at(a, i) and at(a, i) in run:
            i += 1
        while at(b, j) and at(b, j) in run:
            j += 1
        one, two = a[s1:i], b[s2:j]
        if not two:
            return 1 if run == DIGITS else -1
        if run == DIGITS:
            one, two = one.lstrip("0"), two.lstrip("0")
            if len(one) != len(two):
                return 1 if len(one) > len(two) else -1
        if one != two:
            return -1 if one < two else 1
    if not at(a, i) and not at(b, j):
        return 0
    return -1 if not at(a, i) else 1


def ref_parse_evr(evr: str) -> tuple[str | None, str, str | None]:
    """rpm 4.18's parseEVR()."""
    s = 0
    while s < len(evr) and evr[s] in DIGITS:
        s += 1
    se = evr.rfind("-", s)
    epoch, start = (evr[:s] or "0", s + 1) if evr[s : s + 1] == ":" else (None, 0)
    if se < 0:
        return epoch, evr[start:], None
    return epoch, evr[start:se], evr[se + 1 :]


def ref_rpmver_cmp(a: str, b: str) -> int:
    """rpm 4.18's rpmverCmp() over rpmverParse()."""

    def values(x: str | None, y: str | None) -> int:
        if x is None or y is None:
            return (x is not None) - (y is not None)
        return ref_rpmvercmp(x, y)

    (ea, va, ra), (eb, vb, rb) = ref_parse_evr(a), ref_parse_evr(b)
    return values(ea or "0", eb or "0") or values(va, vb) or values(ra, rb)


# ------------------------------------------------------------------------ properties

PROPERTIES = settings(max_examples=100, deadline=None, database=None)
DEB_CHARS = "0129azAZ.+~"


@st.composite
def deb_versions(draw: st.DrawFn) -> tuple[str, tuple[int, str, str]]:
    """A valid Debian version and its (epoch, upstream, revision), built together."""
    epoch = draw(st.none() | st.integers(0, 3))
    has_revision = draw(st.booleans())
    extra = (":" if epoch is not None else "") + ("-" if has_revision else "")
    upstream = draw(st.text(DEB_CHARS + extra, min_size=1, max_size=8))
    revision = draw(st.text(DEB_CHARS, min_size=1, max_size=5)) if has_revision else ""
    text = ("" if epoch is None else f"{epoch}:") + upstream
    return text + (f"-{revision}" if has_revision else ""), (
        epoch or 0,
        upstream,
        revision,
    )


deb_strings = deb_versions().map(lambda pair: pair[0])
rpm_strings = st.text("0129azAZ._~^-:é", min_size=1, max_size=10)


@PROPERTIES
@given(deb_versions(), deb_versions())
def test_deb_matches_a_port_of_dpkg(
    a: tuple[str, tuple[int, str, str]], b: tuple[str, tuple[int, str, str]]
) -> None:
    assert compare_deb(a[0], b[0]) == ref_dpkg_compare(a[1], b[1])


@PROPERTIES
@given(rpm_strings, rpm_strings)
def test_rpm_matches_a_port_of_rpm(a: str, b: str) -> None:
    assert compare_rpm(a, b) == ref_rpmver_cmp(a, b)


@PROPERTIES
@given(
    rpm_strings.filter(lambda s: "-" not in s and ":" not in s),
    rpm_strings.filter(lambda s: "-" not in s and ":" not in s),
)
def test_rpm_plain_versions_match_rpmvercmp(a: str, b: str) -> None:
    assert compare_rpm(a, b) == ref_rpmvercmp(a, b)


SCHEME_STRINGS = [
    pytest.param(Scheme.DEB, deb_strings, id="deb"),
    pytest.param(Scheme.RPM, rpm_strings, id="rpm"),
]


@pytest.mark.parametrize(("scheme", "strings"), SCHEME_STRINGS)
def test_reflexive(scheme: Scheme, strings: st.SearchStrategy[str]) -> None:
    @PROPERTIES
    @given(strings)
    def check(v: str) -> None:
        assert compare(scheme, v, v) == 0

    check()


@pytest.mark.parametrize(("scheme", "strings"), SCHEME_STRINGS)
def test_antisymmetric(scheme: Scheme, strings: st.SearchStrategy[str]) -> None:
    @PROPERTIES
    @given(strings, strings)
    def check(a: str, b: str) -> None:
        assert compare(scheme, a, b) == -compare(scheme, b, a)

    check()


@pytest.mark.parametrize(("scheme", "strings"), SCHEME_STRINGS)
def test_transitive(scheme: Scheme, strings: st.SearchStrategy[str]) -> None:
    @PROPERTIES
    @given(st.lists(strings, min_size=3, max_size=6))
    def check(versions: list[str]) -> None:
        ordered = sorted(
            versions, key=functools.cmp_to_key(functools.partial(compare, scheme))
        )
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                assert compare(scheme, a, b) <= 0

    check()


@pytest.mark.parametrize(("scheme", "strings"), SCHEME_STRINGS)
def test_compare_agrees_with_key_order(
    scheme: Scheme, strings: st.SearchStrategy[str]
) -> None:
    @PROPERTIES
    @given(strings, strings)
    def check(a: str, b: str) -> None:
        assert compare(scheme, a, b) == key_order(
            sort_key(scheme, a), sort_key(scheme, b)
        )

    check()


@PROPERTIES
@given(st.text(max_size=12))
def test_deb_raises_only_version_error(text: str) -> None:
    outcome: object
    try:
        outcome = deb_key(text)
    except VersionError as error:
        outcome = error
    if isinstance(outcome, VersionError):
        assert outcome.version == text
    else:
        assert plain(outcome)


@PROPERTIES
@given(st.text(max_size=12))
def test_rpm_accepts_any_nonempty_string_without_nul(text: str) -> None:
    if text and "\x00" not in text:
        assert plain(rpm_key(text))
    else:
        with pytest.raises(VersionError):
            rpm_key(text)
