"""``serve`` (the daemon: supervisor and gateway in one process) and the operator commands that
talk to a running daemon over the WebSocket protocol: ``status`` and ``revive``.

`running` is the server setup that ``serve`` and ``demo`` share; `run_loop` picks the event loop
(uvloop when it is installed, see the ``speed`` extra, else asyncio's own).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from auctionactors.cli import cluster, notify
from auctionactors.cli.stores import Store, describe, open_store
from auctionactors.errors import AuctionActorsError, UsageError
from auctionactors.gateway.config import GatewayConfig
from auctionactors.runtime.cells import SupervisorConfig
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.publishing import Subscriber
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.postgres import is_postgres_url

if TYPE_CHECKING:  # the gateway and the client (websockets) load only for the commands that
    # use them: the store's readers (`auctions`, `events`, ...) start faster without them
    from auctionactors.gateway.links import Links
    from auctionactors.gateway.server import Gateway

DEFAULT_URL = "ws://127.0.0.1:8765/ws"
TOKEN_ENV = "AUCTIONACTORS_TOKEN"
LOOPS = ("auto", "uvloop", "asyncio")


class CannotListen(AuctionActorsError):
    """The gateway could not bind its address (in use, not ours): exit status 1."""


def run_loop(main: Coroutine[Any, Any, int], loop: str = "auto") -> int:
    """Run ``main`` to completion on uvloop when it is importable (``auto``, or ``uvloop``, which
    insists), else on asyncio's default loop. `loop_name` says which one is running."""
    if loop != "asyncio":
        try:
            uvloop = importlib.import_module("uvloop")
        except ImportError:
            if loop == "uvloop":
                main.close()
                raise UsageError(
                    "uvloop is not installed (pip install 'auctionactors[speed]')"
                ) from None
        else:
            result: int = uvloop.run(main)
            return result
    return asyncio.run(main)


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: the running event loop, for the line serve and demo print."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.split(".")[0] == "uvloop" else "asyncio"


def gateway_config(args: argparse.Namespace) -> GatewayConfig:
    """The gateway's settings from ``serve``'s options (the limits a benchmark raises)."""
    defaults = GatewayConfig()
    rate = args.rate if args.rate is not None else defaults.rate_per_s
    return GatewayConfig(
        host=args.host,
        port=args.port,
        rate_per_s=rate,
        burst=max(defaults.burst, rate),
        outbox_size=args.outbox if args.outbox is not None else defaults.outbox_size,
        max_connections_per_token=(
            args.max_connections_per_token
            if args.max_connections_per_token is not None
            else defaults.max_connections_per_token
        ),
        max_unauthenticated_per_address=_or_default(
            args, "max_unauthenticated_per_address", defaults.max_unauthenticated_per_address
        ),
        creates_per_hour=_zero_is_none(args, "create_rate", defaults.creates_per_hour),
        max_open_auctions=_zero_is_none(args, "max_open_auctions", defaults.max_open_auctions),
        allowed_origins=tuple(getattr(args, "allowed_origin", None) or ()),
        public_origins=tuple(getattr(args, "public_origin", None) or ()),
        metrics_token=getattr(args, "metrics_token", None) or None,
        tls_cert=getattr(args, "tls_cert", None),
        tls_key=getattr(args, "tls_key", None),
    )


def _or_default(args: argparse.Namespace, name: str, default: int) -> int:
    value = getattr(args, name, None)
    return default if value is None else int(value)


def _zero_is_none(args: argparse.Namespace, name: str, default: int | None) -> int | None:
    """A quota option: absent is the default, 0 means no quota."""
    value = getattr(args, name, None)
    if value is None:
        return default
    return None if value == 0 else int(value)


@asynccontextmanager
async def running(
    store: Store,
    config: GatewayConfig,
    subscribers: list[Subscriber] | None = None,
    supervision: SupervisorConfig | None = None,
    extend: Callable[[Supervisor], Links | None] | None = None,
) -> AsyncIterator[tuple[Gateway, int]]:
    """The supervisor (the timer heap armed from the catalog; actors load when needed) and the
    gateway listening, on the system clock; yields the gateway and the number of auctions
    stored. ``extend`` is called with the supervisor before anything starts (a cluster node
    attaches its takeover there) and returns the gateway's links to other nodes, if any. On
    exit: stop accepting, close every connection (1001) and the links, drain the mailboxes.
    The store stays open (the caller's)."""
    from auctionactors.gateway.server import Gateway

    supervisor = Supervisor(store, SystemClock(), subscribers=subscribers, config=supervision)
    links = extend(supervisor) if extend is not None else None
    gateway = Gateway(supervisor, store, config, links)
    count = await supervisor.start()
    try:
        await gateway.start()
    except OSError as exc:
        await supervisor.stop()
        raise CannotListen(
            f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
        ) from None
    try:
        yield gateway, count
    finally:
        await gateway.stop()
        if links is not None:
            await links.close()
        await supervisor.stop()


