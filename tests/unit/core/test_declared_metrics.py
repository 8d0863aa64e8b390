"""Each plugin declares the metrics it sets (``exported_metrics``), no more and no fewer.

Read from the source: every ``….metrics.inc("name")`` / ``….metrics.set_gauge("name")``
in the modules that make up a plugin (its class's module and its bases' modules, the
rest of its package, the ``qframe.plugins.common`` modules they import).  At run time
tests/conftest.py fails any test in which a plugin sets an undeclared one.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import qframe
from qframe.plugin import Plugin
from qframe.registry import Registry
from qframe.telemetry import MetricSpec, PluginMetrics

ROOT = Path(qframe.__file__).resolve().parent
PLUGINS = ROOT / "plugins"
REGISTRY = Registry.discover(load=True)
CLASSES = sorted(
    {REGISTRY.get(t, k) for t, k in REGISTRY.plugins}, key=lambda c: f"{c.type} {c.kind}"
)
KINDS = {"inc": "counter", "set_gauge": "gauge"}


def _is_metrics(node: ast.expr, names: set[str]) -> bool:
    """``<x>.metrics``, or a name bound to one (``m = plugin.metrics``)."""
    return (isinstance(node, ast.Attribute) and node.attr == "metrics") or (
        isinstance(node, ast.Name) and node.id in names
    )


def _setter(node: ast.expr, names: set[str]) -> str | None:
    """The type set when ``node`` is ``<metrics>.inc`` (counter) or ``.set_gauge`` (gauge)."""
    if isinstance(node, ast.Attribute) and node.attr in KINDS and _is_metrics(node.value, names):
        return KINDS[node.attr]
    return None


def metrics_set_in(path: Path) -> set[tuple[str, str]]:
    tree = ast.parse(path.read_text())
    assigns = [
        (t.id, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    ]
    names = {t for t, v in assigns if _is_metrics(v, set())}  # m = plugin.metrics
    aliases = {t: k for t, v in assigns if (k := _setter(v, names))}  # g = m.set_gauge
    found = set()
    for n in ast.walk(tree):
        if not (isinstance(n, ast.Call) and n.args and isinstance(n.args[0], ast.Constant)):
            continue
        f = n.func
        kind = aliases.get(f.id) if isinstance(f, ast.Name) else _setter(f, names)
        if kind:
            found.add((n.args[0].value, kind))
    return found


def common_imports(path: Path) -> set[Path]:
    """The qframe.plugins.common modules ``path`` imports (relatively, as qframe does)."""
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom) and n.level and n.module:
            base = path.parent
            for _ in range(n.level - 1):
                base = base.parent
            target = base.joinpath(*n.module.split(".")).with_suffix(".py")
            # plugins/common, and the disk buffer (qframe/buffer) the delivering handlers use
            common = target.parent in (PLUGINS / "common", PLUGINS.parent / "buffer")
            if common and target.exists():
                out.add(target)
    return out


def sources(cls: type[Plugin]) -> set[Path]:
    files = set()
    for c in cls.__mro__[:-1]:  # not object
        f = inspect.getsourcefile(c)
        if f and Path(f).resolve().is_relative_to(ROOT):
            files.add(Path(f).resolve())
    own = Path(inspect.getsourcefile(cls) or "").resolve()
    if own.parent.parent in {PLUGINS / "collectors", PLUGINS / "filters", PLUGINS / "handlers"}:
        files |= set(own.parent.glob("*.py"))  # a package plugin
    todo = list(files)
    while todo:  # and the common modules those import
        for f in common_imports(todo.pop()) - files:
            files.add(f)
            todo.append(f)
    return files


def test_every_builtin_plugin_is_checked() -> None:
    assert len(CLASSES) >= 14 and not REGISTRY.broken
    assert all(c.__module__.startswith("qframe.") for c in CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.type}-{c.kind}")
def test_a_plugin_declares_exactly_the_metrics_its_code_sets(cls: type[Plugin]) -> None:
    set_in_code: set[tuple[str, str]] = set()
    for f in sources(cls):
        set_in_code |= metrics_set_in(f)
    declared = {(s.name, s.type) for s in cls.metric_specs()}
    assert set_in_code - declared == set(), "set but not declared"
    assert declared - set_in_code == set(), "declared but never set"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.type}-{c.kind}")
def test_declarations_are_well_formed(cls: type[Plugin]) -> None:
    for s in cls.metric_specs():
        assert isinstance(s, MetricSpec) and s.type in ("counter", "gauge")
        assert s.name.isidentifier() and s.name == s.name.lower() and s.help, s


def test_an_undeclared_metric_is_reported_while_tests_run() -> None:
    seen = PluginMetrics.undeclared
    assert seen is not None  # set by tests/conftest.py for every test
    m = PluginMetrics("p", "k", "collector", [MetricSpec("known", "counter", "a counter")])
    m.inc("known")
    m.set_gauge("known", 1)  # a gauge of the same name is another metric
    assert seen == ["collector k: gauge 'known'"]
    seen.clear()


def test_the_scanner_finds_what_a_plugin_sets(tmp_path: Path) -> None:
    src = tmp_path / "p.py"
    src.write_text(
        "def f(self, plugin):\n"
        "    self.metrics.inc('a', 2, reason='x')\n"
        "    plugin.metrics.set_gauge('b', 1)\n"
        "    g = self.metrics.set_gauge\n"
        "    g('c', 3)\n"
        "    m = plugin.metrics\n"
        "    m.inc('d')\n"
        "    self.other.inc('not_a_metric')\n"
    )
    assert metrics_set_in(src) == {
        ("a", "counter"),
        ("b", "gauge"),
        ("c", "gauge"),
        ("d", "counter"),
    }
