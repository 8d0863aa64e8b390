"""docker-stats (filter): raw engine stats → Telegraf-compatible metric points."""

from __future__ import annotations

import fnmatch
from collections import OrderedDict
from typing import Any

from ...message import KIND_METRIC, ContainerInfo, Message, Metric
from ...options import Field, PluginOptions, StrList
from ...plugin import Filter

NET_FIELDS = (
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_dropped",
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_dropped",
)
BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive")
MAX_REMEMBERED = 10_000


def _num(v: Any) -> int | float | None:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def cpu_percent(
    total: float, system: float, pre_total: float, pre_system: float, cpus: int
) -> float | None:
    """As the docker CLI: Δcontainer / Δsystem × online CPUs × 100.

    None when there is no previous sample (the engine's first ``precpu_stats`` is empty,
    or Podman's holds zeros) rather than a since-boot average.  At most ``cpus`` × 100:
    an engine that reads the container's and the system's counters at different moments
    (Podman, on a loaded host) can give a larger ratio, which no container can use.
    """
    sys_delta = system - pre_system
    if sys_delta <= 0 or pre_system <= 0 or pre_total <= 0:
        return None
    cpu_delta = total - pre_total
    if cpu_delta <= 0:
        return 0.0
    return min(cpu_delta / sys_delta * cpus * 100.0, cpus * 100.0)


def mem_usage(mem: dict[str, Any]) -> int | float | None:
    """Usage minus the page cache the kernel can drop, as the docker CLI computes it.

    cgroup v1: ``total_inactive_file``; cgroup v2: ``inactive_file``; older engines
    report only ``cache``.
    """
    usage = _num(mem.get("usage"))
    if usage is None:
        return None
    st = mem.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file", "cache"):
        v = _num(st.get(key))
        if v is not None and v < usage:
            return usage - v
    return usage


