"""Parse and evaluate the subset of WQL that Hyper-V management code uses.

WQL is WMI's SQL dialect (WQL reference:
https://learn.microsoft.com/en-us/windows/win32/wmisdk/wql-sql-for-wmi).
This module reads three statement forms:

``SELECT * | prop[, prop ...] FROM Class [WHERE condition]``
    The condition (WHERE clause:
    https://learn.microsoft.com/en-us/windows/win32/wmisdk/where-clause)
    is made of comparisons ``Prop op literal`` with ``op`` one of
    ``= <> != < > <= >=``, ``Prop [NOT] LIKE 'pattern'`` (LIKE operator:
    https://learn.microsoft.com/en-us/windows/win32/wmisdk/like-operator)
    and ``Prop IS [NOT] NULL``, combined with ``NOT``, ``AND``, ``OR``
    (binding in that order, tightest first) and parentheses.  Literals are
    strings in single or double quotes (a backslash takes the next
    character literally, so the WQL text ``'%\\\\Default'`` is the value
    ``%\\Default``), integers, floats, ``TRUE``, ``FALSE``.

``ASSOCIATORS OF {path} [WHERE AssocClass = A ResultClass = C Role = R ResultRole = RR]``
    (https://learn.microsoft.com/en-us/windows/win32/wmisdk/associators-of-statement).
    The WHERE terms are separated by spaces, not ``AND``; values are bare
    identifiers or quoted strings.

``REFERENCES OF {path} [WHERE ResultClass = A Role = R]``
    (https://learn.microsoft.com/en-us/windows/win32/wmisdk/references-of-statement).
    ``ResultClass`` names the association class.

Keywords are case-insensitive; class and property names are identifiers
(``[A-Za-z_][A-Za-z0-9_]*``).

Not supported (each is rejected with :class:`InvalidQuery`): JOIN, ORDER BY,
GROUP (WITHIN), HAVING, ISA, ``__CLASS`` and other system properties (unless
the caller's property mapping holds them), a literal on the left-hand side of
a comparison (``'x' = Name``), ``= NULL`` (WQL requires ``IS NULL``), array
properties in a condition, and the ASSOCIATORS/REFERENCES keywords
ClassDefsOnly, SchemaOnly, RequiredQualifier and RequiredAssocQualifier.

Evaluation (:func:`matches`) is strict, because its caller is an emulator
that must reject what Hyper-V would reject: property names are looked up
case-insensitively and a name the instance does not have raises
:class:`InvalidQuery`; strings compare case-insensitively; ``NULL`` compares
false with every operator except ``IS [NOT] NULL``; values of different
types compare false, except that a numeric property compares numerically
with a numeric string literal (``Port = '5'``).  Logic is two-valued:
``NOT (Name = 'x')`` is true when ``Name`` is ``NULL``.

Every error raises :class:`winstackers.cim.errors.InvalidQuery` whose detail
says what is wrong and at which position (a 0-based character offset into
the query text).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from winstackers.cim.errors import InvalidQuery

__all__ = [
    "And",
    "AssociatorsQuery",
    "Comparison",
    "Expr",
    "Not",
    "Or",
    "Query",
    "SelectQuery",
    "matches",
    "parse",
    "referenced_properties",
]

_Value: TypeAlias = str | int | float | bool | None

#: Operators that compare a property with a literal value.
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_PATTERN_OPS = frozenset({"LIKE", "NOT LIKE"})
_NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
_OPERATORS = frozenset(_ORDERING) | _PATTERN_OPS | _NULL_OPS


# --------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """``prop op value``; ``value`` is ``None`` for IS NULL / IS NOT NULL.

    ``op`` is one of ``=``, ``<>``, ``!=``, ``<``, ``>``, ``<=``, ``>=``,
    ``LIKE``, ``NOT LIKE``, ``IS NULL``, ``IS NOT NULL``.
    """

    prop: str
    op: str
    value: str | int | float | bool | None

    def __str__(self) -> str:
        if self.op in _NULL_OPS:
            return f"{self.prop} {self.op}"
        return f"{self.prop} {self.op} {_format_literal(self.value)}"


@dataclass(frozen=True)
class And:
    """Both operands hold."""

    left: Expr
    right: Expr

    def __str__(self) -> str:
        return f"({self.left} AND {self.right})"


@dataclass(frozen=True)
class Or:
    """At least one operand holds."""

    left: Expr
    right: Expr

    def __str__(self) -> str:
        return f"({self.left} OR {self.right})"


@dataclass(frozen=True)
class Not:
    """The operand does not hold."""

    operand: Expr

    def __str__(self) -> str:
        return f"NOT {self.operand}"


Expr: TypeAlias = Comparison | And | Or | Not


@dataclass(frozen=True)
class SelectQuery:
    """``SELECT properties FROM class_name [WHERE where]``.

    ``properties`` is ``None`` for ``SELECT *``.
    """

    class_name: str
    properties: tuple[str, ...] | None
    where: Expr | None


@dataclass(frozen=True)
class AssociatorsQuery:
    """``ASSOCIATORS OF {source_path}`` or ``REFERENCES OF {source_path}``.

    ``source_path`` is the object path between the braces, surrounding
    blanks removed.  For REFERENCES OF (``references`` true) ``result_class``
    names the association class and ``assoc_class``/``result_role`` are
    always ``None``.
    """

    source_path: str
    references: bool
    assoc_class: str | None
    result_class: str | None
    role: str | None
    result_role: str | None


Query: TypeAlias = SelectQuery | AssociatorsQuery


def _format_literal(value: _Value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------

_IDENT, _STRING, _NUMBER, _OP, _PUNCT, _PATH, _END = (
    "identifier", "string", "number", "operator", "punctuation", "path", "end")

_NUMBER_RE = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_LEXER = re.compile(
    rf"(?P<ws>\s+)|(?P<{_NUMBER}>{_NUMBER_RE})|(?P<{_IDENT}>[A-Za-z_][A-Za-z0-9_]*)"
    rf"|(?P<{_OP}><>|!=|<=|>=|=|<|>)|(?P<{_PUNCT}>[(),*])")
_NUMERIC_STRING = re.compile(rf"\s*{_NUMBER_RE}\s*")

#: Words that cannot be used as a class or property name.
_RESERVED = frozenset({
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IS", "NULL",
    "TRUE", "FALSE", "ASSOCIATORS", "REFERENCES", "OF",
})
#: Words of full WQL that this subset rejects, with a specific message.
_UNSUPPORTED = frozenset({
    "JOIN", "ORDER", "BY", "GROUP", "WITHIN", "HAVING", "ISA", "LIMIT",
    "UNION", "DISTINCT",
})


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: _Value
    pos: int

    def word(self) -> str | None:
        """The upper-cased text of an identifier, else ``None``."""
        return self.text.upper() if self.kind == _IDENT else None

    def describe(self) -> str:
        if self.kind == _END:
            return "end of query"
        if self.kind == _PATH:
            return f"object path {self.text}"
        if self.kind == _STRING:
            return f"string {self.text}"
        if self.word() in _RESERVED:
            return f"keyword {self.word()}"
        return f"'{self.text}'"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        token, pos = _next_token(text, pos)
        if token is not None:
            tokens.append(token)
    tokens.append(_Token(_END, "", None, len(text)))
    return tokens


def _next_token(text: str, pos: int) -> tuple[_Token | None, int]:
    char = text[pos]
    if char in "'\"":
        return _scan_string(text, pos)
    if char == "{":
        return _scan_path(text, pos)
    match = _LEXER.match(text, pos)
    if match is None or match.lastgroup is None:
        raise InvalidQuery(query=text, detail=f"unexpected character {char!r} at position {pos}")
    kind, raw = match.lastgroup, match.group()
    if kind == "ws":
        return None, match.end()
    value: _Value = _parse_number(raw) if kind == _NUMBER else raw
    return _Token(kind, raw, value, pos), match.end()


def _parse_number(raw: str) -> int | float:
    if any(c in raw for c in ".eE"):
        return float(raw)
    return int(raw)


def _skip_quoted(text: str, pos: int) -> tuple[str, int]:
    """Read the quoted string starting at ``pos``: (its value, index after it)."""
    quote, chars, i = text[pos], [], pos + 1
    while i < len(text) and text[i] != quote:
        if text[i] == "\\":
            i += 1
            if i == len(text):
                break
        chars.append(text[i])
        i += 1
    if i >= len(text):
        raise InvalidQuery(query=text, detail=f"unterminated string starting at position {pos}")
    return "".join(chars), i + 1


def _scan_string(text: str, pos: int) -> tuple[_Token, int]:
    value, end = _skip_quoted(text, pos)
    return _Token(_STRING, text[pos:end], value, pos), end


def _scan_path(text: str, pos: int) -> tuple[_Token, int]:
    i = pos + 1
    while i < len(text) and text[i] != "}":
        i = _skip_quoted(text, i)[1] if text[i] in "'\"" else i + 1
    if i >= len(text):
        raise InvalidQuery(query=text, detail=f"unclosed '{{' at position {pos}")
    path = text[pos + 1:i].strip()
    return _Token(_PATH, text[pos:i + 1], path, pos), i + 1


# --------------------------------------------------------------------------
# LIKE patterns
# --------------------------------------------------------------------------

class _PatternError(ValueError):
    """A malformed LIKE pattern; the argument says what is wrong."""


@functools.lru_cache(maxsize=512)
def _like_regex(pattern: str) -> re.Pattern[str]:
    """Compile a WQL LIKE pattern into an anchored, case-insensitive regex.

    ``%`` is any run of characters, ``_`` any one character, ``[abc]`` /
    ``[a-f]`` one character of a set or range and ``[^...]`` one character
    outside it (https://learn.microsoft.com/en-us/windows/win32/wmisdk/like-operator).
    ``[%]`` and ``[_]`` match a literal ``%`` / ``_``; everything else matches
    itself.
    """
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        part, i = _like_piece(pattern, i)
        if not (part == ".*" and parts and parts[-1] == ".*"):
            parts.append(part)
    return re.compile(r"\A" + "".join(parts) + r"\Z", re.IGNORECASE | re.DOTALL)


def _like_piece(pattern: str, i: int) -> tuple[str, int]:
    char = pattern[i]
    if char == "%":
        return ".*", i + 1
    if char == "_":
        return ".", i + 1
    if char == "[":
        return _like_set(pattern, i)
    return re.escape(char), i + 1


def _like_set(pattern: str, start: int) -> tuple[str, int]:
    """Translate the ``[...]`` at ``start``; a ``]`` right after ``[`` or ``[^`` is a member."""
    negate = pattern.startswith("^", start + 1)
    first = start + 2 if negate else start + 1
    end = pattern.find("]", first + 1)
    if first >= len(pattern) or end < 0:
        raise _PatternError(f"unclosed '[' at offset {start} of LIKE pattern {pattern!r}")
    members = _set_members(pattern[first:end])
    return ("[^" if negate else "[") + members + "]", end + 1


def _set_members(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low > high:
                raise _PatternError(f"bad range '{low}-{high}' in LIKE pattern")
            out.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            out.append(re.escape(body[i]))
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------

_ASSOC_KEYWORDS = {"ASSOCCLASS": "AssocClass", "RESULTCLASS": "ResultClass",
                   "ROLE": "Role", "RESULTROLE": "ResultRole"}
_ASSOC_UNSUPPORTED = {"CLASSDEFSONLY": "ClassDefsOnly", "SCHEMAONLY": "SchemaOnly",
                      "REQUIREDQUALIFIER": "RequiredQualifier",
                      "REQUIREDASSOCQUALIFIER": "RequiredAssocQualifier"}
_NOT_IN_REFERENCES = frozenset({"AssocClass", "ResultRole"})


class _Parser:
    """Recursive-descent parser over the token list of one query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    # -- token helpers -----------------------------------------------------

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != _END:
            self.index += 1
        return token

    def accept_keyword(self, word: str) -> bool:
        if self.peek().word() == word:
            self.advance()
            return True
        return False

    def accept_punct(self, char: str) -> bool:
        token = self.peek()
        if token.kind == _PUNCT and token.text == char:
            self.advance()
            return True
        return False

    def expect_keyword(self, word: str, what: str | None = None) -> None:
        if not self.accept_keyword(word):
            raise self.expected(what or word)

    def expect_name(self, what: str) -> str:
        token = self.peek()
        if token.kind != _IDENT or token.word() in _RESERVED:
            raise self.expected(what)
        return self.advance().text

    def fail(self, detail: str, token: _Token | None = None) -> InvalidQuery:
        token = token or self.peek()
        return InvalidQuery(query=self.text, detail=f"{detail} at position {token.pos}")

    def expected(self, what: str) -> InvalidQuery:
        token = self.peek()
        if token.word() in _UNSUPPORTED:
            return self.fail(f"{token.word()} is not supported by this WQL subset")
        return self.fail(f"expected {what}, found {token.describe()}")

    # -- statements --------------------------------------------------------

    def query(self) -> Query:
        word = self.peek().word()
        if word == "SELECT":
            result: Query = self.select()
        elif word in ("ASSOCIATORS", "REFERENCES"):
            result = self.associators(references=word == "REFERENCES")
        else:
            raise self.expected("SELECT, ASSOCIATORS OF or REFERENCES OF")
        if self.peek().kind != _END:
            raise self.expected("end of query")
        return result

    def select(self) -> SelectQuery:
        self.advance()
        properties = self.select_list()
        self.expect_keyword("FROM")
        class_name = self.expect_name("a class name")
        where = self.or_expr() if self.accept_keyword("WHERE") else None
        return SelectQuery(class_name=class_name, properties=properties, where=where)

    def select_list(self) -> tuple[str, ...] | None:
        if self.accept_punct("*"):
            return None
        names = [self.expect_name("a property name or '*'")]
        while self.accept_punct(","):
            names.append(self.expect_name("a property name"))
        return tuple(names)

    # -- conditions --------------------------------------------------------

    def or_expr(self) -> Expr:
        expr = self.and_expr()
        while self.accept_keyword("OR"):
            expr = Or(expr, self.and_expr())
        return expr

    def and_expr(self) -> Expr:
        expr = self.not_expr()
        while self.accept_keyword("AND"):
            expr = And(expr, self.not_expr())
        return expr

    def not_expr(self) -> Expr:
        if self.accept_keyword("NOT"):
            return Not(self.not_expr())
        if self.accept_punct("("):
            expr = self.or_expr()
            if not self.accept_punct(")"):
                raise self.expected("')'")
            return expr
        return self.comparison()

    def comparison(self) -> Comparison:
        token = self.peek()
        if token.kind in (_STRING, _NUMBER) or token.word() in ("TRUE", "FALSE", "NULL"):
            raise self.fail(f"expected a property name, found {token.describe()} "
                            "(a literal on the left-hand side is not supported)")
        prop = self.expect_name("a property name")
        return self.predicate(prop)

    def predicate(self, prop: str) -> Comparison:
        token = self.peek()
        if self.accept_keyword("IS"):
            negated = self.accept_keyword("NOT")
            self.expect_keyword("NULL", "NULL after IS")
            return Comparison(prop, "IS NOT NULL" if negated else "IS NULL", None)
        if self.accept_keyword("NOT"):
            self.expect_keyword("LIKE", "LIKE after NOT")
            return Comparison(prop, "NOT LIKE", self.like_pattern())
        if self.accept_keyword("LIKE"):
            return Comparison(prop, "LIKE", self.like_pattern())
        if token.kind == _OP:
            self.advance()
            return Comparison(prop, token.text, self.literal(token.text))
        raise self.expected(f"an operator (=, <>, !=, <, >, <=, >=, LIKE, NOT LIKE, IS) "
                            f"after '{prop}'")

    def like_pattern(self) -> str:
        token = self.peek()
        if token.kind != _STRING or not isinstance(token.value, str):
            raise self.expected("a string pattern after LIKE")
        try:
            _like_regex(token.value)
        except _PatternError as exc:
            raise self.fail(str(exc), token) from None
        self.advance()
        return token.value

    def literal(self, op: str) -> _Value:
        token = self.peek()
        word = token.word()
        if word == "NULL":
            raise self.fail(f"cannot compare with NULL using '{op}'; "
                            "use IS NULL or IS NOT NULL")
        if word in ("TRUE", "FALSE"):
            self.advance()
            return word == "TRUE"
        if token.kind not in (_STRING, _NUMBER):
            raise self.expected(f"a literal value after '{op}'")
        return self.advance().value

    # -- ASSOCIATORS OF / REFERENCES OF -----------------------------------

    def associators(self, references: bool) -> AssociatorsQuery:
        self.advance()
        self.expect_keyword("OF")
        token = self.peek()
        if token.kind != _PATH:
            raise self.expected("an object path in braces {...} after OF")
        if not token.value:
            raise self.fail("empty object path", token)
        self.advance()
        terms = self.assoc_terms(references) if self.accept_keyword("WHERE") else {}
        return AssociatorsQuery(
            source_path=str(token.value), references=references,
            assoc_class=terms.get("AssocClass"), result_class=terms.get("ResultClass"),
            role=terms.get("Role"), result_role=terms.get("ResultRole"))

    def assoc_terms(self, references: bool) -> dict[str, str]:
        allowed = [name for name in _ASSOC_KEYWORDS.values()
                   if not (references and name in _NOT_IN_REFERENCES)]
        if self.peek().kind != _IDENT:
            raise self.expected(f"one of {', '.join(allowed)} after WHERE")
        terms: dict[str, str] = {}
        while self.peek().kind == _IDENT:
            token = self.peek()
            name = self.assoc_keyword(references, allowed)
            if name in terms:
                raise self.fail(f"{name} is given twice", token)
            terms[name] = self.assoc_value(name)
        return terms

    def assoc_keyword(self, references: bool, allowed: list[str]) -> str:
        token = self.peek()
        word = token.word() or ""
        statement = "REFERENCES OF" if references else "ASSOCIATORS OF"
        name = _ASSOC_KEYWORDS.get(word)
        if word in ("AND", "OR"):
            raise self.fail(f"{statement} WHERE terms are separated by spaces, not {word}")
        if word in _ASSOC_UNSUPPORTED:
            raise self.fail(f"{_ASSOC_UNSUPPORTED[word]} is not supported in {statement} "
                            f"(supported: {', '.join(allowed)})")
        if name is None:
            raise self.fail(f"unknown {statement} keyword '{token.text}' "
                            f"(supported: {', '.join(allowed)})")
        if name not in allowed:
            raise self.fail(f"{name} is not allowed in {statement} "
                            f"(allowed: {', '.join(allowed)})")
        self.advance()
        return name

    def assoc_value(self, name: str) -> str:
        token = self.peek()
        if token.kind != _OP or token.text != "=":
            raise self.expected(f"'=' after {name}")
        self.advance()
        token = self.peek()
        if token.kind not in (_IDENT, _STRING) or not token.value:
            raise self.expected(f"a class or role name after '{name} ='")
        self.advance()
        return str(token.value)


def parse(text: str) -> Query:
    """Parse one WQL statement.

    Returns a :class:`SelectQuery` for ``SELECT`` or an
    :class:`AssociatorsQuery` for ``ASSOCIATORS OF`` / ``REFERENCES OF``
    (https://learn.microsoft.com/en-us/windows/win32/wmisdk/wql-sql-for-wmi).

    :raises InvalidQuery: the text is not in the supported subset; the
        detail says what is wrong and at which 0-based position.
    """
    return _Parser(text).query()


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------

_MISSING = object()


def referenced_properties(expr: Expr | None) -> set[str]:
    """Every property name used in a WHERE condition, spelled as written."""
    if expr is None:
        return set()
    if isinstance(expr, Comparison):
        return {expr.prop}
    if isinstance(expr, Not):
        return referenced_properties(expr.operand)
    return referenced_properties(expr.left) | referenced_properties(expr.right)


def matches(expr: Expr | None, props: Mapping[str, Any]) -> bool:
    """Whether an instance whose properties are ``props`` satisfies ``expr``.

    ``None`` (no WHERE clause) matches everything.  Property names are
    looked up case-insensitively; every property the condition names is
    checked, whatever the short-circuit outcome would be.

    :raises InvalidQuery: a named property is missing from ``props`` or holds
        an array (WQL cannot query array properties:
        https://learn.microsoft.com/en-us/windows/win32/wmisdk/where-clause).
    """
    if expr is None:
        return True
    return _evaluate(expr, _resolve(expr, props))


def _lookup(props: Mapping[str, Any], name: str) -> Any:
    if name in props:
        return props[name]
    folded = name.casefold()
    for key, value in props.items():
        if key.casefold() == folded:
            return value
    return _MISSING


def _resolve(expr: Expr, props: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in sorted(referenced_properties(expr)):
        value = _lookup(props, name)
        if value is _MISSING:
            raise InvalidQuery(query=str(expr), detail=f"no property {name!r}")
        if isinstance(value, (list, tuple)):
            raise InvalidQuery(query=str(expr), detail=f"property {name!r} is an array; "
                               "WQL cannot query array properties")
        values[name] = value
    return values


def _evaluate(expr: Expr, values: Mapping[str, Any]) -> bool:
    if isinstance(expr, And):
        return _evaluate(expr.left, values) and _evaluate(expr.right, values)
    if isinstance(expr, Or):
        return _evaluate(expr.left, values) or _evaluate(expr.right, values)
    if isinstance(expr, Not):
        return not _evaluate(expr.operand, values)
    return _compare(expr, values[expr.prop])


def _compare(cmp: Comparison, value: Any) -> bool:
    if cmp.op not in _OPERATORS:
        raise InvalidQuery(query=str(cmp), detail=f"unsupported operator {cmp.op!r}")
    if cmp.op in _NULL_OPS:
        return (value is None) == (cmp.op == "IS NULL")
    if value is None:
        return False
    if cmp.op in _PATTERN_OPS:
        return _like(cmp, value)
    pair = _coerce(value, cmp.value)
    return pair is not None and _ORDERING[cmp.op](*pair)


def _like(cmp: Comparison, value: Any) -> bool:
    if not isinstance(value, str) or not isinstance(cmp.value, str):
        return False
    try:
        found = _like_regex(cmp.value).match(value) is not None
    except _PatternError as exc:
        raise InvalidQuery(query=str(cmp), detail=str(exc)) from None
    return found if cmp.op == "LIKE" else not found


def _coerce(value: Any, literal: _Value) -> tuple[Any, Any] | None:
    """The two sides made comparable, or ``None`` when their types differ."""
    if isinstance(value, bool) or isinstance(literal, bool):
        both = isinstance(value, bool) and isinstance(literal, bool)
        return (value, literal) if both else None
    if isinstance(value, str):
        return (value.casefold(), literal.casefold()) if isinstance(literal, str) else None
    if isinstance(value, (int, float)):
        number = _as_number(literal)
        return None if number is None else (value, number)
    return None


def _as_number(literal: _Value) -> int | float | None:
    if isinstance(literal, (int, float)) and not isinstance(literal, bool):
        return literal
    if isinstance(literal, str) and _NUMERIC_STRING.fullmatch(literal):
        return _parse_number(literal.strip())
    return None
