"""Credentials are given one way, and never shown: config errors, docker engine messages."""

from __future__ import annotations

import pytest

from qframe.config import parse_config
from qframe.docker.client import DockerClient
from qframe.errors import ConfigError
from qframe.registry import Registry
from qframe.urls import check_base_url, has_credentials, redact, redact_text

REG = Registry.discover(load=True)
SECRET = "s3cret-Pw"


def problems(kind: str, opts: str) -> list[str]:
    text = f"collector: {{stdin: {{}}}}\nhandler:\n  out: {{kind: {kind}, inputs: stdin, {opts}}}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, REG, file="p.yml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("kind", "opts", "expected"),
    [
        (
            "elasticsearch",
            f"url: 'http://admin:{SECRET}@es:9200', username: admin, password: {SECRET}",
            "p.yml:3:3: handler.out: credentials both in url (http://***@es:9200) and in "
            "username, password: give them once, in the URL (user:password@) or in the options",
        ),
        (
            "elasticsearch",
            f"url: ['http://es1:9200', 'https://admin:{SECRET}@es2'], api-key: 'id:{SECRET}'",
            "p.yml:3:3: handler.out: credentials both in url (https://***@es2) and in api-key",
        ),
        (
            "elasticsearch",
            f"username: admin, password: {SECRET}, api-key: 'id:{SECRET}'",
            "p.yml:3:3: handler.out: username/password and api-key are two ways to authenticate",
        ),
        (
            "influxdb",
            f"url: 'http://admin:{SECRET}@influx:8086', token: {SECRET}",
            "p.yml:3:3: handler.out: credentials both in url (http://***@influx:8086) and in token",
        ),
        (
            "influxdb",
            f"url: 'http://admin:{SECRET}@influx:8086', username: admin",
            "p.yml:3:3: handler.out: credentials both in url (http://***@influx:8086) and in username",
        ),
        ("influxdb", f"password: {SECRET}", "handler.out: password is set but username is not"),
        ("elasticsearch", "url: 'http://es:92000'", "url 'http://es:92000': not a URL"),
        ("influxdb", "url: 'ftp://influx'", "url 'ftp://influx': scheme 'ftp' is not one of"),
    ],
)
def test_credentials_given_two_ways_are_a_config_error_that_does_not_show_them(
    kind: str, opts: str, expected: str
) -> None:
    (p,) = problems(kind, opts)
    assert p.startswith(expected) or expected in p
    assert SECRET not in p


def test_a_secret_option_of_the_wrong_type_is_not_echoed() -> None:
    (p,) = problems("elasticsearch", "username: admin, password: 918273645")
    assert p == "p.yml:3:62: handler.out.password: Input should be a valid string"
    (p,) = problems("elasticsearch", f"url: {{a: 'http://u:{SECRET}@h'}}")
    assert SECRET not in p


@pytest.mark.parametrize(
    "opts",
    [
        f"url: 'http://admin:{SECRET}@es:9200'",
        f"username: admin, password: {SECRET}",
        f"api-key: 'id:{SECRET}'",
        "url: 'es:9200'",
    ],
)
def test_credentials_given_one_way_are_accepted(opts: str) -> None:
    text = f"collector: {{stdin: {{}}}}\nhandler:\n  out: {{kind: elasticsearch, inputs: stdin, {opts}}}\n"
    spec = parse_config(text, REG, file="p.yml")
    assert SECRET not in spec.describe()


def test_urls_with_credentials_are_found_and_hidden() -> None:
    assert has_credentials("http://a:b@h") and has_credentials("a@h:1")
    assert not has_credentials("http://h:9200/x@y")  # an "@" in the path is not a user
    assert redact("https://admin:pw@h:1/p") == "https://***@h:1/p"
    assert redact("http://h:1/a@b") == "http://h:1/a@b"
    assert (
        redact_text("to tcp://u:p@h:2375 and http://x@y") == "to tcp://***@h:2375 and http://***@y"
    )
    assert check_base_url("h:9200") is None
    assert check_base_url("http://:9") == "no host"


def test_the_docker_client_shows_its_engine_without_credentials() -> None:
    c = DockerClient(f"tcp://admin:{SECRET}@127.0.0.1:2375")
    assert c.shown == "tcp://***@127.0.0.1:2375"
    assert SECRET not in repr(c)
