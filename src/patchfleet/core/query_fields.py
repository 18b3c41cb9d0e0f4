"""Query fields: the typed vocabulary of the query language and what each type means.

``core.queries`` parses and walks queries; this module says which fields exist
(``DEVICE_FIELDS``, ``PATCH_FIELDS``), which operators each kind of field takes, how a
value in the query text is read, and how it compares with a record's value.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final, TypeAlias

from patchfleet.core.updates import Classification, Severity, UpdateState
from patchfleet.core.versions import VersionError, rpm_key


class Op(StrEnum):
    """A comparison operator, spelled as in the query text."""

    EQ = "="
    NE = "!="
    CONTAINS = "~"
    NOT_CONTAINS = "!~"
    STARTS_WITH = "^="
    ENDS_WITH = "$="
    MATCHES = "=~"
    GE = ">="
    LE = "<="
    GT = ">"
    LT = "<"


class FieldKind(StrEnum):
    """How a field's values are read and compared."""

    TEXT = "text"
    CHOICE = "choice"
    NUMBER = "number"
    BOOLEAN = "boolean"
    AGE = "age"
    VERSION = "version"
    IP = "ip"


_ORDER_OPS: Final = frozenset({Op.GE, Op.LE, Op.GT, Op.LT})
_TEXT_OPS: Final = frozenset(Op) - _ORDER_OPS
_EQUALITY_OPS: Final = frozenset({Op.EQ, Op.NE})
_OPS_BY_KIND: Final = {
    FieldKind.TEXT: _TEXT_OPS,
    FieldKind.CHOICE: _EQUALITY_OPS,
    FieldKind.NUMBER: _EQUALITY_OPS | _ORDER_OPS,
    FieldKind.BOOLEAN: _EQUALITY_OPS,
    FieldKind.AGE: _ORDER_OPS,
    FieldKind.VERSION: _TEXT_OPS | _ORDER_OPS,
    FieldKind.IP: _TEXT_OPS,
}
_OP_ORDER: Final = tuple(Op)

Value: TypeAlias = str | float | bool | timedelta
"""A value read from query text: its type follows the field's kind."""


@dataclass(frozen=True, slots=True, repr=False)
class Field:
    """One queryable attribute; records carry its value under ``name``.

    Attributes:
        name: The canonical name, used by ``to_text`` and as the record key.
        kind: How values are read and compared.
        aliases: Other names accepted in query text.
        is_multi: The record holds several values; a comparison holds if any does.
        choices: For ``CHOICE`` fields, the accepted values, lowest first.
        is_ordered: ``CHOICE`` values compare by their position in ``choices``.
        synonyms: Extra words accepted for a choice, as ``(word, choice)`` pairs.
    """

    name: str
    kind: FieldKind
    aliases: tuple[str, ...] = ()
    is_multi: bool = False
    choices: tuple[str, ...] = ()
    is_ordered: bool = False
    synonyms: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        """Name the field only: its full spec would swamp every AST repr."""
        return f"Field({self.name!r})"

    @property
    def ops(self) -> tuple[Op, ...]:
        """The comparison operators this field takes, in a fixed order."""
        allowed = _OPS_BY_KIND[self.kind]
        if self.is_ordered:
            allowed = allowed | _ORDER_OPS
        return tuple(op for op in _OP_ORDER if op in allowed)

    @property
    def accepts_in(self) -> bool:
        """True if ``field in (...)`` makes sense for this field."""
        return self.kind not in (FieldKind.BOOLEAN, FieldKind.AGE)


