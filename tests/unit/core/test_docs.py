"""The plugin reference is generated from the code and must be regenerated when it changes."""

from __future__ import annotations

from pathlib import Path

from qframe.docs import render
from qframe.registry import Registry

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def test_docs_plugins_md_matches_the_plugins_schemas_and_docstrings() -> None:
    reg = Registry.discover(load=True)
    assert not reg.broken, f"plugins failed to load: {reg.broken}"
    assert DOCS.read_text() == render(reg), "docs/plugins.md is stale: run `make docs`"


def test_every_built_in_plugin_documents_every_option() -> None:
    reg = Registry.discover(load=True)
    for (type_, kind), cls in reg.plugins.items():
        assert (cls.__doc__ or "").strip(), f"{type_} {kind} has no docstring"
        for name, field in cls.Options.model_fields.items():
            assert field.description, f"{type_} {kind}: option {name} has no description"
