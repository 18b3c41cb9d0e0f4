"""The patchfleet query language: one parser for devices and patches (API-05, DEC-03).

Grammar (``docs/query-language.md`` is the user guide)::

    expr   := or
    or     := and ("or" and)*
    and    := not ("and" not)*
    not    := "not" not | atom
    atom   := "(" expr ")" | field op value | field "in" "(" value ("," value)* ")"
    op     := "=" | "!=" | "~" | "!~" | "^=" | "$=" | "=~" | ">=" | "<=" | ">" | "<"
    value  := '"' chars with \\" and \\\\ escapes '"' | bare word [A-Za-z0-9._:*/+-]+

Keywords are case-insensitive; a value spelt like a keyword must be quoted. The field
registry passed to ``parse`` (``DEVICE_FIELDS`` or ``PATCH_FIELDS``) types each value,
so numbers, durations (``7d``), booleans and choices are checked while parsing.
Limits: 2,000 characters, nesting (parentheses and ``not``) 32 deep, 100 values in one
``in`` list. ``parse(to_text(q)) == q`` for every query ``parse`` returns.

This module parses and evaluates; ``query_fields`` holds the field registries and value
reading, ``comparisons`` what each operator means, ``query_syntax`` the tree and text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from patchfleet.core.comparisons import holds
from patchfleet.core.errors import InvalidInputError
from patchfleet.core.query_fields import (
    DEVICE_FIELDS,
    PATCH_FIELDS,
    Field,
    Fields,
    FieldValueError,
    Op,
    Value,
    read_value,
)
from patchfleet.core.query_syntax import (
    KEYWORDS,
    And,
    Comparison,
    InList,
    Not,
    Or,
    Query,
    to_text,
    to_text_value,
)

__all__ = [
    "DEVICE_FIELDS",
    "MAX_DEPTH",
    "MAX_IN_VALUES",
    "MAX_QUERY_LENGTH",
    "PATCH_FIELDS",
    "And",
    "Comparison",
    "Field",
    "Fields",
    "InList",
    "Not",
    "Op",
    "Or",
    "Query",
    "QueryError",
    "evaluate",
    "parse",
    "parse_search",
    "to_text",
    "to_text_value",
]

MAX_QUERY_LENGTH: Final = 2000
MAX_DEPTH: Final = 32
MAX_IN_VALUES: Final = 100
_SNIPPET_WIDTH: Final = 72


class QueryError(InvalidInputError):
    """Query text that does not parse; the message points at the problem.

    Attributes:
        reason: The first line of the message, e.g. ``unknown field "hostnme" at
            column 1; did you mean "hostname"?``.
        column: 1-based character position of the problem, or None.
        text: The query text.
    """

    def __init__(self, reason: str, *, text: str, column: int | None) -> None:
        """Build the message: the reason, then the query and a caret line."""
        super().__init__(_pointed(reason, text, column), loc=("query",))
        self.reason = reason
        self.column = column
        self.text = text


def _pointed(reason: str, text: str, column: int | None) -> str:
    if column is None:
        return reason
    start = max(0, min(column - 1 - _SNIPPET_WIDTH // 2, len(text) - _SNIPPET_WIDTH))
    shown = re.sub(r"\s", " ", text[start : start + _SNIPPET_WIDTH])
    prefix = "…" if start else ""
    suffix = "…" if start + _SNIPPET_WIDTH < len(text) else ""
    caret = " " * (len(prefix) + column - 1 - start) + "^"
    return f"{reason}\n  {prefix}{shown}{suffix}\n  {caret}"


# Tokens -------------------------------------------------------------------------------


class _Kind(StrEnum):
    WORD = "word"
    STRING = "string"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    column: int

    def is_keyword(self, word: str) -> bool:
        return self.kind is _Kind.WORD and self.text.casefold() == word

    def describe(self) -> str:
        if self.kind is _Kind.END:
            return "the end of the query"
        return f'"{self.text}"'


_TOKEN: Final = re.compile(
    r"(?P<space>\s+)|(?P<op>!=|!~|\^=|\$=|=~|>=|<=|=|~|>|<)"
    r"|(?P<word>[A-Za-z0-9._:*/+-]+)|(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)"
)
_GROUP_KINDS: Final = {
    "op": _Kind.OP,
    "word": _Kind.WORD,
    "lparen": _Kind.LPAREN,
    "rparen": _Kind.RPAREN,
    "comma": _Kind.COMMA,
}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] == '"':
            value, pos_after = _read_string(text, pos)
            tokens.append(_Token(_Kind.STRING, value, pos + 1))
            pos = pos_after
            continue
        match = _TOKEN.match(text, pos)
        if match is None:
            hint = "quote a value that contains it"
            raise _error(f'unexpected character "{text[pos]}"', text, pos + 1, hint)
        if match.lastgroup != "space":
            kind = _GROUP_KINDS[str(match.lastgroup)]
            tokens.append(_Token(kind, match.group(), pos + 1))
        pos = match.end()
    tokens.append(_Token(_Kind.END, "", len(text) + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read the quoted string opening at ``start``; return it and the end position.

    ``\\"`` and ``\\\\`` are escapes; any other backslash is itself, so regular
    expressions read naturally (``"^web-\\d+$"``).
    """
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == '"':
            return "".join(chars), pos + 1
        if char == "\\" and text[pos + 1 : pos + 2] in ('"', "\\"):
            pos += 1
            char = text[pos]
        chars.append(char)
        pos += 1
    raise _error("unterminated string", text, start + 1, 'close it with "')


