"""Comparisons: whether a record's value satisfies one operator and query value.

The meaning of each operator per field kind lives here, so the in-memory evaluator
(``core.queries.evaluate``) and any SQL translation have one reference to agree with.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from patchfleet.core.query_fields import Field, FieldKind, Op, Value
from patchfleet.core.versions import VersionError, compare_rpm

REGEX_INPUT_LIMIT: Final = 4096
"""Regular expressions only see this many characters of a record's value."""

NEGATIONS: Final = {Op.NE: Op.EQ, Op.NOT_CONTAINS: Op.CONTAINS}
"""``a != v`` is exactly ``not (a = v)``; ``a !~ v`` is ``not (a ~ v)``."""


def holds(field: Field, op: Op, actual: object, expected: Value, now: datetime) -> bool:
    """Whether ``actual`` (a record's value of ``field``) satisfies ``op expected``.

    A missing value (``None``) satisfies no positive comparison; a multi-valued field
    satisfies one if any element does; ``!=`` and ``!~`` are the negations of ``=``
    and ``~``, so ``tag != web`` holds for a device without the tag ``web``.
    """
    positive = NEGATIONS.get(op)
    if positive is not None:
        return not holds(field, positive, actual, expected, now)
    return any(_test(field, op, item, expected, now) for item in _items(field, actual))


def _items(field: Field, actual: object) -> tuple[object, ...]:
    if actual is None:
        return ()
    if field.is_multi and isinstance(actual, Iterable) and not isinstance(actual, str):
        return tuple(actual)
    return (actual,)


def _test(field: Field, op: Op, item: object, expected: Value, now: datetime) -> bool:
    if op is Op.MATCHES:
        return _regex(str(expected)).search(str(item)[:REGEX_INPUT_LIMIT]) is not None
    if op in (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH):
        return _text_test(op, str(item).casefold(), str(expected).casefold())
    if op is Op.EQ:
        return _equals(field, item, expected, now)
    order = _three_way(field, item, expected, now)
    return order is not None and _ORDER_TESTS[op](order)


_ORDER_TESTS: Final[dict[Op, Callable[[int], bool]]] = {
    Op.GT: lambda order: order > 0,
    Op.GE: lambda order: order >= 0,
    Op.LT: lambda order: order < 0,
    Op.LE: lambda order: order <= 0,
}


def _text_test(op: Op, item: str, expected: str) -> bool:
    if op is Op.CONTAINS:
        return expected in item
    if op is Op.STARTS_WITH:
        return item.startswith(expected)
    return item.endswith(expected)


def _equals(field: Field, item: object, expected: Value, now: datetime) -> bool:
    if isinstance(expected, str) and "*" in expected and field.kind is not FieldKind.IP:
        return _glob(expected.casefold()).fullmatch(str(item).casefold()) is not None
    if field.kind is FieldKind.TEXT:
        return str(item).casefold() == str(expected).casefold()
    if field.kind is FieldKind.BOOLEAN:
        return isinstance(item, bool) and item == expected
    if field.kind is FieldKind.IP:
        return _in_network(item, str(expected))
    return _three_way(field, item, expected, now) == 0


def _three_way(
    field: Field, item: object, expected: Value, now: datetime
) -> int | None:
    """Return -1, 0 or 1 as ``item`` sorts before, with or after ``expected``.

    Only number, choice, age and version fields get here (``Field.ops`` keeps order
    operators off the others, and ``_equals`` handles their ``=``). None means the
    two do not compare: a wrong type, an unknown choice or an invalid version.
    """
    if field.kind is FieldKind.NUMBER:
        return _order_number(item, expected)
    if field.kind is FieldKind.CHOICE:
        return _order_choice(field.choices, item, expected)
    if field.kind is FieldKind.AGE:
        return _order_age(now, item, expected)
    return _order_version(item, expected)


def _order_number(item: object, expected: Value) -> int | None:
    if (
        isinstance(item, bool)
        or not isinstance(item, int | float)
        or not isinstance(expected, float)
    ):
        return None
    return _sign(item - expected)


def _order_choice(
    choices: tuple[str, ...], item: object, expected: Value
) -> int | None:
    word = str(item).casefold()
    if word not in choices or expected not in choices:
        return None
    return _sign(choices.index(word) - choices.index(str(expected)))


def _order_age(now: datetime, item: object, expected: Value) -> int | None:
    if not isinstance(item, datetime) or not isinstance(expected, timedelta):
        return None
    return _sign((now - item - expected).total_seconds())


def _order_version(item: object, expected: Value) -> int | None:
    try:
        return compare_rpm(str(item), str(expected))
    except VersionError:
        return None


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _in_network(item: object, network: str) -> bool:
    try:
        address = ipaddress.ip_interface(str(item)).ip
    except ValueError:
        return False
    return address in ipaddress.ip_network(network, strict=False)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.S)
