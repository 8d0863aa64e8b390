"""Option validation of the elasticsearch and influxdb handlers (no I/O)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qframe.message import Message
from qframe.plugins.handlers.elasticsearch import ElasticsearchHandler
from qframe.plugins.handlers.elasticsearch.encode import DocumentEncoder
from qframe.plugins.handlers.influxdb import InfluxdbHandler


@pytest.mark.parametrize("index", ["Logs-%Y.%m.%d", "logs-%b", "a b", "_logs", "a:b"])
def test_index_patterns_that_make_invalid_index_names_are_refused(index: str) -> None:
    with pytest.raises(ValidationError, match="lower case"):
        ElasticsearchHandler.Options(index=index)


def test_a_valid_index_pattern_and_the_seed_prefix_are_accepted() -> None:
    assert ElasticsearchHandler.Options(index="logs-%Y.%m.%d-%H").index == "logs-%Y.%m.%d-%H"
    assert (
        ElasticsearchHandler.Options.model_validate({"index-prefix": "apps"}).index_prefix == "apps"
    )
    with pytest.raises(ValidationError):
        ElasticsearchHandler.Options.model_validate({"index-prefix": "Apps"})


def test_the_seed_ticker_msec_sets_the_flush_interval() -> None:
    o = InfluxdbHandler.Options.model_validate({"ticker-msec": 250})
    assert o.ticker_ms == 250
    o = InfluxdbHandler.Options.model_validate({"ticker-msec": 250, "ticker-ms": 100})
    assert o.ticker_ms == 100


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValidationError):
        InfluxdbHandler.Options.model_validate({"databse": "x"})


def test_ids_too_long_for_elasticsearch_are_replaced_by_their_digest() -> None:
    enc = DocumentEncoder("i")
    assert enc.doc_id(Message(id="x" * 512)) == "x" * 512
    long_id = enc.doc_id(Message(id="é" * 300))
    assert long_id.startswith("sha256:") and len(long_id) == 71
    assert enc.doc_id(Message(id="é" * 300)) == long_id