class Fields:
    """The fields one kind of record offers, looked up by name or alias."""

    def __init__(self, *fields: Field) -> None:
        """Index the fields by their names and aliases, case-insensitively."""
        self._fields = fields
        self._by_name = {
            name.casefold(): f for f in fields for name in (f.name, *f.aliases)
        }

    def __iter__(self) -> Iterator[Field]:
        """Iterate over the fields in declaration order."""
        return iter(self._fields)

    def __getitem__(self, name: str) -> Field:
        """Return the field called ``name``; raise ``KeyError`` if there is none."""
        return self._by_name[name.casefold()]

    def get(self, name: str) -> Field | None:
        """Return the field called ``name`` (or one of its aliases), if any."""
        return self._by_name.get(name.casefold())

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical field names, in declaration order."""
        return tuple(f.name for f in self._fields)

    def suggest(self, name: str) -> str | None:
        """Return the name closest to a misspelt ``name``, if one is close."""
        found = difflib.get_close_matches(name.casefold(), self._by_name, n=1)
        return found[0] if found else None


class FieldValueError(ValueError):
    """Query text holds a value the field cannot take.

    Attributes:
        what: What is wrong, without a position (the parser adds the column).
        hint: An optional suggestion shown after the position.
    """

    def __init__(self, what: str, hint: str = "") -> None:
        """Keep the problem and the hint apart so the parser can place the column."""
        super().__init__(what)
        self.what = what
        self.hint = hint


# Reading values from query text ------------------------------------------------------

_NUMBER: Final = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DURATION: Final = re.compile(r"([0-9]{1,6})([smhdw])", re.IGNORECASE)
_UNIT_SECONDS: Final = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_BOOLEANS: Final = {"true": True, "yes": True, "false": False, "no": False}


def read_value(field: Field, op: Op, raw: str) -> Value:
    """Read ``raw`` from the query text as a value for ``field`` under ``op``.

    Raises:
        FieldValueError: The text is not a value this field takes.
    """
    if op is Op.MATCHES:
        _check_regex(raw)
        return raw
    if op in _TEXT_OPS - _EQUALITY_OPS:
        return raw
    if field.kind is FieldKind.CHOICE:
        return _read_choice(field, raw)
    return _READERS[field.kind](raw)


def _check_regex(raw: str) -> None:
    try:
        re.compile(raw)
    except re.error as e:
        raise FieldValueError(f'invalid regular expression "{raw}" ({e})') from e


def _read_choice(field: Field, raw: str) -> Value:
    words = dict(field.synonyms) | {c: c for c in field.choices}
    found = words.get(raw.casefold())
    if found is not None:
        return found
    close = difflib.get_close_matches(raw.casefold(), words, n=1)
    hint = (
        f'did you mean "{close[0]}"?'
        if close
        else "expected one of " + ", ".join(field.choices)
    )
    raise FieldValueError(f'unknown {field.name} "{raw}"', hint)


def _read_number(raw: str) -> Value:
    number = float(raw) if _NUMBER.fullmatch(raw) else math.nan
    if not math.isfinite(number):
        raise FieldValueError(f'"{raw}" is not a number')
    return number


def _read_boolean(raw: str) -> Value:
    found = _BOOLEANS.get(raw.casefold())
    if found is None:
        raise FieldValueError(f'"{raw}" is not true, false, yes or no')
    return found


def _read_duration(raw: str) -> Value:
    match = _DURATION.fullmatch(raw)
    if match is None:
        raise FieldValueError(
            f'"{raw}" is not a duration', "write a whole number and a unit: 7d, 12h"
        )
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2].lower()])


def _read_version(raw: str) -> Value:
    if "*" not in raw:
        try:
            rpm_key(raw)
        except VersionError as e:
            raise FieldValueError(f'"{raw}" is not a version ({e.reason})') from e
    return raw


def _read_ip(raw: str) -> Value:
    try:
        ipaddress.ip_network(raw, strict=False)
    except ValueError as e:
        raise FieldValueError(
            f'"{raw}" is not an IP address or network', 'use "^=" for a prefix'
        ) from e
    return raw


_READERS: Final[dict[FieldKind, Callable[[str], Value]]] = {
    FieldKind.TEXT: str,
    FieldKind.NUMBER: _read_number,
    FieldKind.BOOLEAN: _read_boolean,
    FieldKind.AGE: _read_duration,
    FieldKind.VERSION: _read_version,
    FieldKind.IP: _read_ip,
}


def render_value(value: Value) -> str:
    """Write a value back as query text (before any quoting): the inverse of reading."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        )
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        if seconds == 0:
            return "0d"
        unit = next(u for u in "wdhms" if seconds % _UNIT_SECONDS[u] == 0)
        return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return value


# The two registries --------------------------------------------------------------------

_K = FieldKind
_SEVERITY_ASCENDING: Final = tuple(s.value for s in reversed(Severity))

DEVICE_FIELDS: Final = Fields(
    Field("hostname", _K.TEXT, aliases=("name",)),
    Field("client", _K.TEXT),
    Field("os", _K.TEXT),
    Field("os_family", _K.TEXT),
    Field("os_version", _K.VERSION),
    Field("kernel", _K.TEXT),
    Field("arch", _K.TEXT),
    Field("ip", _K.IP, is_multi=True),
    Field("tag", _K.TEXT, is_multi=True),
    Field("group", _K.TEXT),
    Field("agent_version", _K.VERSION),
    Field("package_manager", _K.TEXT),
    Field("last_seen", _K.AGE),
    Field("last_scan", _K.AGE),
    Field("reboot_required", _K.BOOLEAN),
)
"""Device attributes (API-05); a device record holds them under these names."""

PATCH_FIELDS: Final = Fields(
    Field(
        "category",
        _K.CHOICE,
        aliases=("classification",),
        choices=tuple(c.value for c in Classification),
    ),
    Field("severity", _K.CHOICE, choices=_SEVERITY_ASCENDING, is_ordered=True),
    Field("source", _K.TEXT),
    Field("name", _K.TEXT),
    Field("vendor_id", _K.TEXT),
    Field("cve", _K.TEXT, is_multi=True),
    Field(
        "rating",
        _K.CHOICE,
        choices=("not_rated", "allowlisted", "blocklisted"),
        synonyms=(
            ("unrated", "not_rated"),
            ("whitelisted", "allowlisted"),
            ("blacklisted", "blocklisted"),
        ),
    ),
    Field("release_age", _K.AGE, aliases=("first_seen",)),
    Field("reboot_required", _K.BOOLEAN),
    Field("kev", _K.BOOLEAN),
    Field("epss", _K.NUMBER),
    Field("cvss", _K.NUMBER),
    Field("priority", _K.NUMBER),
    Field("state", _K.CHOICE, choices=tuple(s.value for s in UpdateState)),
    Field("backend", _K.TEXT),
)
"""Patch attributes (DEC-03); a patch record holds them under these names."""
