"""The embedded default pipeline (``qframe run`` without ``-c`` and without ./qframe.yml)."""

from __future__ import annotations

import os
import socket

DOCKER_PIPELINE = """\
# qframe's embedded default pipeline: a Docker API socket answered.
log: {level: info}
tick: 5s
http: ${QFRAME_HTTP:-127.0.0.1:8123}
data-dir: ${QFRAME_DATA_DIR:-.qframe}
collector:
  docker-events: {}
  docker-logs: {inputs: [docker-events]}
  docker-stats: {inputs: [docker-events]}
filter:
  inventory: {inputs: [docker-events]}
  metrics: {kind: docker-stats, inputs: [collector.docker-stats]}
handler:
  log: {inputs: [docker-events, docker-logs, metrics], format: "${QFRAME_LOG_FORMAT:-text}"}
"""

NETWORK_PIPELINE = """\
# qframe's embedded default pipeline: no Docker API socket answered, so listen instead.
log: {level: info}
tick: 5s
http: ${QFRAME_HTTP:-127.0.0.1:8123}
data-dir: ${QFRAME_DATA_DIR:-.qframe}
collector:
  tcp: {bind-host: "${QFRAME_BIND:-127.0.0.1}", bind-port: 11001}
  gelf: {bind-host: "${QFRAME_BIND:-127.0.0.1}", port: 12201}
handler:
  log: {inputs: [tcp, gelf], format: "${QFRAME_LOG_FORMAT:-text}"}
"""


def docker_socket_answers(timeout: float = 0.5) -> bool:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(host[len("unix://") :])
        elif host.startswith("tcp://"):
            h, _, p = host[len("tcp://") :].rstrip("/").rpartition(":")
            s = socket.create_connection((h, int(p)), timeout)
        else:
            return False
        s.close()
        return True
    except (OSError, ValueError):
        return False


def default_pipeline() -> tuple[str, str]:
    """(name, YAML text) of the embedded pipeline that fits this host."""
    if docker_socket_answers():
        return "<embedded: docker>", DOCKER_PIPELINE
    return "<embedded: network>", NETWORK_PIPELINE
