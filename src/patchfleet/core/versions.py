"""dpkg and rpm version parsing, comparison and sort keys.

One comparison per ecosystem, each built on a cached sort key: a flat tuple of ints
and strs whose built-in ordering is the ecosystem's own order (flat, because nested
tuples compare about twice as slowly).

Where this module knowingly differs from the tools:

* dpkg only *warns* about invalid characters (``1.0_1``, control characters,
  non-ASCII); :func:`deb_key` rejects them. A version whose upstream part does not start
  with a digit is accepted, as ``dpkg --compare-versions`` does.
* An rpm version containing a NUL character is rejected (C sees a shorter string).
* A digit run of more than 4,300 digits is rejected (Python's int conversion limit).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache
from typing import Final, TypeAlias

__all__ = [
    "Scheme",
    "VersionError",
    "VersionKey",
    "compare",
    "compare_deb",
    "compare_rpm",
    "deb_key",
    "rpm_key",
    "sort_key",
]

VersionKey: TypeAlias = tuple[int | str, ...]
"""``(epoch, *version-part key, *revision/release key)``, compared with ``<``."""

_CACHE_SIZE: Final = 1 << 16

# dpkg ---------------------------------------------------------------------------------
# dpkg's order(): "~" < end of string < letters < every other character.  A non-digit
# run becomes a str that sorts that way, ended by _DEB_END; "~" maps below _DEB_END,
# letters stay themselves, and other characters move above all ASCII (c + 256).
_DEB_END: Final = "\x01"
_DEB_ORDER: Final = str.maketrans(
    {"~": "\x00"} | {c: chr(ord(c) + 256) for c in "+-.:"}
)
_DEB_DIGIT_RUNS: Final = re.compile(r"([0-9]+)")
_DEB_BLANKS: Final = " \t"
# What C strtol() accepts before the colon: isspace(), an optional sign, digits.
_DEB_EPOCH: Final = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")
_DEB_EPOCH_MAX: Final = 2**31 - 1
_DEB_UPSTREAM_INVALID: Final = re.compile(r"[^0-9A-Za-z.+~:-]")
_DEB_REVISION_INVALID: Final = re.compile(r"[^0-9A-Za-z.+~]")

# rpm ----------------------------------------------------------------------------------
# rpmvercmp() token order: "~" < end of string < "^" < alpha segment < numeric segment.
_RPM_TILDE: Final = 0
_RPM_END: Final = 1
_RPM_CARET: Final = 2
_RPM_ALPHA: Final = 3
_RPM_NUMBER: Final = 4
_RPM_TOKENS: Final = re.compile(r"([0-9]+)|([A-Za-z]+)|(~)|\^")


class Scheme(StrEnum):
    """Version ecosystem whose ordering rules apply."""

    DEB = "deb"
    RPM = "rpm"


class VersionError(ValueError):
    """A version string is not valid for its scheme.

    Attributes:
        scheme: The scheme the string was parsed as.
        version: The offending string, exactly as given.
        reason: What is wrong with it.
    """

    def __init__(self, scheme: Scheme, version: str, reason: str) -> None:
        """Builds the message ``invalid <scheme> version '<version>': <reason>``."""
        super().__init__(f"invalid {scheme} version {version!r}: {reason}")
        self.scheme = scheme
        self.version = version
        self.reason = reason

    def __reduce__(self) -> tuple[type[VersionError], tuple[Scheme, str, str]]:
        """Pickles with the constructor's three arguments."""
        return (type(self), (self.scheme, self.version, self.reason))


