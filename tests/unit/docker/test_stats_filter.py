"""docker-stats filter: recorded engine samples → Telegraf-style points (golden cases)."""

from __future__ import annotations

from typing import Any

import pytest

from qframe.message import ContainerInfo, Message
from qframe.plugins.filters.docker_stats import cpu_percent, mem_usage, split_image
from qframe.testing import Harness

CID = "e9c16a1c03474fd30bf0789dee23ef9ff9625a460f90962834d3055b8be46f1c"

# two consecutive samples of a busy-looping container, as Podman 4.3 sent them (cgroup v1)
PODMAN_1 = {
    "read": "2026-11-26T05:37:05.787500232Z",
    "pids_stats": {"current": 1},
    "blkio_stats": {"io_service_bytes_recursive": []},
    "cpu_stats": {
        "cpu_usage": {"total_usage": 381400101, "percpu_usage": [1, 2]},
        "system_cpu_usage": 232077139352,
        "online_cpus": 2,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    },
    "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
    "memory_stats": {"usage": 712704, "limit": 25276514304},
    "networks": {
        "network": {
            "rx_bytes": 266,
            "rx_packets": 0,
            "rx_errors": 0,
            "rx_dropped": 0,
            "tx_bytes": 536,
            "tx_packets": 0,
            "tx_errors": 0,
            "tx_dropped": 0,
        }
    },
}
PODMAN_2 = {
    **PODMAN_1,
    "read": "2026-11-26T05:37:10.790859864Z",
    "cpu_stats": {
        "cpu_usage": {"total_usage": 4451437459, "percpu_usage": [3, 4]},
        "system_cpu_usage": 241041707088,
        "online_cpus": 2,
    },
    "precpu_stats": {"cpu_usage": {"total_usage": 0}},
}

# a Docker (cgroup v1) sample: precpu filled in, page cache in memory_stats.stats, blkio
DOCKER = {
    "read": "2026-11-26T05:00:01.000000001Z",
    "cpu_stats": {
        "cpu_usage": {
            "total_usage": 2_000_000_000,
            "percpu_usage": [1_500_000_000, 500_000_000],
            "usage_in_kernelmode": 300_000_000,
            "usage_in_usermode": 1_700_000_000,
        },
        "system_cpu_usage": 20_000_000_000,
        "online_cpus": 2,
        "throttling_data": {"periods": 4, "throttled_periods": 1, "throttled_time": 99},
    },
    "precpu_stats": {
        "cpu_usage": {"total_usage": 1_500_000_000},
        "system_cpu_usage": 18_000_000_000,
    },
    "memory_stats": {
        "usage": 10_000_000,
        "max_usage": 12_000_000,
        "failcnt": 0,
        "limit": 100_000_000,
        "stats": {"total_inactive_file": 4_000_000, "cache": 5_000_000, "total_rss": 3_000_000},
    },
    "blkio_stats": {
        "io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "Read", "value": 4096},
            {"major": 8, "minor": 0, "op": "Write", "value": 8192},
            {"major": 8, "minor": 16, "op": "Read", "value": 1},
        ]
    },
    "pids_stats": {"current": 3, "limit": 100},
}


def info() -> dict[str, Any]:
    return ContainerInfo(
        id=CID,
        name="busy",
        image="localhost/busybox:latest",
        labels={"com.example.team": "ops", "tier": "web"},
        service_name="web",
        service_slot="2",
    ).to_dict()


def raw(stats: dict[str, Any]) -> dict[str, Any]:
    m = Message("busy: stats", 1.0, "metric", fields={"stats": stats})
    d = m.to_dict()
    d["container"] = info()
    return d


async def run_filter(samples: list[dict[str, Any]], **opts: Any) -> tuple[list[Message], Any]:
    config = {
        "collector": {"src": {"kind": "list", "ack": True, "messages": [raw(s) for s in samples]}},
        "filter": {"metrics": {"kind": "docker-stats", "inputs": ["src"], **opts}},
        "handler": {"out": {"kind": "capture", "inputs": ["metrics"]}},
    }
    async with Harness(config) as h:
        await h.run_to_completion()
        return h.captured("out"), h.plugin("src")


def points(msgs: list[Message], name: str, **tags: str) -> list[dict[str, Any]]:
    return [
        m.metric.fields
        for m in msgs
        if m.metric and m.metric.name == name and all(m.labels.get(k) == v for k, v in tags.items())
    ]


def test_cpu_percent_is_computed_as_the_docker_cli_does() -> None:
    assert cpu_percent(2.0e9, 20e9, 1.5e9, 18e9, 2) == pytest.approx(50.0)
    assert cpu_percent(1.0, 2.0, 1.0, 1.0, 2) == 0.0
    assert cpu_percent(5.0, 10.0, 0.0, 0.0, 2) is None  # no previous sample
    # counters read at different moments (Podman under load, 972 % seen on 2 cores):
    # never more than every CPU
    assert cpu_percent(2.0e9, 18.1e9, 1.5e9, 18e9, 2) == pytest.approx(200.0)


def test_memory_usage_leaves_out_the_reclaimable_page_cache() -> None:
    assert mem_usage({"usage": 100, "stats": {"total_inactive_file": 30, "cache": 50}}) == 70
    assert mem_usage({"usage": 100, "stats": {"inactive_file": 40}}) == 60
    assert mem_usage({"usage": 100, "stats": {"cache": 50}}) == 50
    assert mem_usage({"usage": 100}) == 100


def test_image_names_split_into_name_and_tag_as_telegraf_tags_them() -> None:
    assert split_image("localhost/busybox:latest") == ("localhost/busybox", "latest")
    assert split_image("registry:5000/app") == ("registry:5000/app", "latest")
    assert split_image("app:1.2@sha256:abc") == ("app", "1.2")


