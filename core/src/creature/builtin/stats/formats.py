"""`creature stats` output: a table (sizes for people), JSON (bytes and seconds), or the Prometheus text format.

The Prometheus text exposition format is what node_exporter's textfile collector reads: write it to a
*.prom file in its directory (`creature stats --format prometheus --output DIR/creature.prom`, which renames
the file into place so the collector never reads half of it).
"""

from __future__ import annotations

import json

COLUMNS = ["name", "driver", "cpu", "cpu_seconds", "memory", "disk", "rx", "tx"]

# metric name, type, help, the row key it comes from
METRICS = [
    ("creature_machine_cpu_seconds_total", "counter", "CPU time the machine has used, as the host counts its cgroup or hypervisor processes.", "cpu_seconds"),
    ("creature_machine_cpu_percent", "gauge", "CPU use over the sampling interval; 100 is one CPU busy.", "cpu_percent"),
    ("creature_machine_memory_used_bytes", "gauge", "Memory the machine uses on the host (a container's cgroup without inactive page cache, a VM's resident memory).", "memory_used"),
    ("creature_machine_memory_limit_bytes", "gauge", "The machine's memory limit.", "memory_limit"),
    ("creature_machine_disk_used_bytes", "gauge", "Bytes the machine's own disk or writable layer holds.", "disk_used"),
    ("creature_machine_disk_limit_bytes", "gauge", "The size its disk or writable layer cannot grow past.", "disk_limit"),
]
NIC_METRICS = [
    ("creature_machine_network_receive_bytes_total", "counter", "Bytes the machine received on the NIC.", "rx_bytes"),
    ("creature_machine_network_transmit_bytes_total", "counter", "Bytes the machine sent on the NIC.", "tx_bytes"),
]


def size(value: int | None) -> str:
    """Bytes for people: 1.5G, 230M, 12K."""
    if value is None:
        return "-"
    for unit, scale in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value}B"


def _pair(used: int | None, limit: int | None) -> str:
    return size(used) if limit is None else f"{size(used)}/{size(limit)}"


def table_rows(rows: list[dict]) -> list[dict]:
    """The table's cells: percent and seconds of CPU, used/limit of memory and disk, network totals over the NICs."""
    return [{"name": r["name"], "driver": r["driver"],
             "cpu": "-" if r["cpu_percent"] is None else f"{r['cpu_percent']:.1f}%",
             "cpu_seconds": f"{r['cpu_seconds']:.1f}s", "memory": _pair(r["memory_used"], r["memory_limit"]),
             "disk": _pair(r["disk_used"], r["disk_limit"]),
             "rx": size(sum(n["rx_bytes"] for n in r["nics"])) if r["nics"] else "-",
             "tx": size(sum(n["tx_bytes"] for n in r["nics"])) if r["nics"] else "-"} for r in rows]


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items() if v is not None) + "}"


def _number(value) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def prometheus(rows: list[dict]) -> str:
    """The rows in the Prometheus text exposition format (version 0.0.4): HELP and TYPE once per metric family."""
    lines = []
    for metric, kind, text, key in METRICS:
        samples = [f"{metric}{_labels(machine=r['name'], driver=r['driver'])} {_number(r[key])}" for r in rows if r[key] is not None]
        if samples:
            lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}", *samples]
    for metric, kind, text, key in NIC_METRICS:
        samples = [f"{metric}{_labels(machine=r['name'], driver=r['driver'], nic=n['name'], mac=n['mac'])} {n[key]}"
                   for r in rows for n in r["nics"]]
        if samples:
            lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}", *samples]
    return "".join(line + "\n" for line in lines)


def render(rows: list[dict], fmt: str, compact: bool = False) -> str:
    """The text `stats` prints for fmt: a table of plain columns, JSON (compact: one line, for a stream), Prometheus."""
    if fmt == "json":
        return json.dumps(rows, indent=None if compact else 2) + "\n"
    if fmt == "prometheus":
        return prometheus(rows)
    cells = [[c.upper().replace("_", "-") for c in COLUMNS]] + [[row[c] for c in COLUMNS] for row in table_rows(rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    return "".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in cells)