def _to_int(scheme: Scheme, version: str, digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # only over sys.get_int_max_str_digits() digits
        raise VersionError(scheme, version, "digit run is too long") from None


# dpkg ---------------------------------------------------------------------------------


def _split_deb_epoch(version: str, text: str) -> tuple[int, str]:
    """Splits ``epoch:rest`` the way dpkg's parseversion() does."""
    colon = text.find(":")
    if colon < 0:
        return 0, text
    match = _DEB_EPOCH.match(text)
    if match is None:
        reason = "epoch is empty" if colon == 0 else "epoch is not a number"
        raise VersionError(Scheme.DEB, version, reason)
    if match.end() != colon:
        raise VersionError(Scheme.DEB, version, "epoch is not a number")
    if len(match.group().lstrip(" \t\n\v\f\r+-0")) > len(str(_DEB_EPOCH_MAX)):
        raise VersionError(Scheme.DEB, version, "epoch is too big")
    epoch = int(match.group())
    if epoch < 0:
        raise VersionError(Scheme.DEB, version, "epoch is negative")
    if epoch > _DEB_EPOCH_MAX:
        raise VersionError(Scheme.DEB, version, "epoch is too big")
    if colon == len(text) - 1:
        raise VersionError(Scheme.DEB, version, "nothing after the epoch colon")
    return epoch, text[colon + 1 :]


def _parse_deb(version: str) -> tuple[int, str, str]:
    """Returns ``(epoch, upstream, revision)``; a missing revision is ``""``."""
    text = version.strip(_DEB_BLANKS)
    if not text:
        raise VersionError(Scheme.DEB, version, "version is empty")
    if " " in text or "\t" in text:
        raise VersionError(Scheme.DEB, version, "version has embedded whitespace")
    epoch, rest = _split_deb_epoch(version, text)
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise VersionError(Scheme.DEB, version, "revision is empty")
    if not upstream:
        raise VersionError(Scheme.DEB, version, "upstream version is empty")
    for part, name, invalid in (
        (upstream, "upstream version", _DEB_UPSTREAM_INVALID),
        (revision, "revision", _DEB_REVISION_INVALID),
    ):
        bad = invalid.search(part)
        if bad is not None:
            reason = f"invalid character {bad.group()!r} in {name}"
            raise VersionError(Scheme.DEB, version, reason)
    return epoch, upstream, revision


def _add_deb_part(key: list[int | str], version: str, part: str) -> None:
    """Appends the key of an upstream version or revision: dpkg's verrevcmp().

    The part alternates non-digit runs and digit runs, always starting with a
    (possibly empty) non-digit run. Each non-digit run becomes a str ending in
    ``_DEB_END``; each digit run an int. A part that ends in non-digits gets an empty
    digit run (0). A final bare ``_DEB_END`` stands for the exhausted string, which
    dpkg treats as an endless run of empty pairs: every later pair starts with a
    non-empty non-digit run, so the sentinel decides against it exactly like dpkg's
    end of string (after ``~``, before anything else). Strs and ints keep their
    positions, so an upstream key followed by a revision key still compares pairwise.
    """
    pieces = _DEB_DIGIT_RUNS.split(part)
    key += [
        _to_int(Scheme.DEB, version, piece)
        if index & 1
        else piece.translate(_DEB_ORDER) + _DEB_END
        for index, piece in enumerate(pieces)
    ]
    if pieces[-1] or not part:  # close the last pair; "" is one empty pair
        key += (0, _DEB_END)


@lru_cache(maxsize=_CACHE_SIZE)
def deb_key(version: str) -> VersionKey:
    """Returns the sort key of a Debian version ``[epoch:]upstream[-revision]``.

    ``deb_key(a) < deb_key(b)`` exactly when ``dpkg --compare-versions a lt b``.
    The revision is what follows the last hyphen; a missing revision equals ``0``.
    Blanks around the string are stripped, as dpkg does. Keys are cached (LRU).

    Args:
        version: The version string, e.g. ``1:2.66-4+deb12u2+b2``.

    Returns:
        ``(epoch, *upstream key, *revision key)``, a flat tuple of ints and strs.

    Raises:
        VersionError: The string is empty, has embedded blanks, a bad epoch (empty,
            not a number, negative, above 2**31-1), an empty upstream or revision, or
            a character dpkg does not allow.
    """
    epoch, upstream, revision = _parse_deb(version)
    key: list[int | str] = [epoch]
    _add_deb_part(key, version, upstream)
    _add_deb_part(key, version, revision)
    return tuple(key)


def compare_deb(a: str, b: str) -> int:
    """Compares two Debian versions like ``dpkg --compare-versions``.

    Args:
        a: The first version.
        b: The second version.

    Returns:
        -1 if ``a`` is older than ``b``, 0 if they are equal, 1 if ``a`` is newer.

    Raises:
        VersionError: Either string is not a valid Debian version (see deb_key).
    """
    key_a = deb_key(a)
    key_b = deb_key(b)
    if key_a < key_b:
        return -1
    return 1 if key_b < key_a else 0


# rpm ----------------------------------------------------------------------------------


def _add_rpm_part(key: list[int | str], evr: str, part: str) -> None:
    """Appends the key of an rpm version or release: rpmvercmp().

    Each token becomes a ``kind, value`` pair: numeric segments
    ``_RPM_NUMBER, int`` (leading zeros vanish, so the longer number wins), alpha
    segments ``_RPM_ALPHA, str``, ``~`` and ``^`` ``kind, 0``; everything else
    separates and is dropped. ``_RPM_END, 0`` closes the part, so an exhausted string
    sorts after ``~`` and before ``^`` and every segment. Equal kinds always hold
    values of one type, so the tuple comparison never meets an int and a str.
    """
    for number, alpha, tilde in _RPM_TOKENS.findall(part):
        if number:
            key += (_RPM_NUMBER, _to_int(Scheme.RPM, evr, number))
        elif alpha:
            key += (_RPM_ALPHA, alpha)
        else:
            key += (_RPM_TILDE if tilde else _RPM_CARET, 0)
    key += (_RPM_END, 0)


@lru_cache(maxsize=_CACHE_SIZE)
def rpm_key(evr: str) -> VersionKey:
    """Returns the sort key of an rpm ``[epoch:]version[-release]`` string.

    Parsed as rpm 4.18's ``rpmverParse()``: the epoch is the leading digits when a
    colon follows them (``:1`` has epoch 0), otherwise it is missing and counts as 0;
    the release is what follows the last hyphen. Segments compare as ``rpmvercmp()``.
    Keys are cached (LRU).

    A missing release is lower than every release, even ``~`` or an empty one
    (``1.0`` < ``1.0-~`` < ``1.0-`` < ``1.0-1``): the key simply ends after the
    version, so it is a prefix of the key of the same version with any release. That
    is rpm's own ``rpmverCmp()``, used by ``rpm.vercmp`` in rpm's Lua. rpm's
    dependency matching (``rpmverOverlap``) instead lets a release-less version
    *match* any release; no total order can say that, so callers matching
    ``Requires:``-style ranges must compare releases themselves.

    Args:
        evr: The EVR string, e.g. ``2:4.4.1-21.el9_2`` or ``1.0~rc1``.

    Returns:
        ``(epoch, *version key, *release key)``, a flat tuple of ints and strs; the
        release key is absent when the string has no release.

    Raises:
        VersionError: The string is empty or contains a NUL character.
    """
    if not evr:
        raise VersionError(Scheme.RPM, evr, "version is empty")
    if "\x00" in evr:
        raise VersionError(Scheme.RPM, evr, "version contains a NUL character")
    digits = len(evr) - len(evr.lstrip("0123456789"))
    epoch = 0
    rest = evr
    if evr[digits : digits + 1] == ":":
        epoch = _to_int(Scheme.RPM, evr, evr[:digits] or "0")
        rest = evr[digits + 1 :]
    version, hyphen, release = rest.rpartition("-")
    key: list[int | str] = [epoch]
    _add_rpm_part(key, evr, version if hyphen else rest)
    if hyphen:
        _add_rpm_part(key, evr, release)
    return tuple(key)


def compare_rpm(a: str, b: str) -> int:
    """Compares two rpm EVR strings like ``rpm.vercmp`` (``rpmverCmp``) in rpm 4.18.

    Epochs first (missing = 0), then versions, then releases; a missing release is
    lower than any release (see rpm_key).

    Args:
        a: The first EVR.
        b: The second EVR.

    Returns:
        -1 if ``a`` is older than ``b``, 0 if they are equal, 1 if ``a`` is newer.

    Raises:
        VersionError: Either string is empty or contains a NUL character.
    """
    key_a = rpm_key(a)
    key_b = rpm_key(b)
    if key_a < key_b:
        return -1
    return 1 if key_b < key_a else 0


# any scheme ---------------------------------------------------------------------------

# str keys: a Scheme member hashes and compares equal to its value.
_KEYS: Final[dict[str, Callable[[str], VersionKey]]] = {
    Scheme.DEB: deb_key,
    Scheme.RPM: rpm_key,
}


def _unknown_scheme(scheme: object) -> ValueError:
    return ValueError(f"unknown version scheme {scheme!r}; expected 'deb' or 'rpm'")


def sort_key(scheme: Scheme | str, v: str) -> VersionKey:
    """Returns the cached sort key of ``v`` under ``scheme``.

    For one scheme, ``sort_key(s, a) < sort_key(s, b)`` exactly when
    ``compare(s, a, b) == -1``; use it with ``sorted(..., key=...)``, ``bisect`` or
    ``max``. Keys of different schemes must not be compared with each other.

    Args:
        scheme: ``Scheme.DEB``/``"deb"`` or ``Scheme.RPM``/``"rpm"``.
        v: The version string.

    Returns:
        ``(epoch, *version-part key, *revision/release key)``, a flat tuple.

    Raises:
        ValueError: ``scheme`` is not a known scheme.
        VersionError: ``v`` is not a valid version of that scheme.
    """
    key = _KEYS.get(scheme)
    if key is None:
        raise _unknown_scheme(scheme)
    return key(v)


def compare(scheme: Scheme | str, a: str, b: str) -> int:
    """Compares two versions of one scheme.

    Args:
        scheme: ``Scheme.DEB``/``"deb"`` or ``Scheme.RPM``/``"rpm"``.
        a: The first version.
        b: The second version.

    Returns:
        -1 if ``a`` is older than ``b``, 0 if they are equal, 1 if ``a`` is newer.

    Raises:
        ValueError: ``scheme`` is not a known scheme.
        VersionError: Either string is not a valid version of that scheme.
    """
    key = _KEYS.get(scheme)  # inlined rather than calling compare_*: a hot path
    if key is None:
        raise _unknown_scheme(scheme)
    key_a = key(a)
    key_b = key(b)
    if key_a < key_b:
        return -1
    return 1 if key_b < key_a else 0
