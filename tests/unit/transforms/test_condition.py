"""The condition language of ``when:`` (qframe.condition): parsing, errors, semantics,
and properties: no input crashes the parser; the compiled closures agree with a plain
reference evaluator written here."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.condition import ConditionError, compile_condition
from qframe.message import ContainerInfo, Message


def msg(**kw: Any) -> Message:
    m = Message(kw.pop("message", "GET /index.html"), fields=kw.pop("fields", None), **kw)
    return m


M = msg(
    fields={"level": "error", "status": "503", "n": 3, "ratio": 0.5, "user": None, "a": {"b": 1}},
    tags=["web", "_grokparsefailure"],
    labels={"env": "prod"},
    container=ContainerInfo(id="c1", name="web-1", labels={"app": "shop"}),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('fields.level == "error"', True),
        ('level == "error"', False),  # level is the message's severity (6), not the field
        ("level == 6", True),
        ('container.name =~ "^web"', True),
        ('container.name !~ "^web"', False),
        ('"_grokparsefailure" in tags', True),
        ('not ("debug" in tags)', True),
        ("fields.status >= 500", True),  # a numeric string against a number
        ('fields.status == "503"', True),
        ("status == 503", True),
        ("n < 3.5 and n > 2", True),
        ("ratio <= 0.5", True),
        ("exists(fields.user)", True),  # present, even if null
        ("exists(fields.nope)", False),
        ("fields.nope == null", True),
        ("user == null", True),
        ("a.b == 1", True),
        ("exists(a.c)", False),
        ('labels.env in ["prod", "staging"]', True),
        ('container.labels.app == "shop"', True),
        ('"b" in a', True),  # a key of a map
        ('"index" in message', True),  # a substring
        ("n in [1, 2, 3]", True),
        ('status in ["503"]', True),
        ("fields.level", True),
        ("fields.nope", False),
        ('fields.level == "error" or fields.nope > 1', True),
        ("not exists(fields.nope) and (n == 3 or n == 4)", True),
        ("fields.level > 1", False),  # a word against a number: false, no error
        ('fields.a < "x"', False),
        ("true and not false", True),
        ("source_success == true", True),
        ('message =~ "^GET\\s/"', True),
        ('"shop" in container.labels', False),
        ('host == ""', True),
    ],
)
def test_semantics(text: str, expected: bool) -> None:
    assert compile_condition(text)(M) is expected


@pytest.mark.parametrize(
    ("text", "line", "col", "why"),
    [
        ("", 1, 1, "empty"),
        ("a ==", 1, 5, "expected a value"),
        ("(a == 1", 1, 8, "expected ')'"),
        ("a =~ b", 1, 6, "string literal"),
        ("a < b < c", 1, 7, "do not chain"),
        ('x =~ "("', 1, 6, "bad regular expression"),
        ("container.foo == 1", 1, 1, "a container has"),
        ("a == 1\n  and $", 2, 7, "unexpected character"),
        ("a == 1 b", 1, 8, "missing `and`/`or`"),
        ("[a] == 1", 1, 2, "a list holds literals"),
        ("exists(1)", 1, 8, "exists() takes a field path"),
        ('"unterminated', 1, 1, "unexpected character"),
    ],
)
def test_errors_carry_line_and_column(text: str, line: int, col: int, why: str) -> None:
    with pytest.raises(ConditionError) as e:
        compile_condition(text)
    assert (e.value.line, e.value.column) == (line, col), str(e.value)
    assert why in str(e.value)


def test_a_hostile_regex_is_bounded() -> None:
    c = compile_condition('message =~ "^(a+)+$"')  # exponential: the interruptible engine
    assert c(msg(message="a" * 20)) is True
    assert c(msg(message="a" * 5000 + "!")) is False  # gives up at the timeout: false


def test_a_possessive_regex_means_the_same_on_every_python() -> None:
    # run as an atomic group: the possessive form matches "a" on CPython < 3.11.5 (gh-106052)
    c = compile_condition('message =~ "^(?:ab?c)*+$"')
    assert c(msg(message="a")) is False
    assert c(msg(message="abcac")) is True


@given(st.text(max_size=60))
@settings(max_examples=400, deadline=None)
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        c = compile_condition(text)
    except ConditionError as e:
        assert e.line >= 1 and e.column >= 1
    else:
        assert c(M) in (True, False)


_TOKENS = st.sampled_from(
    [
        "a", "fields.n", "tags", "message", "==", "!=", "<", ">=", "=~", "in", "and", "or",
        "not", "(", ")", "[", "]", ",", '"x"', "1", "-2.5", "true", "null", "exists(", ".",
    ]
)  # fmt: skip


@given(st.lists(_TOKENS, max_size=12))
@settings(max_examples=400, deadline=None)
def test_no_token_soup_crashes_the_parser(toks: list[str]) -> None:
    try:
        c = compile_condition(" ".join(toks))
    except ConditionError:
        return
    assert c(M) in (True, False)


# -- the reference evaluator ------------------------------------------------------------
ABSENT = object()
PATHS = ["fields.s", "fields.n", "fields.f", "fields.b", "fields.z", "fields.l", "message", "tags"]
LITS = ["x", "10", "abc", "", 1, 10, -3, 2.5, True, False, None]


def ref_get(m: Message, path: str) -> Any:
    if path == "message":
        return m.message
    if path == "tags":
        return list(m.tags)
    return m.fields.get(path.split(".", 1)[1], ABSENT)


def ref_num(v: Any) -> Any:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return None
    return None


def ref_eq(a: Any, b: Any) -> bool:
    a = None if a is ABSENT else a
    b = None if b is ABSENT else b
    if type(a) is type(b):
        return a == b
    num = (int, float)
    if type(a) in num and type(b) in num:
        return a == b
    if (type(a) in num and isinstance(b, str)) or (type(b) in num and isinstance(a, str)):
        x, y = ref_num(a), ref_num(b)
        return x is not None and y is not None and x == y
    return False


def ref_order(op: str, a: Any, b: Any) -> bool:
    num = (int, float)
    if type(a) in num and type(b) in num:
        pass
    elif isinstance(a, str) and isinstance(b, str) and type(a) is str and type(b) is str:
        pass
    elif type(a) in num and type(b) is str:
        b = ref_num(b)
    elif type(b) in num and type(a) is str:
        a = ref_num(a)
    else:
        return False
    if a is None or b is None:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def ref_eval(node: Any, m: Message) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return ref_get(m, node[1])
    if kind == "exists":
        return ref_get(m, node[1]) is not ABSENT
    if kind == "not":
        return not ref_truth(node[1], m)
    if kind == "and":
        return ref_truth(node[1], m) and ref_truth(node[2], m)
    if kind == "or":
        return ref_truth(node[1], m) or ref_truth(node[2], m)
    if kind == "match":
        v = ref_eval(node[2], m)
        if type(v) in (int, float):
            v = str(v)
        if type(v) is not str:
            return node[1] == "!~"
        found = re.search(node[3], v) is not None
        return found if node[1] == "=~" else not found
    op, a, b = node[1], ref_eval(node[2], m), ref_eval(node[3], m)
    if op == "==":
        return ref_eq(a, b)
    if op == "!=":
        return not ref_eq(a, b)
    if op == "in":
        if isinstance(b, list):
            return any(ref_eq(a, x) for x in b)
        if isinstance(b, str | dict):
            return type(a) is str and a in b
        return False
    a = None if a is ABSENT else a
    b = None if b is ABSENT else b
    return ref_order(op, a, b)


def ref_truth(node: Any, m: Message) -> bool:
    v = ref_eval(node, m)
    return v is not ABSENT and bool(v)


def render(node: Any) -> str:
    kind = node[0]
    if kind == "lit":
        return json.dumps(node[1])
    if kind == "path":
        return node[1]
    if kind == "exists":
        return f"exists({node[1]})"
    if kind == "not":
        return f"not ({render(node[1])})"
    if kind in ("and", "or"):
        return f"({render(node[1])}) {kind} ({render(node[2])})"
    if kind == "match":
        return f"{render(node[2])} {node[1]} {json.dumps(node[3])}"
    return f"{render(node[2])} {node[1]} {render(node[3])}"


values = st.one_of(
    st.sampled_from(PATHS).map(lambda p: ("path", p)),
    st.sampled_from(LITS).map(lambda v: ("lit", v)),
    st.lists(st.sampled_from(LITS), max_size=3).map(lambda v: ("lit", v)),
)
atoms = st.one_of(
    st.tuples(
        st.just("cmp"), st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in"]), values, values
    ),
    st.tuples(
        st.just("match"),
        st.sampled_from(["=~", "!~"]),
        values,
        st.sampled_from(["^a", "b$", "1", "x|y"]),
    ),
    st.sampled_from(PATHS).map(lambda p: ("exists", p)),
    values,
)
trees = st.recursive(
    atoms,
    lambda inner: st.one_of(
        inner.map(lambda n: ("not", n)),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=6,
)
field_values = st.one_of(
    st.sampled_from(["x", "10", "abc", "", "ab1", "2.5", "by"]),
    st.integers(-20, 20),
    st.sampled_from([2.5, -0.5, 10.0]),
    st.booleans(),
    st.none(),
)
messages = st.builds(
    lambda fs, text, tags: Message(text, fields=fs, tags=tags),
    st.dictionaries(st.sampled_from(["s", "n", "f", "b", "z", "l"]), field_values, max_size=6),
    st.sampled_from(["", "a message", "xb", "10"]),
    st.lists(st.sampled_from(["x", "abc", "_grokparsefailure"]), max_size=2),
)


@given(trees, messages)
@settings(max_examples=1500, deadline=None)
def test_the_evaluator_agrees_with_the_reference(tree: Any, m: Message) -> None:
    text = render(tree)
    assert compile_condition(text)(m) is ref_truth(tree, m), text
