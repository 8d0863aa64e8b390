"""Shared pieces of the network tests: pipelines with a real inventory, metrics over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from typing import Any

from qframe.message import KIND_EVENT, ContainerInfo, Message
from qframe.testing import Harness
from tests.services import free_port


def container(name: str, ip: str) -> ContainerInfo:
    return ContainerInfo(
        id=hashlib.sha256(name.encode()).hexdigest(),
        name=name,
        image="localhost/busybox:latest",
        image_id="sha256:" + "cd" * 32,
        labels={"app": name},
        ips={"podman": ip},
        created="2026-11-26T05:00:00Z",
        command="sleep 3600",
    )


def start_event(c: ContainerInfo) -> Message:
    """A docker-events ``start`` message (the shared contract) for the inventory to learn."""
    return Message(
        f"{c.name}: container.start",
        kind=KIND_EVENT,
        fields={
            "action": "start",
            "type": "container",
            "actor_id": c.id,
            "attributes": {"name": c.name, "image": c.image},
        },
        container=c,
    )


def with_inventory(collector: dict[str, Any], name: str = "net") -> dict[str, Any]:
    """collector ``name`` → capture ``out``, plus the real inventory fed by a list collector."""
    return {
        "collector": {"events": {"kind": "list", "linger": True}, name: collector},
        "filter": {"inventory": {"kind": "inventory", "inputs": ["events"]}},
        "handler": {"out": {"kind": "capture", "inputs": [name]}},
    }


async def teach_inventory(h: Harness, *containers: ContainerInfo) -> None:
    await h.plugin("events").send([start_event(c) for c in containers])
    inv = h.plugin("inventory")
    await h.wait_for(
        lambda: inv.metrics.received >= len(containers), what="inventory to see the events"
    )


def http_config(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    port = free_port()
    return {**config, "http": f"127.0.0.1:{port}"}, port


def udp_sender() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


async def send_lines(port: int, lines: list[bytes], host: str = "127.0.0.1") -> None:
    _, w = await asyncio.open_connection(host, port)
    w.write(b"".join(line + b"\n" for line in lines))
    await w.drain()
    w.close()
    await w.wait_closed()
