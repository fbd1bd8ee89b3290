"""``serve`` and ``status`` on a PostgreSQL database: every such ``serve`` is a node of one
cluster (DESIGN.md, "Cluster mode"; docs/cluster.md).

A node opens the PostgreSQL store with its `PartitionFence`, joins (`Ownership`: the node table,
advisory locks, epochs), acts only on auctions of the partitions it owns (`Takeover`) and
forwards the others' commands to their owners over node links (`Links`). All its connections
carry the application name ``auctionactors/NODE`` so that a node that evicts it (paused past its
lease) can end them. ``status --db postgresql://...`` reads the node table: the nodes, their
partitions and their lag (the age of their last heartbeat: a node lagging past the lease is
taken over).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import socket
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from auctionactors.cluster import membership, roles
from auctionactors.cluster.fence import PartitionFence
from auctionactors.cluster.notices import Notices
from auctionactors.cluster.ownership import Ownership, OwnershipConfig
from auctionactors.errors import StorageUnavailable, UsageError
from auctionactors.store.postgres import PostgresEventStore, safe_url


def node_url(url: str, node_id: str) -> str:
    """``url`` with the node's ``application_name`` (asyncpg passes it as a server setting)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "application_name"]
    query.append(("application_name", membership.application_name(node_id)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def node_id_of(args: argparse.Namespace) -> str:
    """``--node-id``, else this host's name and a random suffix (unique per process)."""
    given: str | None = getattr(args, "node_id", None)
    if given is not None:
        try:
            return membership.check_node_id(given)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-.")[:24] or "node"
    return f"{host}-{secrets.token_hex(3)}"


def advertise_of(args: argparse.Namespace, port: int) -> str:
    """``--advertise``, else ``ws://HOST:PORT`` of this serve (a wildcard host is no address
    another node can reach: 127.0.0.1 then, give ``--advertise`` on a real network)."""
    given: str | None = getattr(args, "advertise", None)
    if given:
        return given.rstrip("/")
    host = args.host if args.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"ws://{host}:{port}"


def check_advertise(text: str) -> str:
    """An argparse type: ``ws://HOST:PORT`` or ``wss://HOST:PORT``."""
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.hostname or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"not ws://HOST:PORT: {text!r}")
    try:
        if parts.port is None:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"not ws://HOST:PORT: {text!r}") from None
    return text


def add_options(p: argparse.ArgumentParser) -> None:
    """``serve``'s cluster options (used with ``--db postgresql://...``)."""
    group = p.add_argument_group("cluster (with --db postgresql://USER@HOST:PORT/DB)")
    group.add_argument(
        "--advertise",
        type=check_advertise,
        default=None,
        metavar="ws://HOST:PORT",
        help="the address other nodes reach this one at (default: its --host and --port)",
    )
    group.add_argument(
        "--node-id",
        default=None,
        metavar="ID",
        help="this node's name in the cluster (1-40 letters, digits, _.:-; default: host name "
        "and a random suffix)",
    )
    group.add_argument(
        "--lease",
        type=float,
        default=OwnershipConfig.lease_s,
        metavar="SECONDS",
        help="a node whose heartbeat is older is taken over (a paused node's failover time; "
        f"default {OwnershipConfig.lease_s:g})",
    )


def make_ownership(args: argparse.Namespace) -> tuple[Ownership, PartitionFence]:
    if not 0 < args.lease < 3600:
        raise UsageError(f"--lease must be between 0 and 3600 seconds: {args.lease}")
    config = OwnershipConfig(lease_s=args.lease, tick_s=min(0.5, args.lease / 4))
    node_id = node_id_of(args)
    ownership = Ownership(args.db, node_id, "", config=config)
    return ownership, PartitionFence(ownership)


