"""The tcp collector's hot path builds exactly what the Message constructor would."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qframe.message import ContainerInfo, Message
from qframe.plugins.collectors.tcp import TcpCollector, line_messages


def test_fast_line_messages_set_every_slot_like_the_constructor() -> None:
    c = ContainerInfo(id="ab" * 32, name="web1")
    (fast,) = line_messages(["hello \ufffd"], 12.5, "10.0.0.1", 4242, "tcp", c)
    slow = Message(
        "hello \ufffd",
        12.5,
        host="10.0.0.1",
        source_path=["tcp"],
        fields={"remote_ip": "10.0.0.1", "remote_port": 4242},
        container=c,
    )
    for slot in Message.__slots__:  # an unset slot raises AttributeError here
        assert getattr(fast, slot) == getattr(slow, slot), slot
    assert fast.to_dict() == slow.to_dict()


def test_each_fast_message_has_its_own_mutable_parts() -> None:
    a, b = line_messages(["a", "b"], 1.0, "10.0.0.1", 1, "tcp", None)
    a.fields["x"] = 1
    a.source_path.append("grok")
    a.add_tag("t")
    assert b.fields == {"remote_ip": "10.0.0.1", "remote_port": 1}
    assert b.source_path == ["tcp"] and b.tags == []


def test_an_unknown_encoding_or_a_key_without_a_certificate_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="unknown encoding"):
        TcpCollector.Options.model_validate({"encoding": "klingon"})
    for lone in ("tls-key", "tls-client-ca"):
        with pytest.raises(ValidationError, match="tls-key and tls-client-ca need tls-cert"):
            TcpCollector.Options.model_validate({lone: "/x.pem"})
    with pytest.raises(ValidationError, match="not ASCII-compatible"):
        TcpCollector.Options.model_validate({"encoding": "utf-16"})
    assert TcpCollector.Options.model_validate({"encoding": "latin-1"}).encoding == "latin-1"


def test_unusable_tls_files_are_named_in_the_start_error(tmp_path) -> None:
    from qframe.plugins.common.stream_server import server_tls

    missing = TcpCollector.Options.model_validate({"tls-cert": str(tmp_path / "none.pem")})
    with pytest.raises(ValueError, match=r"tls-cert .*none\.pem: not a readable file"):
        server_tls(missing)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    garbage = TcpCollector.Options.model_validate({"tls-cert": str(bad)})
    with pytest.raises(ValueError, match=r"TLS files .*bad\.pem"):
        server_tls(garbage)
    assert server_tls(TcpCollector.Options.model_validate({})) is None
