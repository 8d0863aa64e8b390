"""The grok compiler: syntax, Logstash semantics, Oniguruma translation, pattern files."""

from __future__ import annotations

from pathlib import Path

import pytest

from qframe.grok import Grok, GrokError, PatternLibrary, field_path, parse_patterns


def test_a_typed_capture_converts_to_int_and_float() -> None:
    g = Grok("%{NUMBER:bytes:int} %{NUMBER:ratio:float} %{NUMBER:raw}")
    assert g.match("size 2326 0.75 42") == {"bytes": 2326, "ratio": 0.75, "raw": "42"}


def test_an_int_capture_of_a_decimal_keeps_its_integer_part() -> None:
    assert Grok("%{NUMBER:n:int}").match("took 1.9s") == {"n": 1}


def test_an_unknown_type_is_an_error() -> None:
    with pytest.raises(GrokError, match="unknown type"):
        Grok("%{NUMBER:n:bool}")


def test_search_semantics_match_anywhere_in_the_line() -> None:
    assert Grok("user=%{WORD:user}").match("login ok user=alice from x") == {"user": "alice"}


def test_a_line_without_the_pattern_does_not_match() -> None:
    assert Grok("user=%{WORD:user}").match("login ok") is None


def test_dot_matches_newlines_as_in_logstash() -> None:
    assert Grok("^%{WORD:a}%{GREEDYDATA:rest}").match("one\ntwo") == {"a": "one", "rest": "\ntwo"}


def test_caret_matches_at_a_line_start_as_in_oniguruma() -> None:
    assert Grok("^ERROR %{GREEDYDATA:e}").match("ok\nERROR disk full") == {"e": "disk full"}


def test_empty_captures_are_left_out_unless_kept() -> None:
    pattern = "a=%{DATA:a};b=(?<b>x?);"
    assert Grok(pattern).match("a=;b=;") == {}
    assert Grok(pattern, keep_empty=True).match("a=;b=;") == {"a": "", "b": ""}


def test_the_first_non_empty_capture_wins_when_a_name_repeats() -> None:
    g = Grok("(?:%{INT:n}|x:%{WORD:n})-(?<n>\\w+)")
    assert g.match("x:abc-def") == {"n": "abc"}
    assert g.match("12-def") == {"n": "12"}


def test_a_repeated_name_with_different_types_converts_the_winner() -> None:
    g = Grok("(?:i%{INT:v:int}|s:%{WORD:v})")
    assert g.match("i42") == {"v": 42}
    assert g.match("s:abc") == {"v": "abc"}
    # a numeric text in the untyped alternative stays a string (each capture its own type)
    assert g.match("s:123") == {"v": "123"}
    # and the typed alternative converts when it is not the first one
    g = Grok("(?:s:%{WORD:v}|i%{INT:v:int}|f%{NUMBER:v:float})")
    assert g.match("s:7") == {"v": "7"}
    assert g.match("i42") == {"v": 42}
    assert g.match("f2.5") == {"v": 2.5}


def test_fields_of_different_types_in_one_pattern_each_keep_their_own() -> None:
    g = Grok("%{WORD:s} %{INT:n:int} %{NUMBER:x:float} %{INT:raw}")
    assert g.match("123 45 6.5 78") == {"s": "123", "n": 45, "x": 6.5, "raw": "78"}


def test_oniguruma_named_groups_capture_fields() -> None:
    assert Grok(r"(?<user>\w+)@(?<host>[\w.]+)").match("mail alice@example.org") == {
        "user": "alice",
        "host": "example.org",
    }


def test_bracket_and_dotted_field_names_nest() -> None:
    g = Grok("%{WORD:[http][verb]} %{NUMBER:http.status:int} (?<[client][ip]>%{IP})")
    assert g.match("GET 200 10.0.0.1") == {
        "http": {"verb": "GET", "status": 200},
        "client": {"ip": "10.0.0.1"},
    }


def test_field_path_parses_both_notations() -> None:
    assert field_path("[a][b]") == ("a", "b")
    assert field_path("a.b.c") == ("a", "b", "c")
    assert field_path("plain") == ("plain",)
    with pytest.raises(GrokError):
        field_path("[a]b")


def test_nested_and_custom_patterns_expand_recursively() -> None:
    lib = PatternLibrary({"PAIR": "%{WORD:key}=%{VALUE:value}", "VALUE": "%{INT}|%{WORD}"})
    assert Grok("%{PAIR} and %{PAIR:whole}", lib).match("a=1 and b=x") == {
        "key": "a",
        "value": "1",
        "whole": "b=x",
    }


def test_a_referenced_pattern_keeps_its_own_alternation_grouped() -> None:
    lib = PatternLibrary({"AB": "a|b"})
    assert Grok("x%{AB:v}y", lib).match("xby") == {"v": "b"}
    assert Grok("x%{AB:v}y", lib).match("ay") is None


def test_inline_patterns_override_builtins() -> None:
    lib = PatternLibrary({"WORD": "[a-z]+"})
    assert Grok("%{WORD:w}", lib).match("ABC def") == {"w": "def"}


def test_an_unknown_pattern_name_suggests_close_names() -> None:
    with pytest.raises(GrokError, match=r"did you mean.*COMBINEDAPACHELOG"):
        Grok("%{COMBINEDAPACHLOG}")


