"""Notifications on the command line: ``serve``'s mail and webhook options (`add_options`,
`reactors`), and ``auctionactors deliveries list|redrive`` for the parked ones.

``deliveries`` works on the database directly (beside a running ``serve``, as ``user add``
does): ``redrive`` marks parked deliveries, and the running daemon's reactor sends them again
within a poll interval.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from auctionactors.errors import UsageError
from auctionactors.runtime.clock import Clock
from auctionactors.runtime.mailer import MailPlanner, SmtpSender
from auctionactors.runtime.reactor import Lead, Reactor, ReactorConfig
from auctionactors.runtime.webhooks import WebhookPlanner, WebhookSender
from auctionactors.store.credentials import check_email

DEFAULT_FROM = "auctionactors@localhost"


def add_options(serve: argparse.ArgumentParser) -> None:
    group = serve.add_argument_group(
        "notifications",
        "mails and webhooks, sent by reactors that follow the event log from a checkpoint kept "
        "in the store (never on replay; each effect at most once once accepted)",
    )
    group.add_argument(
        "--smtp", metavar="HOST:PORT", help="send notification mails through this SMTP server"
    )
    group.add_argument("--smtp-from", metavar="ADDR", default=DEFAULT_FROM, help="From address")
    group.add_argument("--smtp-user", metavar="USER", help="log in (after STARTTLS if offered)")
    group.add_argument("--smtp-password", metavar="PASSWORD")
    group.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="POST every event to URL (repeatable; each with its --webhook-secret)",
    )
    group.add_argument(
        "--webhook-secret",
        action="append",
        default=[],
        metavar="SECRET",
        help="the HMAC-SHA256 key of the matching --webhook (in the same order)",
    )
    group.add_argument(
        "--delivery-attempts",
        type=int_at_least(1),
        default=ReactorConfig().attempts,
        metavar="N",
        help="tries of one mail or webhook before it is parked (default 8)",
    )
    group.add_argument(
        "--delivery-backoff",
        type=float,
        default=ReactorConfig().backoff_s,
        metavar="SECONDS",
        help="pause after a first failure, doubled after each (default 1, at most 300)",
    )
    group.add_argument(
        "--page-url",
        metavar="URL",
        help="the page's address in mails' links (default: the first --public-origin, else "
        "this server's own http(s)://HOST:PORT/)",
    )


def check_options(args: argparse.Namespace) -> None:
    """Usage errors before anything starts: pairs, addresses, URLs."""
    if len(args.webhook) != len(args.webhook_secret):
        raise UsageError("each --webhook needs its --webhook-secret (in the same order)")
    for url in args.webhook:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--webhook: not an http(s) URL: {url!r}")
    if len(set(args.webhook)) != len(args.webhook):
        raise UsageError("--webhook: the same URL twice")
    if any(not s for s in args.webhook_secret):
        raise UsageError("--webhook-secret must not be empty")
    if args.smtp is not None:
        _host_port(args.smtp)
    check_email(args.smtp_from)
    if (args.smtp_user is None) != (args.smtp_password is None):
        raise UsageError("--smtp-user and --smtp-password go together")
    if not args.delivery_backoff >= 0 or args.delivery_backoff == float("inf"):
        raise UsageError("--delivery-backoff must be a number of seconds >= 0")


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--smtp must be HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


def page_url(args: argparse.Namespace, gateway_url: str) -> str:
    if args.page_url:
        return str(args.page_url)
    origins = getattr(args, "public_origin", None) or []
    if origins:
        return f"{origins[0].rstrip('/')}/"
    parts = urlsplit(gateway_url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}/"


def reactor_names(args: argparse.Namespace) -> list[str]:
    """The names (checkpoints) of the reactors ``serve``'s options ask for."""
    return (["mail"] if args.smtp is not None else []) + [f"webhook {u}" for u in args.webhook]


async def pin(args: argparse.Namespace, store: Any) -> None:
    """Store the checkpoints of reactors new to this database before anything is served: a
    new one starts at the end of the log as it is now, so that nothing committed once ``serve``
    accepts connections escapes it."""
    for name in reactor_names(args):
        await store.start_reactor(name)


def reactors(args: argparse.Namespace, store: Any, clock: Clock, page: str) -> list[Reactor]:
    """The reactors ``serve``'s options ask for (not started)."""
    return [reactor(args, store, clock, page, name) for name in reactor_names(args)]


def reactor(
    args: argparse.Namespace,
    store: Any,
    clock: Clock,
    page: str,
    name: str,
    lead: Lead | None = None,
) -> Reactor:
    """The reactor called ``name`` (one of `reactor_names`), not started; with ``lead`` in
    cluster mode (it runs while its node leads it)."""
    config = ReactorConfig(attempts=args.delivery_attempts, backoff_s=args.delivery_backoff)
    if name == "mail":
        host, port = _host_port(args.smtp)
        sender = SmtpSender(
            host, port, args.smtp_from, username=args.smtp_user, password=args.smtp_password
        )
        planner = MailPlanner(store, page, args.smtp_from)
        return Reactor("mail", store, planner, sender, clock, config, lead)
    for url, secret in zip(args.webhook, args.webhook_secret, strict=True):
        if name == f"webhook {url}":
            return Reactor(
                name, store, WebhookPlanner(url), WebhookSender(url, secret), clock, config, lead
            )
    raise ValueError(f"no such reactor: {name!r}")


def print_status(reply: dict[str, Any]) -> None:
    """``status``'s lines about the reactors: how far behind the log, and what is parked."""
    for r in reply.get("reactors", []):
        print(
            f"reactor {r['name']}: {r['behind']} events behind (at {r['position']}), "
            f"{r['delivered']} delivered, {r['failures']} failures, {r['parked']} parked"
        )
    for p in reply.get("parked", []):
        again = ", redrive asked" if p["redrive"] else ""
        print(
            f"  parked {p['delivery_id']} ({p['reactor']}): {p['attempts']} attempts, "
            f"{p['last_error']}{again}"
        )


def add_parsers(sub: Any, add_db: Any, add_json: Any) -> None:
    deliveries = sub.add_parser("deliveries", help="parked mails and webhooks: list, redrive")
    dsub = deliveries.add_subparsers(dest="deliveries_command", required=True)
    listing = dsub.add_parser("list", help="the parked deliveries")
    add_db(listing)
    add_json(listing)
    redrive = dsub.add_parser("redrive", help="send parked deliveries again")
    redrive.add_argument("ids", nargs="*", metavar="ID", help="delivery ids (see list)")
    redrive.add_argument("--all", action="store_true", help="every parked delivery")
    add_db(redrive)


async def deliveries(args: argparse.Namespace, store: Any) -> int:
    if args.deliveries_command == "list":
        rows = [
            {
                "reactor": p.reactor,
                "delivery_id": p.effect_id,
                "recipient": p.recipient,
                "attempts": p.attempts,
                "last_error": p.last_error,
                "redrive": p.redrive,
            }
            for p in await store.parked()
        ]
        if args.json:
            print(json.dumps(rows, separators=(",", ":")))
        for row in [] if args.json else rows:
            again = " (redrive asked)" if row["redrive"] else ""
            print(
                f"{row['delivery_id']}  {row['reactor']}  {row['attempts']} attempts: "
                f"{row['last_error']}{again}"
            )
        return 0
    if bool(args.ids) == bool(args.all):
        raise UsageError("deliveries redrive: give delivery ids or --all, not both or neither")
    count = await store.redrive(None if args.all else args.ids)
    print(f"{count} deliveries to send again")
    return 0 if count or args.all else 1


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {value}")
        return value

    return parse
