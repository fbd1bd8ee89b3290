"""The command line (PROTOCOL.md, "Command line"): ``main(argv) -> exit status``.

Exit status: 0 success, 1 the check or command failed, 2 usage error (one clear line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from auctionactors.cli import commands, daemon, daemon_args, export, logs, notify
from auctionactors.domain.parties import ROLES
from auctionactors.errors import AuctionActorsError, UsageError

DEFAULT_DB = "auctionactors.db"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # main() prints "auctionactors: error: ..."; name the subcommand, not the program twice.
        where = self.prog.removeprefix("auctionactors").strip()
        raise UsageError(f"{where}: {message}" if where else message)


def _db_default() -> str:
    return os.environ.get("AUCTIONACTORS_DB") or DEFAULT_DB


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        default=None,
        help="the SQLite database file, or a PostgreSQL URL postgresql://USER@HOST:PORT/DB "
        "(default: $AUCTIONACTORS_DB, else ./auctionactors.db)",
    )


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="auctionactors", description="Event-sourced bunker auctions.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    daemon_args.add_parsers(sub, _add_db, _add_json)  # serve, status, revive

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True, parser_class=_Parser)
    add = user_sub.add_parser("add", help="add a user (and its company if new); prints a token")
    add.add_argument("--company", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", required=True)
    add.add_argument("--email", default=None, metavar="ADDR", help="where notifications go")
    _add_db(add)

    revoke = user_sub.add_parser("revoke", help="revoke a token: it no longer signs in")
    revoke.add_argument("--token", required=True)
    _add_db(revoke)

    notify.add_parsers(sub, _add_db, _add_json)  # deliveries list|redrive

    backup = sub.add_parser("backup", help="a consistent copy of the store, while it is in use")
    backup.add_argument("dest", help="the new database file (must not exist)")
    _add_db(backup)
    _add_json(backup)

    auctions = sub.add_parser("auctions", help="list auctions with status, seq and deadlines")
    _add_db(auctions)
    _add_json(auctions)

    events = sub.add_parser("events", help="the audit log of one auction")
    events.add_argument("auction_id")
    events.add_argument("--follow", action="store_true", help="keep printing new events")
    _add_db(events)
    _add_json(events)

    replay = sub.add_parser("replay", help="rebuild an auction offline from its events")
    replay.add_argument("auction_id")
    replay.add_argument("--until-seq", type=daemon_args.positive_int, default=None)
    replay.add_argument(
        "--as",
        dest="as_company",
        metavar="COMPANY_ID",
        default=None,
        help="print that company's view (what get_view returns it) instead of the whole state",
    )
    _add_db(replay)
    _add_json(replay)

    demo = sub.add_parser(
        "demo", help="serve a fresh store with live auctions and simulated bidders (bots)"
    )
    demo.add_argument(
        "--db", default=None, help="a new SQLite file, or an empty PostgreSQL database's URL"
    )
    daemon_args.add_server_options(demo)
    demo.add_argument(
        "--duration", type=daemon_args.positive_int, default=120, help="bidding time, seconds"
    )
    demo.add_argument(
        "--decision",
        type=daemon_args.positive_int,
        default=60,
        help="decision period, seconds (the buyer bot awards after three quarters of it)",
    )
    demo.add_argument(
        "--think", type=float, default=4.0, help="the bots' longest pause between bids, seconds"
    )

    export.add_parsers(sub, _add_db, daemon_args.positive_int)  # export, verify-export
    sub.add_parser("asyncapi", help="print the AsyncAPI 3.0 document of the WebSocket protocol")

    verify = sub.add_parser("verify", help="check every stream: gapless, decodable, hash chain")
    _add_db(verify)
    _add_json(verify)
    return parser


def _quiet_broken_pipe() -> int:
    """The reader of stdout went away (``auctionactors auctions | head``): stop quietly, as
    Python's documentation of SIGPIPE advises, pointing stdout at devnull so that the flush at
    exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            return _run(args_list)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe is found here, not at exit
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _run(args_list: list[str]) -> int:
    try:
        args = build_parser().parse_args(args_list)
        if getattr(args, "db", "x") is None and args.command != "demo":
            args.db = _db_default()
        if args.command in ("serve", "demo"):  # long-running: uvloop when it is installed
            logs.configure(args.log_format)
            return daemon.run_loop(commands.run(args), args.loop)
        return asyncio.run(commands.run(args))
    except UsageError as exc:
        print(f"auctionactors: error: {exc}", file=sys.stderr)
        return 2
    except AuctionActorsError as exc:
        print(f"auctionactors: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # argparse's --help (and --version): keep main() -> int
        return exc.code if isinstance(exc.code, int) else 0
