"""The nats handler's subject placeholders: values made into valid subject tokens."""

from __future__ import annotations

import pytest

from qframe.message import ContainerInfo, Message
from qframe.plugins.handlers.nats import NatsHandler, subject_template


def test_placeholders_are_filled_and_sanitised() -> None:
    f = subject_template("logs.{kind}.{host}.{container.name}.{fields.app}")
    assert f is not None
    m = Message(
        "x",
        kind="log",
        host="web 1.example.com",
        container=ContainerInfo(name="my.app*"),
        fields={"app": "a>b"},
    )
    assert f(m) == "logs.log.web_1_example_com.my_app_.a_b"
    assert f(Message("x", host="")) == "logs.log._._._"  # an empty value is one token
    assert subject_template("qframe.events") is None


@pytest.mark.parametrize(
    "subject", ["", "a..b", "a.*", "a.>", "has space", "x.{nope}", "x.{fields.}"]
)
def test_bad_subjects_are_config_errors(subject: str) -> None:
    with pytest.raises(ValueError):
        NatsHandler.Options(subject=subject)