class DockerStatsFilter(Filter):
    """Turns docker-stats samples into metric points named as Telegraf's docker input.

    Each message with ``fields.stats`` (from the docker-stats collector) becomes one
    message per point (kind ``metric``, ``metric`` = name + fields, ``labels`` = the
    tags, ``container`` kept, ``time`` = the sample's time); other messages pass
    through unchanged, a stats object that cannot be read is dropped and counted
    (``qframe_dropped_total{reason="bad_stats"}``).

    Points (``cpu``/``network``/``device`` are tags):

    - ``docker_container_cpu`` (cpu=cpu-total): ``usage_total``, ``usage_in_usermode``,
      ``usage_in_kernelmode``, ``usage_system``, ``usage_percent`` (Δcontainer/Δsystem
      × online CPUs × 100, as ``docker stats``; left out when the engine gave no
      previous sample and none was seen here), ``throttling_periods``,
      ``throttling_throttled_periods``, ``throttling_throttled_time``; with
      ``per-cpu``: one point per cpu (cpu=cpu0…) with ``usage_total``.
    - ``docker_container_mem``: ``usage`` (minus inactive_file, or cache, as the docker
      CLI), ``limit``, ``usage_percent``, ``max_usage``, ``fail_count``, ``rss`` and every
      number in ``memory_stats.stats`` (cgroup v1/v2 names as the engine gives them).
    - ``docker_container_net`` per interface (network=eth0…) and network=total:
      ``rx_bytes``, ``rx_packets``, ``rx_errors``, ``rx_dropped``, ``tx_*`` alike.
    - ``docker_container_blkio`` per device (device=8:0…) and device=total:
      ``io_service_bytes_recursive_read``, ``…_write`` (and ``_sync``, ``_async``,
      ``_total`` when given), ``io_serviced_recursive_*`` alike.
    - ``docker_container_pids`` (not in Telegraf): ``current``, ``limit``.

    Tags (``labels``): ``container_id``, ``container_name``, ``image_name`` (as run),
    ``container_image`` and ``container_version`` (image name and tag, as Telegraf),
    ``service_name``, ``service_slot``, ``task_slot`` when set, and the container labels
    (``container-labels``, filtered by ``label-include`` / ``label-exclude`` globs,
    dots replaced by ``_`` with ``dedot-labels``).  A sample with an ``id`` gives each
    point the id ``<sample id>:<measurement>[:<cpu|network|device>]``.

    Example (one of the points)::

        {"@timestamp": "2026-11-26T05:37:10.790859Z", "kind": "metric",
         "labels": {"container_id": "8d82…", "container_name": "busy",
                    "image_name": "localhost/busybox:latest", "cpu": "cpu-total", …},
         "metric": {"name": "docker_container_cpu", "type": "gauge",
                    "fields": {"usage_total": 4451437459, "usage_percent": 90.8, …}}}
    """

    class Options(PluginOptions):
        per_cpu: bool = Field(False, description="also emit one docker_container_cpu per CPU")
        per_device: bool = Field(
            True, description="emit net and blkio points per interface and per device"
        )
        total: bool = Field(True, description="emit net and blkio totals (network/device=total)")
        container_labels: bool = Field(True, description="add the container labels as tags")
        label_include: StrList = Field(
            default_factory=list, description="label globs to add as tags (empty: all)"
        )
        label_exclude: StrList = Field(
            default_factory=list, description="label globs never added as tags"
        )
        dedot_labels: bool = Field(False, description="replace dots in label keys with _")

    options: Options
    workers_refused = (
        "it keeps each container's previous CPU sample to compute the next one's delta: "
        "one process must see all of a container's samples"
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        # container id -> (cpu total, system total) of the previous sample
        self._prev: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._tags: dict[str, tuple[ContainerInfo, dict[str, str]]] = {}

    async def process(self, batch: list[Message]) -> list[Message]:
        out: list[Message] = []
        for m in batch:
            stats = m.fields.get("stats") if m.kind == KIND_METRIC else None
            if not isinstance(stats, dict):
                out.append(m)
                continue
            try:
                points = self.points(stats, m.container)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                self.log.debug("bad stats from %s: %r", m.container, exc)
                self.drop(m, "bad_stats")
                continue
            if not points:
                self.drop(m, "bad_stats")
                continue
            tags = self.tags(m.container)
            base = m.id
            first = True
            for name, extra, fields in points:
                p = m if first else m.copy()
                first = False
                p.fields = {}
                p.metric = Metric(name, fields)
                p.labels = {**tags, **extra} if extra else dict(tags)
                p.message = ""
                if m.id:  # one id per point: <sample id>:<measurement>[:<tag value>]
                    p.id = (
                        f"{base}:{name}:{next(iter(extra.values()))}" if extra else f"{base}:{name}"
                    )
                out.append(p)
            if len(points) > 1 and m.ack is not None:
                m.ack.pending += len(points) - 1
        return out

    # -- tags ------------------------------------------------------------------------------
    def tags(self, info: ContainerInfo | None) -> dict[str, str]:
        if info is None:
            return {}
        hit = self._tags.get(info.id)
        if hit is not None and hit[0] is info:
            return hit[1]
        t: dict[str, str] = {}
        if self.options.container_labels:
            for k, v in info.labels.items():
                if self.options.label_include and not any(
                    fnmatch.fnmatchcase(k, g) for g in self.options.label_include
                ):
                    continue
                if any(fnmatch.fnmatchcase(k, g) for g in self.options.label_exclude):
                    continue
                t[k.replace(".", "_") if self.options.dedot_labels else k] = v
        t["container_id"] = info.id
        if info.name:
            t["container_name"] = info.name
        if info.image:
            t["image_name"] = info.image
            image, version = split_image(info.image)
            t["container_image"] = image
            t["container_version"] = version
        for k in ("service_name", "service_slot", "task_slot"):
            v = getattr(info, k)
            if v:
                t[k] = v
        if len(self._tags) > MAX_REMEMBERED:
            self._tags.clear()
        self._tags[info.id] = (info, t)
        return t

    # -- points -------------------------------------------------------------------------------
    def points(
        self, s: dict[str, Any], info: ContainerInfo | None
    ) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        pts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        cid = info.id if info else str(s.get("id") or s.get("Id") or "")
        cpu = s.get("cpu_stats")
        if isinstance(cpu, dict) and isinstance(cpu.get("cpu_usage"), dict):
            pts.extend(self._cpu(cid, cpu, s.get("precpu_stats") or {}))
        mem = s.get("memory_stats")
        if isinstance(mem, dict) and mem:
            f = self._mem(mem)
            if f:
                pts.append(("docker_container_mem", {}, f))
        nets = s.get("networks")
        if isinstance(nets, dict) and nets:
            pts.extend(self._net(nets))
        blk = s.get("blkio_stats")
        if isinstance(blk, dict):
            pts.extend(self._blkio(blk))
        pids = s.get("pids_stats")
        if isinstance(pids, dict) and _num(pids.get("current")) is not None:
            f = {"current": pids["current"]}
            if _num(pids.get("limit")):
                f["limit"] = pids["limit"]
            pts.append(("docker_container_pids", {}, f))
        return pts

    def _cpu(
        self, cid: str, cpu: dict[str, Any], pre: dict[str, Any]
    ) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        u = cpu["cpu_usage"]
        total = _num(u.get("total_usage")) or 0
        system = _num(cpu.get("system_cpu_usage")) or 0
        f: dict[str, Any] = {
            "usage_total": total,
            "usage_in_usermode": _num(u.get("usage_in_usermode")) or 0,
            "usage_in_kernelmode": _num(u.get("usage_in_kernelmode")) or 0,
            "usage_system": system,
        }
        percpu = u.get("percpu_usage") or []
        cpus = _num(cpu.get("online_cpus")) or len(percpu) or 1
        pre_u = pre.get("cpu_usage") or {}
        pre_total = _num(pre_u.get("total_usage")) or 0
        pre_system = _num(pre.get("system_cpu_usage")) or 0
        if (pre_total <= 0 or pre_system <= 0) and cid in self._prev:
            pre_total, pre_system = self._prev[cid]
        pct = cpu_percent(total, system, pre_total, pre_system, int(cpus))
        if pct is not None:
            f["usage_percent"] = pct
        if cid:
            self._prev[cid] = (total, system)
            self._prev.move_to_end(cid)
            if len(self._prev) > MAX_REMEMBERED:
                self._prev.popitem(last=False)
        th = cpu.get("throttling_data") or {}
        for k in ("periods", "throttled_periods", "throttled_time"):
            f[f"throttling_{k}"] = _num(th.get(k)) or 0
        pts = [("docker_container_cpu", {"cpu": "cpu-total"}, f)]
        if self.options.per_cpu:
            for i, v in enumerate(percpu):
                if _num(v) is not None:
                    pts.append(("docker_container_cpu", {"cpu": f"cpu{i}"}, {"usage_total": v}))
        return pts

    def _mem(self, mem: dict[str, Any]) -> dict[str, Any]:
        f: dict[str, Any] = {}
        st = mem.get("stats") or {}
        if isinstance(st, dict):
            for k, v in st.items():
                if _num(v) is not None:
                    f[k] = v
        usage = mem_usage(mem)
        if usage is not None:
            f["usage"] = usage
        limit = _num(mem.get("limit"))
        if limit is not None:
            f["limit"] = limit
            if usage is not None and limit > 0:
                f["usage_percent"] = usage / limit * 100.0
        for src, dst in (("max_usage", "max_usage"), ("failcnt", "fail_count")):
            v = _num(mem.get(src))
            if v is not None:
                f[dst] = v
        rss = _num(st.get("total_rss", st.get("rss", st.get("anon"))))
        if rss is not None:
            f["rss"] = rss
        return f

    def _net(self, nets: dict[str, Any]) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        pts = []
        total = dict.fromkeys(NET_FIELDS, 0)
        for iface, d in nets.items():
            if not isinstance(d, dict):
                continue
            f = {k: d[k] for k in NET_FIELDS if _num(d.get(k)) is not None}
            for k, v in f.items():
                total[k] += v
            if self.options.per_device:
                pts.append(("docker_container_net", {"network": str(iface)}, f))
        if self.options.total:
            pts.append(("docker_container_net", {"network": "total"}, total))
        return pts

    def _blkio(self, blk: dict[str, Any]) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        devices: dict[str, dict[str, Any]] = {}
        total: dict[str, Any] = {f"{k}_{op}": 0 for k in BLKIO_KEYS for op in ("read", "write")}
        for key in BLKIO_KEYS:
            for e in blk.get(key) or []:
                if not isinstance(e, dict) or _num(e.get("value")) is None:
                    continue
                dev = f"{e.get('major', 0)}:{e.get('minor', 0)}"
                field = f"{key}_{str(e.get('op', '')).lower()}"
                d = devices.setdefault(dev, {})
                d[field] = d.get(field, 0) + e["value"]
                total[field] = total.get(field, 0) + e["value"]
        pts = []
        if self.options.per_device:
            pts.extend(("docker_container_blkio", {"device": dev}, f) for dev, f in devices.items())
        if self.options.total:
            pts.append(("docker_container_blkio", {"device": "total"}, total))
        return pts


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/app:1.2`` → (``registry:5000/app``, ``1.2``); no tag → latest."""
    name = image.partition("@")[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, "latest"