def freeze_heap() -> None:
    """Once the daemon is up: what start-up made (modules, classes, functions, the store and the
    gateway) lives as long as the process, so the collector's full collections need not walk it
    again and again (`gc.freeze`). Walking it took 15-20 ms of CPU a collection, dozens a minute
    while clients pulled long histories: stalls that every other connection waited for (issue 11,
    "History pulled as fast as possible"). Reference counting still frees what it held."""
    gc.collect()
    gc.freeze()


def stop_signal() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (the clean way out of serve and demo); install it before
    saying that the server is up, so that a signal sent right after is never missed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT; then stop accepting, close every connection (1001), drain the
    mailboxes and close the store. On a PostgreSQL database: one node of its cluster."""
    if is_postgres_url(args.db):
        return await cluster.serve(args)
    _not_a_directory(args.db)
    notify.check_options(args)
    # One daemon per database: a second one is refused (StoreLocked, exit status 1).
    opened = open_store(args.db, create=True, exclusive=True, busy_timeout=args.busy_timeout)
    async with opened as store:
        await notify.pin(args, store)
        supervision = SupervisorConfig(
            passivate_after_s=args.passivate_after or None, snapshot_every=args.snapshot_every
        )
        async with running(store, gateway_config(args), supervision=supervision) as (
            gateway,
            count,
        ):
            stop = stop_signal()
            freeze_heap()
            page = notify.page_url(args, gateway.url)
            reactors = notify.reactors(args, store, SystemClock(), page)
            gateway.dispatcher.reactors = reactors
            for reactor in reactors:
                await reactor.start()
            print(
                f"auctionactors: supervising {count} auctions; store {describe(args.db)}",
                flush=True,
            )
            print(f"auctionactors: listening on {gateway.url}", flush=True)
            print(f"auctionactors: event loop {loop_name()}", flush=True)
            for reactor in reactors:
                print(f"auctionactors: reactor {reactor.name} from position {reactor.position}")
            await stop.wait()
            print("auctionactors: stopping (closing connections, draining mailboxes)", flush=True)
            for reactor in reactors:
                await reactor.stop()
    print("auctionactors: stopped", flush=True)
    return 0


def _not_a_directory(db: str) -> None:
    if os.path.isdir(db):
        raise UsageError(f"{db} is a directory, not a database")


def _token(args: argparse.Namespace) -> str:
    token: str | None = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError(f"an admin token is needed: --token or ${TOKEN_ENV}")
    return token


async def _ask(args: argparse.Namespace, type_: str, **fields: Any) -> dict[str, Any] | None:
    """One request to the daemon; prints a one-line error and returns None on failure."""
    from auctionactors.client import Client, ClientError

    client = Client(args.url, _token(args), reconnect=False)
    try:
        await client.connect()
        try:
            return await client.request(type_, **fields)
        finally:
            await client.close()
    except ClientError as exc:
        print(f"auctionactors: failed: {exc.message} ({exc.code})", file=sys.stderr)
        return None


async def status(args: argparse.Namespace) -> int:
    if is_postgres_url(getattr(args, "db", None) or ""):
        return await cluster.status(args)
    reply = await _ask(args, "operator_status")
    if reply is None:
        return 1
    reply.pop("type", None)
    reply.pop("id", None)
    if args.json:
        print(json.dumps(reply, separators=(",", ":")))
        return 0
    actors = reply["actors"]
    print(
        f"actors: {actors['live']} live, {actors['passivated']} passivated, "
        f"{actors['restarting']} restarting, {actors['quarantined']} quarantined"
    )
    print(f"scheduled: {reply['scheduled']} auctions with a deadline in the timer heap")
    commits = reply["commits"]
    per = reply["committed"] / commits if commits else 0.0
    print(f"writes: {commits} ({per:.2f} commands per write)")
    print(f"restarts: {reply['restarts']}  quarantines: {reply['quarantines']}")
    print(f"connections: {reply['connections']}")
    for cell in reply["troubled"]:
        print(
            f"  {cell['auction_id']}: {cell['status']}, {cell['restarts']} restarts, "
            f"mailbox {cell['mailbox']}, last error: {cell['last_error'] or '-'}"
        )
    notify.print_status(reply)
    return 0


async def revive(args: argparse.Namespace) -> int:
    reply = await _ask(args, "operator_revive", auction_id=args.auction_id)
    if reply is None:
        return 1
    print(f"{reply['auction_id']}: {reply['status']}")
    return 0
