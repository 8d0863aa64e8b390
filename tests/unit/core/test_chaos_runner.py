"""The chaos suite (``make chaos``, not part of the tests) still imports and parses."""

from __future__ import annotations

import pytest
from chaos import run
from chaos.common import Result, parse_metrics


def test_every_scenario_loads_with_a_title_and_run() -> None:
    assert len(set(run.SCENARIOS)) == len(run.SCENARIOS) >= 7
    for name in run.SCENARIOS:
        mod = run.load(name)
        assert mod.NAME == name
        assert mod.TITLE and callable(mod.run)
        assert mod.DEFECT in ("", "1", "2", "3", "4", "5", "6")


def test_cli_parses_quick_and_names_and_rejects_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    args = run.parse_args(["--quick", "tcp_partial", "reload_tcp"])
    assert args.quick and args.scenarios == ["tcp_partial", "reload_tcp"]
    with pytest.raises(SystemExit):
        run.parse_args(["no_such_scenario"])
    assert "unknown scenario" in capsys.readouterr().err
    assert run.main(["--list"]) == 0
    assert "tcp_partial" in capsys.readouterr().out


def test_a_loss_qframe_did_not_count_fails_the_row() -> None:
    r = Result("x", sent=10, delivered=8, counted=1)
    r.delivery_checks()
    assert r.lost == 2 and r.status == "FAIL"
    r = Result("x", sent=10, delivered=8, counted=2)
    r.delivery_checks()
    assert r.status == "PASS"
    assert "| x |" in run.table([Result("tcp_partial", skipped="no service")]).replace(
        "tcp_partial", "x"
    )


def test_metrics_text_is_parsed_with_labels() -> None:
    text = '# HELP a b\nqframe_dropped_total{plugin="in",reason="cut \\"x\\""} 3\nqframe_up 1\n'
    assert parse_metrics(text) == [
        ("qframe_dropped_total", {"plugin": "in", "reason": 'cut \\"x\\"'}, 3.0),
        ("qframe_up", {}, 1.0),
    ]
