"""Synthetic docker-events messages, built per the shared contract (see the preamble of
the docker-events collector): kind ``event``, ``fields`` {action, type, actor_id,
attributes}, ``container`` a ContainerInfo."""

from __future__ import annotations

import hashlib

from qframe.message import KIND_EVENT, ContainerInfo, Message


def cid_for(name: str) -> str:
    """A stable 64-hex container id for a test name."""
    return hashlib.sha256(name.encode()).hexdigest()


def info(
    name: str,
    ip: str = "",
    image: str = "localhost/busybox:latest",
    ips: dict[str, str] | None = None,
    cid: str = "",
) -> ContainerInfo:
    return ContainerInfo(
        id=cid or cid_for(name),
        name=name,
        image=image,
        image_id="sha256:" + "ab" * 32,
        labels={"app": name},
        ips=ips if ips is not None else ({"podman": ip} if ip else {}),
        created="2026-11-26T05:00:00Z",
        command="sleep 3600",
    )


def event(action: str, c: ContainerInfo) -> Message:
    return Message(
        f"{c.name}: container.{action}",
        kind=KIND_EVENT,
        fields={
            "action": action,
            "type": "container",
            "actor_id": c.id,
            "attributes": {"name": c.name, "image": c.image},
        },
        container=c,
    )


def log_line(text: str, **fields: object) -> Message:
    return Message(text, fields=dict(fields))
