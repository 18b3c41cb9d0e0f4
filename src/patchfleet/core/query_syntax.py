"""The query syntax tree and its canonical text form (``core.queries`` parses it).

Frozen values, so queries compare and hash; the server's SQL translation and the
in-memory evaluator are both plain walks over these five node types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, TypeAlias

from patchfleet.core.query_fields import Field, Op, Value, render_value

KEYWORDS: Final = frozenset({"and", "or", "not", "in"})
_BARE: Final = re.compile(r"[A-Za-z0-9._:*/+-]+")
_ESCAPES: Final = re.compile(r'"|\\(?=["\\]|$)')
"""What to_text_value escapes: quotes, and backslashes the parser would misread."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; the value's type follows the field's kind."""

    field: Field
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class InList:
    """``field in (v1, v2, ...)``: holds if ``field = v`` holds for any value."""

    field: Field
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class And:
    """All operands hold (two or more)."""

    operands: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one operand holds (two or more)."""

    operands: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The operand does not hold."""

    operand: Query


Query: TypeAlias = Comparison | InList | And | Or | Not


def to_text(query: Query) -> str:
    """Write a query in canonical form: canonical field names, lower-case keywords,
    single spaces, quotes only where needed, parentheses around nested groups."""
    if isinstance(query, Comparison):
        value = to_text_value(render_value(query.value))
        return f"{query.field.name} {query.op} {value}"
    if isinstance(query, InList):
        values = ", ".join(to_text_value(render_value(v)) for v in query.values)
        return f"{query.field.name} in ({values})"
    if isinstance(query, Not):
        return "not " + _grouped(query.operand)
    joiner = " and " if isinstance(query, And) else " or "
    return joiner.join(_grouped(operand) for operand in query.operands)


def _grouped(query: Query) -> str:
    text = to_text(query)
    return f"({text})" if isinstance(query, And | Or) else text


def to_text_value(text: str) -> str:
    """Write one value as query text: bare if it can be, else quoted and escaped."""
    if _BARE.fullmatch(text) and text.casefold() not in KEYWORDS:
        return text
    return '"' + _ESCAPES.sub(r"\\\g<0>", text) + '"'
