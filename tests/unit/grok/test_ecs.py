"""The ECS library (ecs-compatibility: v1/v8): the same pattern names as the legacy
library, capturing into nested Elastic Common Schema fields; checked field by field for
the httpd, syslog and haproxy families; and the message → ECS document mapping."""

from __future__ import annotations

import orjson
import pytest

from qframe.ecs import document
from qframe.grok import Grok, GrokError, PatternLibrary
from qframe.message import ContainerInfo, Message
from qframe.plugins.handlers.elasticsearch.encode import DocumentEncoder

from .examples import COMBINED, COMMON, CRON, ERR20, ERR24, NGINX, PAM, SYSLOG
from .families import DOC_HAPROXY_HTTP, DOC_HAPROXY_TCP
from .test_patterns import EXAMPLES as LEGACY_EXAMPLES

ECS = PatternLibrary(ecs="v8")
# the ECS library's own helpers (not in the legacy library)
EXAMPLES = {**LEGACY_EXAMPLES, "HTTPD_QUOTED": (['a \\"b\\" c', ""], ['a"b', "a\\"])}
# RFC 5424, section 6.5, example 1 (the BOM left out)
DOC_RFC5424 = (
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
    "'su root' failed for lonvick on /dev/pts/8"
)
DOC_RFC5424_SD = (  # RFC 5424, section 6.5, example 3
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
    '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event'
)

CASES: list[tuple[str, str, dict[str, object]]] = [
    ("%{COMMONAPACHELOG}", COMMON, {
        "source": {"address": "127.0.0.1"}, "user": {"name": "frank"},
        "timestamp": "10/Oct/2026:13:55:36 -0700",
        "http": {"request": {"method": "GET"}, "version": "1.0",
                 "response": {"status_code": 200, "body": {"bytes": 2326}}},
        "url": {"original": "/apache_pb.gif"}}),
    ("%{COMBINEDAPACHELOG}", COMBINED, {
        "source": {"address": "127.0.0.1"}, "user": {"name": "frank"},
        "timestamp": "10/Oct/2026:13:55:36 -0700",
        "http": {"request": {"method": "GET", "referrer": "http://www.example.com/start.html"},
                 "version": "1.0", "response": {"status_code": 200, "body": {"bytes": 2326}}},
        "url": {"original": "/apache_pb.gif"},
        "user_agent": {"original": "Mozilla/4.08 [en] (Win98; I ;Nav)"}}),
    ("%{NGINXACCESS}", NGINX, {
        "source": {"address": "2001:db8::1"}, "timestamp": "26/Nov/2026:05:00:01 +0000",
        "http": {"request": {"method": "POST"}, "version": "2.0",
                 "response": {"status_code": 201, "body": {"bytes": 17}}},
        "url": {"original": "/api/v1/items?x=1"}, "user_agent": {"original": "curl/8.5.0"}}),
    ("%{HTTPD_ERRORLOG}", ERR20, {
        "timestamp": "Thu Nov 26 05:00:01 2026", "log": {"level": "error"},
        "source": {"address": "10.0.0.1"}, "message": "File does not exist: /var/www/x"}),
    ("%{HTTPD_ERRORLOG}", ERR24, {
        "timestamp": "Thu Nov 26 05:00:01.123456 2026", "apache": {"error": {"module": "core"}},
        "log": {"level": "error"}, "process": {"pid": 1234, "thread": {"id": 5678}},
        "source": {"address": "10.0.0.1", "port": 51234}, "error": {"code": "AH00128"},
        "message": "File does not exist: /var/www/x"}),
    ("%{SYSLOGLINE}", SYSLOG, {
        "timestamp": "Nov 26 05:00:01", "host": {"hostname": "web1"},
        "process": {"name": "sshd", "pid": 123},
        "message": "Accepted publickey for root from 10.0.0.9"}),
    ("%{SYSLOGBASE}", "Nov 26 05:00:01 <4.6> web1 kernel:", {
        "timestamp": "Nov 26 05:00:01", "host": {"hostname": "web1"},
        "log": {"syslog": {"facility": {"code": 4}, "priority": 6}},
        "process": {"name": "kernel"}}),
    ("%{SYSLOGPAMSESSION}", PAM, {
        "timestamp": "Nov 26 05:00:01", "host": {"hostname": "web1"},
        "process": {"name": "sshd", "pid": 1},
        "message": "pam_unix(sshd:session): session opened for user root by (uid=0)",
        "system": {"auth": {"pam": {"module": "pam_unix", "origin": "sshd:session",
                                    "session_state": "opened"}}},
        "user": {"name": "root"}}),
    ("%{CRONLOG}", CRON, {
        "timestamp": "Nov 26 05:00:01", "host": {"hostname": "web1"},
        "process": {"name": "CRON", "pid": 42}, "user": {"name": "root"},
        "system": {"cron": {"action": "CMD"}}, "message": "run-parts /etc/cron.hourly"}),
    ("%{SYSLOG5424LINE}", DOC_RFC5424, {
        "log": {"syslog": {"priority": 34, "version": "1", "appname": "su", "msgid": "ID47"}},
        "timestamp": "2003-10-11T22:14:15.003Z", "host": {"hostname": "mymachine.example.com"},
        "message": "'su root' failed for lonvick on /dev/pts/8"}),
    ("%{SYSLOG5424LINE}", DOC_RFC5424_SD, {
        "log": {"syslog": {"priority": 165, "version": "1", "appname": "evntslog",
                           "msgid": "ID47"}},
        "timestamp": "2003-10-11T22:14:15.003Z", "host": {"hostname": "mymachine.example.com"},
        "system": {"syslog": {"structured_data":
            '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'}},
        "message": "An application event"}),
    ("%{HAPROXYHTTP}", DOC_HAPROXY_HTTP, {
        "timestamp": "Feb  6 12:14:14", "host": {"hostname": "localhost"},
        "process": {"name": "haproxy", "pid": 14389},
        "source": {"address": "10.0.1.2", "port": 33317},
        "haproxy": {
            "request_date": "06/Feb/2009:12:14:14.655", "frontend_name": "http-in",
            "backend_name": "static", "server_name": "srv1",
            "http": {"request": {"time_wait_ms": 10, "time_wait_without_data_ms": 69,
                                 "captured_headers": "1wt.eu"}},
            "total_waiting_time_ms": 0, "connection_wait_time_ms": 30, "total_time_ms": 109,
            "termination_state": "----",
            "connections": {"active": 1, "frontend": 1, "backend": 1, "server": 1,
                            "retries": 0},
            "server_queue": 0, "backend_queue": 0},
        "http": {"response": {"status_code": 200, "bytes": 2750},
                 "request": {"method": "GET"}, "version": "1.1"},
        "url": {"original": "/index.html"}}),
    ("%{HAPROXYTCP}", DOC_HAPROXY_TCP, {
        "timestamp": "Feb  6 12:12:56", "host": {"hostname": "localhost"},
        "process": {"name": "haproxy", "pid": 14387},
        "source": {"address": "10.0.1.2", "port": 33313, "bytes": 212},
        "haproxy": {
            "request_date": "06/Feb/2009:12:12:51.443", "frontend_name": "fnt",
            "backend_name": "bck", "server_name": "srv1", "total_waiting_time_ms": 0,
            "connection_wait_time_ms": 0, "total_time_ms": 5007, "termination_state": "--",
            "connections": {"active": 0, "frontend": 0, "backend": 0, "server": 0,
                            "retries": 3},
            "server_queue": 0, "backend_queue": 0}}),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "line", "expected"), CASES)
