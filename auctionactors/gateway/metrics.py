"""``GET /healthz`` and ``GET /metrics``: what operators and Prometheus read.

``/metrics`` is `prometheus_client`'s text exposition of one registry per server (`Metrics`;
never the library's global one, so that several servers in one process keep apart):

- histograms, observed as things happen: each request's latency by type and outcome, each
  write's batch size (commands), the store's transactions (appends per commit, BEGIN to COMMIT,
  the COMMIT alone: the fsync), each update's fan-out time and each protocol-2 patch's size;
  kept as plain numbers, without the library's locks, and written out as its histograms would
  be when scraped (`histograms`);
- the counters and gauges the runtime, the store and the hub keep, read when scraped
  (`_Current`), under the names they always had;
- the standard process, platform and garbage-collector metrics of the library.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import msgspec
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from auctionactors.errors import AuctionActorsError
from auctionactors.gateway.histograms import Histogram, Histograms
from auctionactors.gateway.hub import Hub
from auctionactors.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

# What `generate_latest` writes: the classic text format (our names need no escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
BYTES = (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262144, 1048576)


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


class Metrics:
    """One server's registry, its histograms fed by the observers it installs on the
    supervisor's, the store's and the hub's stats (and by the dispatcher, `observe_request`)."""

    def __init__(self, supervisor: Supervisor, hub: Hub) -> None:
        self.supervisor = supervisor
        self.hub = hub
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "auctionactors_command_latency_seconds",
            "Requests (commands and reads) by type and outcome: from the frame's arrival to "
            "the reply.",
            SECONDS,
            ["type", "outcome"],
        )
        self.batches = Histogram(
            "auctionactors_commit_batch_size",
            "Commands stored per write of an auction's actor (its batch).",
            COUNTS,
        )
        self.appends = Histogram(
            "auctionactors_store_append_batch_size",
            "Appends per store transaction (group commit).",
            COUNTS,
        )
        self.commits = Histogram(
            "auctionactors_store_commit_latency_seconds",
            "Store transactions: from BEGIN to the end of COMMIT.",
            SECONDS,
        )
        self.fsyncs = Histogram(
            "auctionactors_store_fsync_seconds",
            "The COMMIT statement of each store transaction (its fsync).",
            SECONDS,
        )
        self.fanouts = Histogram(
            "auctionactors_fanout_latency_seconds",
            "Per update: rendering it for every receiver and handing the frames to the "
            "connections (the store's wait aside).",
            SECONDS,
        )
        self.patches = Histogram(
            "auctionactors_patch_bytes",
            "Protocol-2 update frames with a patch, per receiver and update (bytes).",
            BYTES,
        )
        r.register(
            Histograms(
                self.requests,
                self.batches,
                self.appends,
                self.commits,
                self.fsyncs,
                self.fanouts,
                self.patches,
            )
        )
        self.current = _Current(supervisor, hub)
        r.register(self.current)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        supervisor.stats.observe_batch = self.batches.observe
        hub.stats.observe_fanout = self.fanouts.observe
        hub.stats.observe_patch = self.patches.observe
        store_stats = getattr(supervisor.store, "stats", None)
        if store_stats is not None and hasattr(store_stats, "observe"):
            store_stats.observe = self._observe_commit

    def observe_request(self, type_: str, outcome: str, seconds: float) -> None:
        self.requests.observe_labelled((type_, outcome), seconds)

    def _observe_commit(self, appends: int, seconds: float, fsync_s: float) -> None:
        """On the store's writer thread, the only one writing these three (`histograms`)."""
        self.appends.observe(appends)
        self.commits.observe(seconds)
        self.fsyncs.observe(fsync_s)

    async def render(self) -> bytes:
        self.current.auctions = await _auctions(self.hub)  # read here: collecting cannot wait
        return generate_latest(self.registry)


class _Current(Collector):
    """The counters and gauges kept by the runtime, the store and the hub, read when scraped."""

    def __init__(self, supervisor: Supervisor, hub: Hub) -> None:
        self.supervisor = supervisor
        self.hub = hub
        self.auctions: int | None = None

    def collect(self) -> Iterator[Metric]:
        supervisor, h = self.supervisor, self.hub.stats
        actors = GaugeMetricFamily(
            "auctionactors_actors", "Auction actors by status.", labels=["status"]
        )
        for status, count in _counts(supervisor, self.auctions).items():
            actors.add_metric([status], count)
        yield actors
        yield _gauge(
            "auctionactors_mailbox_depth",
            "Messages waiting in all auction mailboxes.",
            sum(c.mailbox for c in supervisor.cells()),
        )
        stats = supervisor.stats
        commands = CounterMetricFamily(
            "auctionactors_commands", "Commands by type and outcome.", labels=["command", "outcome"]
        )
        for (command, outcome), count in sorted(stats.commands.items()):
            commands.add_metric([command, outcome], count)
        yield commands
        yield _counter("auctionactors_actor_restarts", "Actor restarts.", stats.restarts)
        yield _counter("auctionactors_quarantines", "Actors quarantined.", stats.quarantines)
        yield _counter("auctionactors_passivations", "Idle actors passivated.", stats.passivations)
        yield _gauge(
            "auctionactors_scheduled_auctions",
            "Auctions with a deadline in the timer heap, loaded or not.",
            len(supervisor.scheduler),
        )
        yield _counter("auctionactors_commits", "Writes of commands.", stats.commits)
        yield _counter(
            "auctionactors_committed_commands",
            "Commands stored by those writes (per write: the batch size).",
            stats.committed,
        )
        failures = stats.storage_failures
        yield _counter("auctionactors_storage_failures", "Appends failed in storage.", failures)
        yield from _store(getattr(supervisor.store, "stats", None))
        yield _gauge("auctionactors_connections", "Open WebSocket sessions.", h.connections)
        yield _counter("auctionactors_messages_sent", "Frames written to clients.", h.sent)
        yield _counter(
            "auctionactors_messages_dropped",
            "Frames refused because a connection's outbox was full.",
            h.dropped,
        )
        yield _counter(
            "auctionactors_slow_connections_closed",
            "Connections closed with 1013 because they could not keep up.",
            h.slow_closes,
        )
        yield _counter("auctionactors_updates", "Updates fanned out.", h.updates)
        yield _counter(
            "auctionactors_update_renders",
            "Views rendered for fan-out (one per distinct receiver per update).",
            h.renders,
        )
        yield _counter(
            "auctionactors_render_failures",
            "Views, summaries or updates that could not be rendered (logged; that one skipped).",
            h.render_failures,
        )


def _store(stats: Any) -> Iterator[Metric]:
    """The store's writer counters, when the store keeps them (`SqliteEventStore.stats`)."""
    if stats is None:
        return
    counters = (
        ("commits", "Write transactions committed."),
        ("appends", "Appends committed."),
        ("events", "Events committed."),
        ("failed_batches", "Write transactions that failed."),
    )
    for field, help_ in counters:
        value = getattr(stats, field, None)
        if isinstance(value, int):
            yield _counter(f"auctionactors_store_{field}", help_, value)


def _counter(name: str, help_: str, value: float) -> Metric:
    """``name`` without its ``_total``, which the exposition adds."""
    return CounterMetricFamily(name, help_, value=value)


def _gauge(name: str, help_: str, value: float) -> Metric:
    return GaugeMetricFamily(name, help_, value=value)
