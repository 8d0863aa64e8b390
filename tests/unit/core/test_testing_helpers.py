"""qframe.testing's helpers for reading /metrics (shared by the tests of every plugin)."""

from __future__ import annotations

from qframe.telemetry import MetricSpec, PluginMetrics, render_prometheus
from qframe.testing import metric_value


def test_metric_value_sums_the_samples_whose_labels_match() -> None:
    declared = [MetricSpec("rejected", "counter", "lines refused, by reason")]
    a = PluginMetrics("a", "tcp", "collector", declared)
    b = PluginMetrics("b", "tcp", "collector", declared)
    a.inc("rejected", 2, reason="bad")
    a.inc("rejected", 3, reason='we"ird')
    b.inc("rejected", 5, reason="bad")
    text = render_prometheus([a, b])
    assert metric_value(text, "qframe_rejected_total") == 10
    assert metric_value(text, "qframe_rejected_total", reason="bad") == 7
    assert metric_value(text, "qframe_rejected_total", plugin="a", reason="bad") == 2
    assert metric_value(text, "qframe_rejected_total", plugin="a", reason='we\\"ird') == 3
    assert metric_value(text, "qframe_rejected_total", plugin="c") == 0
    assert metric_value(text, "qframe_missing_total") == 0
    assert metric_value("", "qframe_rejected_total") == 0
