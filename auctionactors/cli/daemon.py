"""``serve`` (the daemon: supervisor and gateway in one process) and the operator commands that
talk to a running daemon over the WebSocket protocol: ``status`` and ``revive``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any

from auctionactors.client import Client, ClientError
from auctionactors.errors import UsageError
from auctionactors.gateway.server import Gateway, GatewayConfig
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.sqlite import SqliteEventStore

DEFAULT_URL = "ws://127.0.0.1:8765/ws"
TOKEN_ENV = "AUCTIONACTORS_TOKEN"


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT; then stop accepting, close every connection (1001), drain the
    mailboxes and close the store."""
    path = _db_path(args.db)
    store = await SqliteEventStore.open(path)
    try:
        supervisor = Supervisor(store, SystemClock())
        config = GatewayConfig(host=args.host, port=args.port)
        gateway = Gateway(supervisor, store, config)
        count = await supervisor.start()
        try:
            await gateway.start()
        except OSError as exc:
            await supervisor.stop()
            print(
                f"auctionactors: failed: cannot listen on {args.host}:{args.port}: {exc.strerror}",
                file=sys.stderr,
            )
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"auctionactors: supervising {count} auctions; store {path}", flush=True)
        print(f"auctionactors: listening on {gateway.url}", flush=True)
        await stop.wait()
        print("auctionactors: stopping (closing connections, draining mailboxes)", flush=True)
        await gateway.stop()
        await supervisor.stop()
    finally:
        await store.close()
    print("auctionactors: stopped", flush=True)
    return 0


def _db_path(db: str) -> str:
    if os.path.isdir(db):
        raise UsageError(f"{db} is a directory, not a database")
    return os.path.abspath(db)


def _token(args: argparse.Namespace) -> str:
    token: str | None = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError(f"an admin token is needed: --token or ${TOKEN_ENV}")
    return token


async def _ask(args: argparse.Namespace, type_: str, **fields: Any) -> dict[str, Any] | None:
    """One request to the daemon; prints a one-line error and returns None on failure."""
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
    print(f"restarts: {reply['restarts']}  quarantines: {reply['quarantines']}")
    print(f"connections: {reply['connections']}")
    for cell in reply["troubled"]:
        print(
            f"  {cell['auction_id']}: {cell['status']}, {cell['restarts']} restarts, "
            f"mailbox {cell['mailbox']}, last error: {cell['last_error'] or '-'}"
        )
    return 0


async def revive(args: argparse.Namespace) -> int:
    reply = await _ask(args, "operator_revive", auction_id=args.auction_id)
    if reply is None:
        return 1
    print(f"{reply['auction_id']}: {reply['status']}")
    return 0


def add_parsers(sub: Any, add_db: Any, add_json: Any) -> None:
    """The subcommands of this module, for `auctionactors.cli.build_parser`."""
    serve_p = sub.add_parser("serve", help="run the daemon: supervisor and WebSocket gateway")
    add_db(serve_p)
    serve_p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_p.add_argument(
        "--port", type=_port, default=8765, help="port to listen on (0: any free one, printed)"
    )
    for name, help_ in (
        ("status", "ask a running daemon how its actors are"),
        ("revive", "ask a running daemon to restart a quarantined auction"),
    ):
        p = sub.add_parser(name, help=help_)
        if name == "revive":
            p.add_argument("auction_id")
        p.add_argument("--url", default=DEFAULT_URL, help=f"the daemon (default {DEFAULT_URL})")
        p.add_argument("--token", default=None, help=f"an admin's token (default ${TOKEN_ENV})")
        if name == "status":
            add_json(p)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value}")
    return value