def _error(what: str, text: str, column: int, hint: str = "") -> QueryError:
    reason = f"{what} at column {column}" + (f"; {hint}" if hint else "")
    return QueryError(reason, text=text, column=column)


# Parser -------------------------------------------------------------------------------


def parse(text: str, fields: Fields) -> Query:
    """Parse query text against a field registry.

    Raises:
        QueryError: The text is empty, too long, nested too deeply or malformed, names
            an unknown field, or holds a value its field cannot take.
    """
    if len(text) > MAX_QUERY_LENGTH:
        reason = (
            f"query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}"
        )
        raise QueryError(reason, text=text, column=None)
    if not text.strip():
        raise QueryError("query is empty", text=text, column=None)
    return _Parser(text, _tokenize(text), fields).parse()


def parse_search(text: str, fields: Fields) -> Query | None:
    """Parse a search box entry: ``$`` then a query (MP-14, LIM-12); else None.

    Error columns count from the start of ``text``, ``$`` included.
    """
    stripped = text.lstrip()
    if not stripped.startswith("$"):
        return None
    offset = len(text) - len(stripped)
    return parse(text[:offset] + " " + stripped[1:], fields)


class _Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, text: str, tokens: list[_Token], fields: Fields) -> None:
        self.text = text
        self.tokens = tokens
        self.fields = fields
        self.pos = 0
        self.depth = 0

    def parse(self) -> Query:
        query = self._or()
        token = self._peek()
        if token.kind is not _Kind.END:
            what = f'expected "and", "or" or the end of the query, found {token.describe()}'
            raise self._fail(what, token)
        return query

    def _peek(self) -> _Token:
        return self.tokens[self.pos]

    def _next(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _fail(self, what: str, token: _Token, hint: str = "") -> QueryError:
        return _error(what, self.text, token.column, hint)

    def _enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._fail(f"query nests deeper than {MAX_DEPTH} levels", token)

    def _or(self) -> Query:
        operands = [self._and()]
        while self._peek().is_keyword("or"):
            self._next()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Query:
        operands = [self._not()]
        while self._peek().is_keyword("and"):
            self._next()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _not(self) -> Query:
        token = self._peek()
        if not token.is_keyword("not"):
            return self._atom()
        self._next()
        self._enter(token)
        query = Not(self._not())
        self.depth -= 1
        return query

    def _atom(self) -> Query:
        token = self._next()
        if token.kind is _Kind.LPAREN:
            self._enter(token)
            query = self._or()
            self._expect_close(token)
            self.depth -= 1
            return query
        if token.kind is _Kind.WORD and token.text.casefold() not in KEYWORDS:
            return self._condition(token)
        raise self._fail(f"expected a condition, found {token.describe()}", token)

    def _expect_close(self, opening: _Token) -> None:
        token = self._next()
        if token.kind is not _Kind.RPAREN:
            reason = (
                f'expected ")" at column {token.column} to close the "(" at column '
                f"{opening.column}; found {token.describe()}"
            )
            raise QueryError(reason, text=self.text, column=token.column)

    def _condition(self, name: _Token) -> Query:
        field = self._field(name)
        token = self._next()
        if token.is_keyword("in"):
            return self._in_list(field, token)
        if token.kind is not _Kind.OP:
            hint = (
                f'to negate, write "not {name.text} ..."'
                if token.is_keyword("not")
                else ""
            )
            what = f'expected an operator after "{name.text}", found {token.describe()}'
            raise self._fail(what, token, hint)
        op = Op(token.text)
        if op not in field.ops:
            what = (
                f'operator "{op}" does not apply to {field.kind} field "{field.name}"'
            )
            raise self._fail(what, token, "use " + " ".join(field.ops))
        return Comparison(field, op, self._value(field, op, after=token))

    def _field(self, name: _Token) -> Field:
        field = self.fields.get(name.text)
        if field is not None:
            return field
        close = self.fields.suggest(name.text)
        hint = (
            f'did you mean "{close}"?'
            if close
            else "fields: " + ", ".join(self.fields.names)
        )
        raise self._fail(f'unknown field "{name.text}"', name, hint)

    def _in_list(self, field: Field, in_token: _Token) -> Query:
        if not field.accepts_in:
            what = f'"in" does not apply to {field.kind} field "{field.name}"'
            raise self._fail(what, in_token)
        opening = self._next()
        if opening.kind is not _Kind.LPAREN:
            raise self._fail('expected "(" after "in"', opening)
        values = [self._value(field, Op.EQ, after=opening)]
        while (token := self._next()).kind is _Kind.COMMA:
            if len(values) == MAX_IN_VALUES:
                what = f"more than {MAX_IN_VALUES} values in one list"
                raise self._fail(what, self._peek())
            values.append(self._value(field, Op.EQ, after=token))
        if token.kind is not _Kind.RPAREN:
            what = f'expected "," or ")" in the list, found {token.describe()}'
            raise self._fail(what, token)
        return InList(field, tuple(values))

    def _value(self, field: Field, op: Op, *, after: _Token) -> Value:
        token = self._next()
        is_keyword = token.kind is _Kind.WORD and token.text.casefold() in KEYWORDS
        if token.kind not in (_Kind.WORD, _Kind.STRING) or is_keyword:
            hint = f"found {token.describe()}" if token.kind is not _Kind.END else ""
            if is_keyword:
                hint = (
                    f'found the keyword "{token.text}"; quote it to use it as a value'
                )
            raise self._fail(f'expected a value after "{after.text}"', token, hint)
        try:
            return read_value(field, op, token.text)
        except FieldValueError as e:
            raise self._fail(e.what, token, e.hint) from e


# Evaluation ---------------------------------------------------------------------------


def evaluate(query: Query, record: Mapping[str, object], now: datetime) -> bool:
    """Whether a record satisfies a query.

    Args:
        query: A parsed query.
        record: Field values keyed by canonical field name; a missing key counts as
            no value. Multi-valued fields (``tag``, ``ip``, ``cve``) hold a collection
            of values; age fields hold the aware datetime of the event.
        now: The aware instant age fields are measured from.
    """
    if isinstance(query, Comparison):
        actual = record.get(query.field.name)
        return holds(query.field, query.op, actual, query.value, now)
    if isinstance(query, InList):
        actual = record.get(query.field.name)
        return any(holds(query.field, Op.EQ, actual, v, now) for v in query.values)
    if isinstance(query, Not):
        return not evaluate(query.operand, record, now)
    if isinstance(query, And):
        return all(evaluate(operand, record, now) for operand in query.operands)
    return any(evaluate(operand, record, now) for operand in query.operands)