async def status(args: argparse.Namespace) -> int:
    """The nodes of the cluster, their partitions, heartbeat age and lag (from the database)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(args.db, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise StorageUnavailable(f"cannot reach PostgreSQL: {exc}") from None
    try:
        try:
            rows = await membership.nodes(conn)
        except asyncpg.UndefinedTableError:
            rows = []
        last = 0
        with contextlib.suppress(asyncpg.UndefinedTableError):
            last = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
        reactors = await _reactors(conn, last)
    finally:
        await conn.close()
    nodes: list[dict[str, Any]] = [
        {
            "node_id": r.node_id,
            "advertise": r.advertise,
            "partitions": list(r.partitions),
            "lag_s": round(r.heartbeat_age_s, 3),
        }
        for r in rows
    ]
    if args.json:
        reply = {"nodes": nodes, "last_position": last, "reactors": reactors}
        print(json.dumps(reply, separators=(",", ":")))
        return 0
    print(f"cluster: {len(nodes)} nodes; last event position {last}")
    for n in nodes:
        parts = n["partitions"]
        print(
            f"  {n['node_id']}  {n['advertise']}  {len(parts)} partitions "
            f"{_ranges(parts)}  lag {n['lag_s']:.1f} s (since its last heartbeat)"
        )
    for r in reactors:
        print(
            f"reactor {r['name']}: on {r['node'] or 'no node right now'}, {r['behind']} events "
            f"behind (at {r['position']}), {r['parked']} parked"
        )
    return 0


async def _reactors(conn: Any, last: int) -> list[dict[str, Any]]:
    """Every reactor with the node running it (from the roles), its checkpoint and its lag."""
    import asyncpg

    try:
        positions = await conn.fetch("SELECT reactor, position FROM reactor_checkpoints")
        parked = await conn.fetch(
            "SELECT reactor, count(*) AS n FROM parked_deliveries GROUP BY reactor"
        )
        held = {r.name: r.owner for r in await roles.holders(conn)}
    except asyncpg.UndefinedTableError:
        return []
    parked_of = {r["reactor"]: r["n"] for r in parked}
    return [
        {
            "name": r["reactor"],
            "node": held.get(r["reactor"]),
            "position": r["position"],
            "behind": max(0, last - r["position"]),
            "parked": parked_of.get(r["reactor"], 0),
        }
        for r in sorted(positions, key=lambda r: r["reactor"])
    ]


def _announce(reactor: Any) -> None:
    print(f"auctionactors: reactor {reactor.name} runs here from {reactor.position}", flush=True)


def _ranges(parts: list[int]) -> str:
    """``[0-3,7,9-10]``: partitions as ranges."""
    out: list[str] = []
    for p in parts:
        if out and out[-1].split("-")[-1] == str(p - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{p}"
        else:
            out.append(str(p))
    return "[" + ",".join(out) + "]"


async def serve(args: argparse.Namespace) -> int:
    """Run one node until SIGTERM/SIGINT; then hand its partitions back (their actors drain
    first), close every connection and the store."""
    from auctionactors.cli import notify

    notify.check_options(args)
    ownership, fence = make_ownership(args)  # bad options are refused before anything starts
    from auctionactors.cli.daemon import (
        freeze_heap,
        gateway_config,
        loop_name,
        running,
        stop_signal,
    )
    from auctionactors.gateway.links import Links
    from auctionactors.runtime.cells import SupervisorConfig
    from auctionactors.runtime.clock import SystemClock
    from auctionactors.runtime.leaders import Leaders
    from auctionactors.runtime.supervisor import Supervisor
    from auctionactors.runtime.takeover import Takeover

    def extend(supervisor: Supervisor) -> Links:
        Takeover(supervisor, ownership)
        return Links(supervisor, ownership)

    url = node_url(args.db, ownership.node_id)
    store = await PostgresEventStore.open(url, fence=fence, role_fence=fence)
    try:
        await notify.pin(args, store)
        supervision = SupervisorConfig(
            passivate_after_s=args.passivate_after or None, snapshot_every=args.snapshot_every
        )
        async with running(store, gateway_config(args), supervision=supervision, extend=extend) as (
            gateway,
            count,
        ):
            supervisor = gateway.supervisor
            notices = Notices(url, ownership.node_id, supervisor.notice, supervisor.notice_all)
            stop = stop_signal()
            freeze_heap()
            ownership.advertise = advertise_of(args, gateway.port)
            page = notify.page_url(args, gateway.url)
            clock = SystemClock()
            leaders = Leaders(
                ownership,
                store,
                notify.reactor_names(args),
                lambda name, lead: notify.reactor(args, store, clock, page, name, lead),
                gateway.dispatcher.reactors,
                _announce,
            )
            try:  # (each of these stops is safe on what has not started)
                await notices.start()
                await ownership.start()
                print(
                    f"auctionactors: node {ownership.node_id} of the cluster on "
                    f"{safe_url(args.db)} ({count} auctions stored); advertised at "
                    f"{ownership.advertise}",
                    flush=True,
                )
                print(f"auctionactors: listening on {gateway.url}", flush=True)
                print(f"auctionactors: event loop {loop_name()}", flush=True)
                await stop.wait()
                print("auctionactors: stopping (handing partitions back, draining)", flush=True)
            finally:
                await ownership.stop()  # its reactors stop before it hands their roles back
                await leaders.close()
                await notices.stop()
    finally:
        await store.close()
    print("auctionactors: stopped", flush=True)
    return 0