async def test_a_docker_sample_becomes_cpu_mem_net_blkio_and_pids_points() -> None:
    out, src = await run_filter([DOCKER])
    names = sorted({m.metric.name for m in out if m.metric})
    assert names == [
        "docker_container_blkio",
        "docker_container_cpu",
        "docker_container_mem",
        "docker_container_pids",
    ]
    (cpu,) = points(out, "docker_container_cpu", cpu="cpu-total")
    assert cpu["usage_percent"] == pytest.approx(50.0)
    assert cpu["usage_total"] == 2_000_000_000
    assert cpu["usage_in_kernelmode"] == 300_000_000
    assert cpu["usage_in_usermode"] == 1_700_000_000
    assert cpu["usage_system"] == 20_000_000_000
    assert cpu["throttling_throttled_periods"] == 1
    (mem,) = points(out, "docker_container_mem")
    assert mem["usage"] == 6_000_000
    assert mem["limit"] == 100_000_000
    assert mem["usage_percent"] == pytest.approx(6.0)
    assert mem["rss"] == 3_000_000
    assert mem["max_usage"] == 12_000_000 and mem["fail_count"] == 0
    assert points(out, "docker_container_blkio", device="8:0") == [
        {"io_service_bytes_recursive_read": 4096, "io_service_bytes_recursive_write": 8192}
    ]
    (total,) = points(out, "docker_container_blkio", device="total")
    assert total["io_service_bytes_recursive_read"] == 4097
    assert total["io_service_bytes_recursive_write"] == 8192
    assert points(out, "docker_container_pids") == [{"current": 3, "limit": 100}]
    # every point of the sample must be delivered before the sample counts as acknowledged
    assert src.acked == 1


async def test_points_are_tagged_with_the_container_and_its_labels() -> None:
    out, _ = await run_filter([DOCKER])
    m = next(m for m in out if m.metric and m.metric.name == "docker_container_mem")
    assert m.labels == {
        "container_id": CID,
        "container_name": "busy",
        "image_name": "localhost/busybox:latest",
        "container_image": "localhost/busybox",
        "container_version": "latest",
        "service_name": "web",
        "service_slot": "2",
        "com.example.team": "ops",
        "tier": "web",
    }
    assert m.time == pytest.approx(1.0)
    assert m.kind == "metric" and "stats" not in m.fields


async def test_labels_can_be_filtered_and_de_dotted() -> None:
    out, _ = await run_filter([DOCKER], **{"label-exclude": ["tier"], "dedot-labels": True})
    m = next(m for m in out if m.metric and m.metric.name == "docker_container_mem")
    assert m.labels["com_example_team"] == "ops"
    assert "tier" not in m.labels and "com.example.team" not in m.labels
    out, _ = await run_filter([DOCKER], **{"container-labels": False})
    assert "tier" not in out[0].labels


async def test_podman_samples_without_a_previous_sample_use_the_one_seen_before() -> None:
    out, _ = await run_filter([PODMAN_1, PODMAN_2])
    cpu = points(out, "docker_container_cpu", cpu="cpu-total")
    assert "usage_percent" not in cpu[0]  # the first sample has nothing to compare with
    expected = (4451437459 - 381400101) / (241041707088 - 232077139352) * 2 * 100
    assert cpu[1]["usage_percent"] == pytest.approx(expected)
    net = points(out, "docker_container_net", network="network")
    assert net[0]["rx_bytes"] == 266 and net[0]["tx_bytes"] == 536
    total = points(out, "docker_container_net", network="total")
    assert total[0]["tx_bytes"] == 536
    mem = points(out, "docker_container_mem")
    assert mem[0]["usage"] == 712704 and mem[0]["usage_percent"] == pytest.approx(0.00282, 1e-2)


async def test_per_cpu_points_come_when_asked() -> None:
    out, _ = await run_filter([DOCKER], **{"per-cpu": True})
    assert points(out, "docker_container_cpu", cpu="cpu1") == [{"usage_total": 500_000_000}]


async def test_unreadable_stats_are_dropped_and_counted_and_other_messages_pass() -> None:
    bad = Message("x: stats", 1.0, "metric", fields={"stats": {"cpu_stats": "garbage"}}).to_dict()
    plain = Message("just a log line").to_dict()
    config = {
        "collector": {"src": {"kind": "list", "ack": True, "messages": [bad, plain, raw(DOCKER)]}},
        "filter": {"metrics": {"kind": "docker-stats", "inputs": ["src"]}},
        "handler": {"out": {"kind": "capture", "inputs": ["metrics"]}},
    }
    async with Harness(config) as h:
        await h.run_to_completion()
        out = h.captured("out")
        assert [m.message for m in out if not m.metric] == ["just a log line"]
        assert len([m for m in out if m.metric]) == 6  # cpu, mem, pids, blkio 8:0, 8:16, total
        assert h.plugin("metrics").metrics.dropped == {"bad_stats": 1}
        assert h.plugin("src").acked == 3


async def test_each_point_of_a_sample_gets_its_own_id() -> None:
    sample = raw(DOCKER)
    sample["id"] = f"{CID}:stats:t1"
    config = {
        "collector": {"src": {"kind": "list", "messages": [sample]}},
        "filter": {"metrics": {"kind": "docker-stats", "inputs": ["src"]}},
        "handler": {"out": {"kind": "capture", "inputs": ["metrics"]}},
    }
    async with Harness(config) as h:
        await h.run_to_completion()
        ids = [m.id for m in h.captured("out")]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert f"{CID}:stats:t1:docker_container_cpu:cpu-total" in ids
    assert f"{CID}:stats:t1:docker_container_blkio:8:0" in ids
