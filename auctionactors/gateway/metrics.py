"""``GET /healthz`` and ``GET /metrics``: what operators and Prometheus read.

The Prometheus text format (version 0.0.4) is written by hand: a dozen series do not justify a
dependency, and the numbers are read straight from the counters the runtime, the store and the
hub already keep.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

from auctionactors.errors import AuctionActorsError
from auctionactors.gateway.hub import Hub
from auctionactors.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def actor_counts(supervisor: Supervisor, hub: Hub) -> dict[str, int]:
    return _counts(supervisor, await _auctions(hub))


def _counts(supervisor: Supervisor, total: int | None) -> dict[str, int]:
    """Actors by status; ``passivated``: the stored auctions (``total``, unknown: 0) without a
    loaded actor."""
    cells = supervisor.cells()
    counts = Counter(c.status for c in cells)
    return {
        "live": counts["live"] + counts["starting"],
        "passivated": max(0, (total or 0) - len(cells)),
        "restarting": counts["restarting"],
        "quarantined": counts["quarantined"],
    }


async def _auctions(hub: Hub) -> int | None:
    """How many auctions the store's catalog holds; None if it cannot tell now (health and
    metrics are answered even while storage is down)."""
    try:
        return await hub.listing.total()
    except AuctionActorsError as exc:
        log.warning("cannot count the auctions: %r", exc)
        return None


async def healthz(supervisor: Supervisor, hub: Hub) -> bytes:
    total = await _auctions(hub)
    doc = {
        "status": "ok",
        "actors": _counts(supervisor, total),
        "auctions": total,
        "scheduled": len(supervisor.scheduler),
        "connections": hub.stats.connections,
        "render_failures": hub.stats.render_failures,
    }
    return msgspec.json.encode(doc)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_: str) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: str) -> None:
        if labels:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            name = f"{name}{{{inner}}}"
        self.lines.append(f"{name} {_number(value)}")

    def one(self, name: str, kind: str, help_: str, value: float) -> None:
        self.family(name, kind, help_)
        self.sample(name, value)


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


async def render(supervisor: Supervisor, hub: Hub) -> str:
    out = _Text()
    out.family("auctionactors_actors", "gauge", "Auction actors by status.")
    for status, count in (await actor_counts(supervisor, hub)).items():
        out.sample("auctionactors_actors", count, status=status)
    out.one(
        "auctionactors_mailbox_depth",
        "gauge",
        "Messages waiting in all auction mailboxes.",
        sum(c.mailbox for c in supervisor.cells()),
    )
    stats = supervisor.stats
    out.family("auctionactors_commands_total", "counter", "Commands by type and outcome.")
    for (command, outcome), count in sorted(stats.commands.items()):
        out.sample("auctionactors_commands_total", count, command=command, outcome=outcome)
    out.one("auctionactors_actor_restarts_total", "counter", "Actor restarts.", stats.restarts)
    out.one("auctionactors_quarantines_total", "counter", "Actors quarantined.", stats.quarantines)
    out.one(
        "auctionactors_passivations_total", "counter", "Idle actors passivated.", stats.passivations
    )
    out.one(
        "auctionactors_scheduled_auctions",
        "gauge",
        "Auctions with a deadline in the timer heap, loaded or not.",
        len(supervisor.scheduler),
    )
    out.one("auctionactors_commits_total", "counter", "Writes of commands.", stats.commits)
    out.one(
        "auctionactors_committed_commands_total",
        "counter",
        "Commands stored by those writes (per write: the batch size).",
        stats.committed,
    )
    out.one(
        "auctionactors_storage_failures_total",
        "counter",
        "Appends that failed in storage.",
        stats.storage_failures,
    )
    _store(out, getattr(supervisor.store, "stats", None))
    h = hub.stats
    out.one("auctionactors_connections", "gauge", "Open WebSocket sessions.", h.connections)
    out.one("auctionactors_messages_sent_total", "counter", "Frames written to clients.", h.sent)
    out.one(
        "auctionactors_messages_dropped_total",
        "counter",
        "Frames refused because a connection's outbox was full.",
        h.dropped,
    )
    out.one(
        "auctionactors_slow_connections_closed_total",
        "counter",
        "Connections closed with 1013 because they could not keep up.",
        h.slow_closes,
    )
    out.one("auctionactors_updates_total", "counter", "Updates fanned out.", h.updates)
    out.one(
        "auctionactors_update_renders_total",
        "counter",
        "Views rendered for fan-out (one per distinct receiver per update).",
        h.renders,
    )
    out.one(
        "auctionactors_render_failures_total",
        "counter",
        "Views, summaries or updates that could not be rendered (logged; that one skipped).",
        h.render_failures,
    )
    return "\n".join(out.lines) + "\n"


def _store(out: _Text, stats: Any) -> None:
    """The store's writer counters, when the store keeps them (`SqliteEventStore.stats`)."""
    if stats is None:
        return
    counters: Iterable[tuple[str, str]] = (
        ("commits", "Write transactions committed."),
        ("appends", "Appends committed."),
        ("events", "Events committed."),
        ("failed_batches", "Write transactions that failed."),
    )
    for field, help_ in counters:
        value = getattr(stats, field, None)
        if isinstance(value, int):
            out.one(f"auctionactors_store_{field}_total", "counter", help_, value)
    sizes = list(getattr(stats, "batch_sizes", ()) or ())
    commits, appends = getattr(stats, "commits", None), getattr(stats, "appends", None)
    if isinstance(commits, int) and isinstance(appends, int):
        name = "auctionactors_store_append_batch_size"
        out.family(name, "summary", "Appends per commit (group commit); recent quantiles.")
        if sizes:
            for q in (0.5, 0.9, 0.99):
                out.sample(name, _quantile(sizes, q), quantile=str(q))
        out.sample(f"{name}_sum", appends)
        out.sample(f"{name}_count", commits)
    latencies = list(getattr(stats, "commit_latencies_s", ()) or ())
    if latencies:
        name = "auctionactors_store_commit_latency_seconds"
        out.family(name, "summary", "Commit latency, recent quantiles.")
        for q in (0.5, 0.9, 0.99):
            ordered = sorted(latencies)
            out.sample(name, ordered[min(len(ordered) - 1, int(q * len(ordered)))], quantile=str(q))