def test_ecs_captures_field_by_field(pattern: str, line: str, expected: dict[str, object]) -> None:
    g = Grok(pattern, ECS)
    assert g.match(line) == expected
    assert g.fast is not None and g.slow.search(line).groups() == g.fast.search(line).groups()


@pytest.mark.parametrize(
    ("name", "text", "good"),
    [(n, t, True) for n in ECS.names() for t in EXAMPLES[n][0]]
    + [(n, t, False) for n in ECS.names() for t in EXAMPLES[n][1]],
)
def test_an_ecs_pattern_matches_what_its_legacy_namesake_matches(
    name: str, text: str, good: bool
) -> None:
    assert (Grok(rf"\A%{{{name}}}\z", ECS).match(text) is not None) is good


def test_v1_and_v8_are_the_same_library_and_hold_no_legacy_field_names() -> None:
    assert PatternLibrary(ecs="v1").names() == ECS.names()
    legacy = {"clientip", "verb", "response", "logsource", "program", "client_ip", "pid"}
    for name in ECS.names():
        fields = {f.split(".")[0] for f in Grok(f"%{{{name}}}", ECS).field_names}
        assert not fields & legacy, name


def test_a_legacy_pattern_without_ecs_version_is_refused_with_a_hint() -> None:
    with pytest.raises(GrokError, match="no ECS version"):
        Grok("%{OPENTSDB}", ECS)
    with pytest.raises(GrokError, match="ecs-compatibility"):
        PatternLibrary(ecs="v2")


def message() -> Message:
    m = Message(message=SYSLOG, host="vm1", level=3, time=1_764_133_201.5)
    m.container = ContainerInfo(
        id="c0ffee", name="web1", image="nginx:1.27", image_id="sha256:abc",
        labels={"com.docker.compose.project": "shop"},
    )  # fmt: skip
    m.tags.append("t1")
    m.source_path.extend(["docker-logs", "grok"])
    m.fields.update(Grok("%{SYSLOGLINE}", ECS).match(SYSLOG) or {})
    return m


def test_the_ecs_document_of_a_parsed_container_log_line() -> None:
    doc = document(message())
    assert doc == {
        "@timestamp": "2025-11-26T05:00:01.500000Z",
        "message": "Accepted publickey for root from 10.0.0.9",
        "event": {"kind": "event", "original": SYSLOG},
        "ecs": {"version": "8.11.0"},
        "log": {"level": "error", "syslog": {"severity": {"code": 3}}},
        "host": {"name": "vm1", "hostname": "web1"},
        "container": {
            "id": "c0ffee", "name": "web1",
            "image": {"name": "nginx:1.27", "hash": {"all": ["sha256:abc"]}},
            "labels": {"com_docker_compose_project": "shop"},
        },
        "tags": ["t1"],
        "timestamp": "Nov 26 05:00:01",
        "process": {"name": "sshd", "pid": 123},
        "qframe": {"source_path": ["docker-logs", "grok"]},
    }  # fmt: skip


def test_a_field_that_would_replace_an_ecs_object_goes_under_qframe_fields() -> None:
    m = Message(message="x", host="vm1")
    m.fields.update({"host": "other", "container": {"id": "from-line"}, "event": {"x": 1}})
    doc = document(m)
    assert doc["host"] == {"name": "vm1"}
    assert doc["qframe"]["fields"] == {"host": "other"}
    assert doc["container"] == {"id": "from-line"}
    assert doc["event"] == {"kind": "event", "original": "x", "x": 1}


def test_the_elasticsearch_encoder_writes_the_ecs_shape_when_asked() -> None:
    m = message()
    action, body, _ = DocumentEncoder("logs", ecs=True).encode(m).split(b"\n")
    assert b"logs" in action and orjson.loads(body) == document(m)
    plain = orjson.loads(DocumentEncoder("logs").encode(m).split(b"\n")[1])
    assert plain["host"] == "vm1" and plain["container"]["image"] == "nginx:1.27"