def test_a_recursive_pattern_is_an_error() -> None:
    lib = PatternLibrary({"A": "x%{B}", "B": "y%{A}"})
    with pytest.raises(GrokError, match=r"recursive pattern: .*A.*B.*A"):
        Grok("%{A}", lib)


def test_an_invalid_regex_is_an_error() -> None:
    with pytest.raises(GrokError, match="missing"):
        Grok("%{WORD:w}(unclosed")
    with pytest.raises(GrokError, match="does not compile"):
        Grok("%{WORD:w}a{3,2}")
    with pytest.raises(GrokError, match=r"<pattern>: empty range in char class"):
        Grok("%{WORD:w}[z-a]")


def test_oniguruma_escapes_and_flags_are_translated() -> None:
    assert Grok(r"(?<h>\h+)\z").match("id 00ff") == {"h": "00ff"}
    assert Grok(r"x(?i)(?<w>abc)").match("XABC") is None  # the flag starts after x
    assert Grok(r"x(?i)(?<w>abc)").match("xAbC") == {"w": "AbC"}
    assert Grok(r"(?m)a.b").match("a\nb") is not None  # Ruby's m: dot matches newline
    assert Grok(r"(?<w>[[:alpha:]]+)").match("123abc") == {"w": "abc"}
    assert Grok(r"(?<w>\w+)-\k<w>").match("ab-ab") == {"w": "ab"}
    assert Grok(r"(?<w>\w+)-\k<w>").match("ab-cd") is None


def test_plain_groups_do_not_capture() -> None:
    g = Grok("(a)(b) %{WORD:w}")
    assert g.match("ab xyz") == {"w": "xyz"}
    assert g.fast is not None and g.fast.groups == 1


def test_a_pattern_the_fast_engine_cannot_compile_uses_the_bounded_engine() -> None:
    g = Grok(r"(?<w>\p{Lu}+)")
    assert g.fast is None and g.engine == "regex"
    assert g.match("abc ÄBC") == {"w": "ÄBC"}


def test_logstash_pattern_files_parse_with_comments_and_blank_lines() -> None:
    text = "# comment\n\nMYNUM \\d+\n  INDENTED [a-z]+ with spaces \nREF %{MYNUM:n}\n"
    assert parse_patterns(text) == {
        "MYNUM": "\\d+",
        "INDENTED": "[a-z]+ with spaces ",
        "REF": "%{MYNUM:n}",
    }


def test_a_malformed_pattern_line_names_file_and_line() -> None:
    with pytest.raises(GrokError, match=r"f\.grok:2"):
        parse_patterns("OK x\nNOREGEX\n", "f.grok")


def test_a_pattern_dir_in_logstash_format_adds_and_overrides_patterns(tmp_path: Path) -> None:
    (tmp_path / "postfix").write_text(
        "# Logstash-style file, no extension\n"
        "POSTFIX_QUEUEID [0-9A-F]{6,}\n"
        "POSTFIX_LINE %{SYSLOGBASE} %{POSTFIX_QUEUEID:queue_id}: %{GREEDYDATA:detail}\n"
    )
    (tmp_path / "override.grok").write_text("USERNAME [a-z]+\n")
    (tmp_path / ".hidden").write_text("BROKEN\n")
    lib = PatternLibrary()
    lib.add_dir(tmp_path)
    line = "Nov 26 05:00:01 mx1 postfix/smtpd[99]: 4F2A3B1C: client=unknown"
    assert Grok("%{POSTFIX_LINE}", lib).match(line) == {
        "timestamp": "Nov 26 05:00:01",
        "logsource": "mx1",
        "program": "postfix/smtpd",
        "pid": "99",
        "queue_id": "4F2A3B1C",
        "detail": "client=unknown",
    }
    assert Grok("%{USER:u}", lib).match("Bob9 x") == {"u": "ob"}
    assert lib.sources["POSTFIX_QUEUEID"].endswith("postfix")


def test_a_missing_pattern_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GrokError, match="not a directory"):
        PatternLibrary().add_dir(tmp_path / "nope")


def test_uri_and_windows_path_starts_are_the_leftmost_possible() -> None:
    assert Grok("%{URIPROTO:p}://").match("1abc://x") == {"p": "abc"}
    assert Grok("%{URIPROTO:p}://").match("see git+ssh://host") == {"p": "git+ssh"}
    assert Grok("%{WINPATH:p}").match("at xC:\\temp\\a") == {"p": "xC:\\temp\\a"}


def test_fields_nest_three_levels_deep() -> None:
    g = Grok("%{WORD:[a][b][c]} %{INT:[a][b][d]:int} %{WORD:x.y.z}")
    assert g.match("v 7 w") == {"a": {"b": {"c": "v", "d": 7}}, "x": {"y": {"z": "w"}}}


def test_an_empty_capture_of_mixed_types_is_kept_as_empty_text_when_asked() -> None:
    pattern = "k=(?:i%{INT:v:int}|s:%{WORD:v})?;"
    assert Grok(pattern).match("k=;") == {}
    assert Grok(pattern, keep_empty=True).match("k=;") == {"v": ""}
    assert Grok(pattern, keep_empty=True).match("k=i5;") == {"v": 5}
