"""Conditions: the small, safe expression language of ``when:`` (and of ``qframe test``).

::

    fields.level == "error" and not ("debug" in tags)
    container.name =~ "^web" or fields.status >= 500
    exists(fields.user) and labels.env in ["prod", "staging"]

Grammar (a Pratt parser; binding powers from loosest to tightest)::

    expr    := expr "or" expr | expr "and" expr | "not" expr | cmp
    cmp     := value [ ("==" | "!=" | "<" | "<=" | ">" | ">=" | "=~" | "!~" | "in") value ]
    value   := path | string | number | true | false | null | "[" literals "]"
             | "exists(" path ")" | "(" expr ")"

Paths are :mod:`qframe.paths` paths (``message``, ``fields.x``, ``labels.app``, ``tags``,
``container.name``; a bare name is ``fields.<name>``).  Semantics, never an exception:

- an absent path is ``null``; ``exists(p)`` is true when the message has ``p`` (even null);
- ``==``/``!=``: numbers compare as numbers; a number and a string that spells a number
  compare as numbers (grok captures are strings: ``fields.status == 500`` holds for
  ``"500"``); values of other different types are unequal;
- ``< <= > >=``: numbers (or numeric strings against a number) numerically, two strings
  lexicographically; anything else is false;
- ``=~``/``!~``: a regex search (right side: a string literal, compiled once) on a string
  (or a number's text); on anything else ``=~`` is false.  The regex runs under grok's
  bounded-cost rule (:mod:`qframe.grok`): a line the estimate says could backtrack too long
  is searched with the interruptible engine and a ``timeout`` (the condition is then false);
- ``in``: membership in a list, a key of a map, a substring of a string;
- a lone value is true unless it is absent, null, false, 0, "" or empty.

Errors carry the line and column of the condition text (:class:`ConditionError`).  The
parse tree is compiled once into closures; nothing is ``eval``-ed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex as regex_mod

from .grok.analysis import estimate
from .grok.rewrite import atomic_possessives
from .message import Message, fields_of
from .paths import MISSING, parse_path

__all__ = ["Condition", "ConditionError", "compile_condition", "parse", "values_equal"]

#: time budget of one ``=~`` on a line the fast engine must not take
REGEX_TIMEOUT = 0.1
_RE_STEPS_PER_S = 3e7  # grok's calibration (qframe.grok)


class ConditionError(ValueError):
    """A condition that does not parse; ``line``/``column`` are 1-based."""

    def __init__(self, msg: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {msg}")
        self.line = line
        self.column = column
        self.reason = msg


# -- tokens ---------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<op>==|!=|<=|>=|=~|!~|<|>|\(|\)|\[|\]|,)
  | (?P<name>(?:\[[^\[\]\s]+\])+|[A-Za-z_@][\w@\-]*(?:\.[\w@\-]+)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(("and", "or", "not", "in", "true", "false", "null", "exists"))
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}


@dataclass(frozen=True)
class Tok:
    kind: str  # num | str | op | name | kw | end
    text: str
    value: Any
    line: int
    col: int


def _unquote(s: str, line: int, col: int) -> str:
    body = s[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            # regex escapes (\d, \.) are kept as written: "=~" patterns read naturally
            out.append(c + e)
            i += 2
    return "".join(out)


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    pos, line, line_start = 0, 1, 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        col = pos - line_start + 1
        if m is None:
            raise ConditionError(f"unexpected character {text[pos]!r}", line, col)
        kind = m.lastgroup or ""
        s = m.group()
        if kind == "ws":
            nl = s.count("\n")
            if nl:
                line += nl
                line_start = pos + s.rindex("\n") + 1
        elif kind == "num":
            v: Any = float(s) if any(c in s for c in ".eE") else int(s)
            toks.append(Tok("num", s, v, line, col))
        elif kind == "str":
            toks.append(Tok("str", s, _unquote(s, line, col), line, col))
        elif kind == "op":
            toks.append(Tok("op", s, s, line, col))
        else:
            toks.append(Tok("kw" if s in _KEYWORDS else "name", s, s, line, col))
        pos = m.end()
    toks.append(Tok("end", "", None, line, pos - line_start + 1))
    return toks


# -- the parse tree -----------------------------------------------------------------------
# ("lit", value) | ("path", FieldPath) | ("exists", FieldPath) | ("not", node)
# | ("and"|"or", left, right) | ("cmp", op, left, right) | ("match", negate, left, Rx)

_CMP = frozenset(("==", "!=", "<", "<=", ">", ">=", "=~", "!~", "in"))
_LBP = {"or": 10, "and": 20, **dict.fromkeys(_CMP, 40)}


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokenize(text)
        self.i = 0

    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, t: Tok, msg: str) -> ConditionError:
        return ConditionError(msg, t.line, t.col)

    def expect(self, text: str) -> Tok:
        t = self.next()
        if t.text != text or t.kind not in ("op",):
            got = "the end" if t.kind == "end" else repr(t.text)
            raise self.fail(t, f"expected {text!r}, got {got}")
        return t

    def parse(self) -> tuple[Any, ...]:
        if self.peek().kind == "end":
            raise self.fail(self.peek(), "empty condition")
        node = self.expr(0)
        t = self.peek()
        if t.kind != "end":
            raise self.fail(t, f"unexpected {t.text!r} (missing `and`/`or`?)")
        return node

    def lbp(self, t: Tok) -> int:
        if t.kind in ("kw", "op"):
            return _LBP.get(t.text, 0)
        return 0

    def expr(self, rbp: int) -> tuple[Any, ...]:
        left = self.nud(self.next())
        while rbp < self.lbp(self.peek()):
            left = self.led(self.next(), left)
        return left

    def nud(self, t: Tok) -> tuple[Any, ...]:
        if t.kind in ("num", "str"):
            return ("lit", t.value)
        if t.kind == "kw":
            if t.text in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False, "null": None}[t.text])
            if t.text == "not":
                return ("not", self.expr(30))
            if t.text == "exists":
                self.expect("(")
                p = self.next()
                if p.kind != "name":
                    raise self.fail(p, "exists() takes a field path")
                path = self.path(p)
                self.expect(")")
                return ("exists", path)
            raise self.fail(t, f"expected a value, got {t.text!r}")
        if t.kind == "name":
            return ("path", self.path(t))
        if t.text == "(":
            inner = self.expr(0)
            self.expect(")")
            return inner
        if t.text == "[":
            items: list[Any] = []
            while self.peek().text != "]" or self.peek().kind != "op":
                v = self.next()
                if v.kind in ("num", "str"):
                    items.append(v.value)
                elif v.kind == "kw" and v.text in ("true", "false", "null"):
                    items.append({"true": True, "false": False, "null": None}[v.text])
                else:
                    got = "the end" if v.kind == "end" else repr(v.text)
                    raise self.fail(v, f"a list holds literals, got {got}")
                if self.peek().text == ",":
                    self.next()
                elif self.peek().text != "]":
                    raise self.fail(self.peek(), "expected ',' or ']' in a list")
            self.next()
            return ("lit", items)
        got = "the end of the condition" if t.kind == "end" else repr(t.text)
        raise self.fail(t, f"expected a value, got {got}")

    def led(self, t: Tok, left: tuple[Any, ...]) -> tuple[Any, ...]:
        if t.text in ("and", "or"):
            return (t.text, left, self.expr(_LBP[t.text]))
        op = t.text
        if left[0] == "cmp" or left[0] == "match":
            raise self.fail(t, f"comparisons do not chain: use `and` before {op!r}")
        if op in ("=~", "!~"):
            r = self.next()
            if r.kind != "str":
                raise self.fail(r, f"{op} takes a string literal (a regular expression)")
            try:
                rx = Rx(r.value)
            except ValueError as exc:
                raise self.fail(r, f"bad regular expression: {exc}") from None
            return ("match", op == "!~", left, rx)
        right = self.expr(40)
        if right[0] in ("cmp", "match"):
            raise self.fail(t, f"comparisons do not chain: use `and` after {op!r}")
        return ("cmp", op, left, right)

    def path(self, t: Tok) -> Any:
        try:
            return parse_path(t.text)
        except ValueError as exc:
            raise self.fail(t, str(exc)) from None


class Rx:
    """A regex searched under grok's bounded-cost rule."""

    __slots__ = ("fast", "limit", "pattern", "slow")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.slow: Any = None
        pattern = atomic_possessives(pattern)  # right on CPython < 3.11.5 too (gh-106052)
        try:
            self.fast: Any = re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            self.fast = None
            try:
                self.slow = regex_mod.compile(pattern)
            except Exception:
                raise ValueError(str(exc)) from None
        self.limit = -1
        if self.fast is not None:
            try:
                est = estimate(pattern, 0)
                if not est.exponential:
                    self.limit = (
                        1 << 62
                        if est.degree <= 1
                        else int((_RE_STEPS_PER_S * REGEX_TIMEOUT) ** (1.0 / est.degree))
                    )
            except Exception:
                self.limit = -1
        if self.limit < (1 << 62) and self.slow is None:
            self.slow = regex_mod.compile(pattern)

    def search(self, s: str) -> bool:
        if len(s) <= self.limit:
            return self.fast.search(s) is not None
        try:
            return self.slow.search(s, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            return False


def parse(text: str) -> tuple[Any, ...]:
    """The parse tree of a condition (:class:`ConditionError` when it does not parse)."""
    return _Parser(text).parse()


# -- semantics --------------------------------------------------------------------------
_NUMERIC = re.compile(r"\s*[-+]?(?:\d|\.\d|inf|nan)", re.IGNORECASE).match


def _num(v: Any) -> Any:
    """A number for a number or a string that spells one; None otherwise."""
    t = type(v)
    if t is int or t is float:
        return v
    if t is str:
        if not _NUMERIC(v):
            return None
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return None
    return None


def values_equal(a: Any, b: Any) -> bool:
    if a is MISSING:
        a = None
    if b is MISSING:
        b = None
    ta, tb = type(a), type(b)
    if ta is tb:
        return bool(a == b)
    na = ta is int or ta is float
    nb = tb is int or tb is float
    if na and nb:
        return bool(a == b)
    if (na and tb is str) or (nb and ta is str):
        x, y = _num(a), _num(b)
        return x is not None and y is not None and x == y
    return False


def _order(op: str, a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    na = ta is int or ta is float
    nb = tb is int or tb is float
    if not (na and nb):
        if ta is str and tb is str:
            pass
        elif na and tb is str:
            b = _num(b)
            if b is None:
                return False
        elif nb and ta is str:
            a = _num(a)
            if a is None:
                return False
        else:
            return False
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return False


def _member(a: Any, b: Any) -> bool:
    if a is MISSING:
        a = None
    tb = type(b)
    if tb is list:
        if type(a) is str:
            for x in b:
                if x == a if type(x) is str else values_equal(a, x):
                    return True
            return False
        return any(values_equal(a, x) for x in b)
    if tb is dict:
        return type(a) is str and a in b
    if tb is str:
        return type(a) is str and a in b
    return False


def _truthy(v: Any) -> bool:
    return v is not MISSING and bool(v)


def _regex_subject(v: Any) -> str | None:
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if t is int or t is float:
        return str(v)
    return None


# -- compiling ----------------------------------------------------------------------------
Pred = Callable[[Message], bool]
Getter = Callable[[Message], Any]


def _value(node: tuple[Any, ...]) -> Getter:
    kind = node[0]
    if kind == "lit":
        v = node[1]
        return lambda m: v
    if kind == "path":
        return node[1].get  # type: ignore[no-any-return]
    p = _pred(node)
    return p  # a boolean sub-expression used as a value


def _pred(node: tuple[Any, ...]) -> Pred:
    kind = node[0]
    if kind == "lit":
        c = _truthy(node[1])
        return lambda m: c
    if kind == "path":
        g = node[1].get

        def truthy(m: Message) -> bool:
            v = g(m)
            return v is not MISSING and bool(v)

        return truthy
    if kind == "exists":
        g = node[1].get
        return lambda m: g(m) is not MISSING
    if kind == "not":
        p = _pred(node[1])
        return lambda m: not p(m)
    if kind == "and":
        a, b = _pred(node[1]), _pred(node[2])
        return lambda m: a(m) and b(m)
    if kind == "or":
        a, b = _pred(node[1]), _pred(node[2])
        return lambda m: a(m) or b(m)
    if kind == "match":
        _, negate, left, rx = node
        g = _value(left)
        search = rx.search

        def match(m: Message) -> bool:
            v = g(m)
            if type(v) is not str:
                v = _regex_subject(v)
                if v is None:
                    return negate  # type: ignore[no-any-return]
            return search(v) is not negate

        return match
    _, op, left, right = node
    return _compare(op, left, right)


def _compare(op: str, left: tuple[Any, ...], right: tuple[Any, ...]) -> Pred:
    # the usual shapes get a closure of their own: a path against a literal
    if left[0] == "path" and right[0] == "lit":
        g = left[1].get
        lit = right[1]
        tl = type(lit)
        if op in ("==", "!=") and tl is str:
            neg = op == "!="
            p = left[1]
            if p.root == "fields" and len(p.keys) == 1:  # the commonest: one field, inlined
                k = p.keys[0]

                def eq_field(m: Message) -> bool:
                    f = m._fields
                    if type(f) is bytes:
                        f = fields_of(m)
                    v = f.get(k, MISSING) if f else MISSING
                    if type(v) is str:
                        return (v == lit) is not neg
                    return values_equal(v, lit) is not neg

                return eq_field

            def eq_str(m: Message) -> bool:
                v = g(m)
                if type(v) is str:
                    return (v == lit) is not neg
                return values_equal(v, lit) is not neg

            return eq_str
        if op in ("==", "!=") and (tl is int or tl is float):
            neg = op == "!="

            def eq_num(m: Message) -> bool:
                v = g(m)
                t = type(v)
                if t is int or t is float:
                    return (v == lit) is not neg
                return values_equal(v, lit) is not neg

            return eq_num
        if op in ("<", "<=", ">", ">=") and (tl is int or tl is float):
            import operator

            f = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

            def order_num(m: Message) -> bool:
                v = g(m)
                t = type(v)
                if t is int or t is float:
                    return f(v, lit)  # type: ignore[no-any-return]
                return _order(op, v, lit)

            return order_num
    if op == "in" and left[0] == "lit" and type(left[1]) is str and right[0] == "path":
        s = left[1]
        if right[1].root == "tags":  # tags are strings

            def in_tags(m: Message) -> bool:
                t = m._tags
                return s in t if t else False

            return in_tags
        g = right[1].get

        def lit_in(m: Message) -> bool:
            v = g(m)
            if type(v) is list:
                return s in v or _member(s, v)
            return _member(s, v)

        return lit_in
    a, b = _value(left), _value(right)
    if op == "==":
        return lambda m: values_equal(a(m), b(m))
    if op == "!=":
        return lambda m: not values_equal(a(m), b(m))
    if op == "in":
        return lambda m: _member(a(m), b(m))
    return lambda m: _order(op, a(m), b(m))


class Condition:
    """A compiled condition: ``cond(m)`` is True or False, never raises."""

    __slots__ = ("test", "text", "tree")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = parse(text)
        self.test: Pred = _pred(self.tree)

    def __call__(self, m: Message) -> bool:
        return self.test(m)

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def compile_condition(text: str) -> Condition:
    """Parse and compile ``text`` (:class:`ConditionError` with line and column)."""
    return Condition(text)
