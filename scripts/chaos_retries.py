"""Keyed retries across SIGKILL, for `chaos.py` (PROTOCOL.md 1.1, "Idempotency keys").

Every command of the chaos clients carries a key, and the effect of the tagged ones names it: a
comment's text (``comment KEY``), each bid's comment, a new auction's port (``CITY KEY``). After a
round, what a client left unanswered when the server was SIGKILLed (its ``.pending`` file), and a
few of its acknowledged commands picked at random, are handed to the same user's client of the
next round that gets a server, which sends them again with the same key first thing. The checks:

- in the whole log, every key's effect is there at most once (one application: one auction, one
  command time), whoever sent it how many times;
- a retry answered ``ok`` names that one application: its ``seq`` is a seq of the command's run
  and its ids are the application's (comment id, bid ids, auction id); for an acknowledged
  command re-sent, the reply equals the first one exactly;
- a retry refused (e.g. ``too_late`` after the outage) was never applied, and an acknowledged
  command re-sent is never refused.
  (also one that changed nothing, such as an RSVP repeating the last answer: its key is stored
  alone, so a repeat gets the very same reply).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auctionactors.domain.events import AuctionCreated, BidPlaced, CommentPosted, Event

TAGGED = ("post_comment", "place_bids", "create_auction")


@dataclass
class Application:
    """One command's tagged events: where, when, at which seqs, with which ids."""

    auction_id: str
    at: int
    seqs: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def tag(event: Event) -> tuple[str, str] | None:
    """The key an event names and the id it stands for, if it is a tagged effect."""
    if isinstance(event, CommentPosted) and event.text.startswith("comment "):
        return event.text.removeprefix("comment "), event.comment_id
    if isinstance(event, BidPlaced) and event.comment:
        return event.comment, event.bid_id
    if isinstance(event, AuctionCreated) and " " in event.terms.port:
        return event.terms.port.rsplit(" ", 1)[1], event.auction_id
    return None


def applications(log: dict[str, list[Event]]) -> dict[str, list[Application]]:
    """Every tagged effect of the log by key, grouped by application (auction, command time)."""
    found: dict[str, dict[tuple[str, int], Application]] = defaultdict(dict)
    for auction_id, events in log.items():
        for seq, event in enumerate(events, 1):
            tagged = tag(event)
            if tagged is None:
                continue
            key, ident = tagged
            where = (auction_id, event.at)
            app = found[key].setdefault(where, Application(auction_id, event.at))
            app.seqs.append(seq)
            app.ids.append(ident)
    return {key: list(apps.values()) for key, apps in found.items()}


class Retries:
    """What is to be retried next round, per user, and the retries' outcomes to check."""

    def __init__(self, db: Path, resends: int, rng: random.Random) -> None:
        self.db = db
        self.resends = resends
        self.rng = rng
        self.todo: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.outcomes: list[dict[str, Any]] = []
        self.stats: Counter[str] = Counter()
        self.reported: set[str] = set()

    def collect(self, summary: Path, user_id: str) -> None:
        """After a round, one client's files: its unanswered commands, some of its acks (to
        send again), the outcomes of its retries."""
        for line in _lines(summary.with_suffix(".pending")):
            self.todo[user_id].append(json.loads(line))
        acks = [json.loads(line) for line in _lines(summary.with_suffix(".acks"))]
        for ack in self.rng.sample(acks, min(self.resends, len(acks))):
            entry = {"kind": ack["kind"], "request": ack["request"], "user_id": user_id}
            self.todo[user_id].append({**entry, "original": ack})
        self.outcomes += [json.loads(line) for line in _lines(summary.with_suffix(".retried"))]

    def take(self, user_id: str, log: dict[str, list[Event]]) -> list[dict[str, Any]]:
        """A user's commands to retry now, each unanswered one marked with whether the log
        already holds its effect (it was applied before the kill)."""
        entries, self.todo[user_id] = self.todo[user_id], []
        apps = applications(log)
        for entry in entries:
            if "original" not in entry and entry["kind"] in TAGGED:
                entry["applied_before"] = entry["request"]["key"] in apps
        return entries

    def left(self) -> int:
        """Unanswered commands never retried (the run ended)."""
        return sum("original" not in e for entries in self.todo.values() for e in entries)

    def check(self, log: dict[str, list[Event]]) -> list[str]:
        """Problems with the keys in ``log`` and with the retries answered since the last call."""
        apps = applications(log)
        problems = []
        for key, found in apps.items():
            if len(found) > 1 and key not in self.reported:
                self.reported.add(key)
                where = ", ".join(f"{a.auction_id} seqs {a.seqs}" for a in found)
                problems.append(f"key {key} applied {len(found)} times: {where}")
        self.stats["keys in the log"] = len(apps)
        outcomes, self.outcomes = self.outcomes, []
        for entry in outcomes:
            problem = self._outcome(entry, apps.get(entry["request"]["key"], []), log)
            if problem is not None:
                problems.append(f"{entry['kind']} key {entry['request']['key']}: {problem}")
        return problems

    def _outcome(
        self, entry: dict[str, Any], found: list[Application], log: dict[str, list[Event]]
    ) -> str | None:
        original, reply, tagged = entry.get("original"), entry["reply"], entry["kind"] in TAGGED
        self.stats["re-sent acknowledged" if original else "retried unanswered"] += 1
        if original is not None and reply != original["reply"]:
            return f"acknowledged {original['reply']}, re-sent: {entry['outcome']} {reply}"
        if entry["outcome"] != "ok":
            self.stats[f"refused {entry['outcome']}"] += 1
            if "another command" in entry.get("message", ""):  # the very same request
                return f"the same request again refused: {entry['message']}"
            return f"refused {entry['outcome']} on retry, yet applied" if tagged and found else None
        if original is not None:
            self.stats["same reply"] += 1
        elif tagged:
            self.stats[
                "applied before the kill" if entry["applied_before"] else "applied by it"
            ] += 1
        if not tagged:
            return None
        if len(found) != 1:
            return f"answered ok, applied {len(found)} times"
        return _names(found[0], reply, log)


def _names(app: Application, reply: dict[str, Any], log: dict[str, list[Event]]) -> str | None:
    """Why ``reply`` does not describe the application ``app``, or None."""
    auction_id = str(reply.get("auction_id", app.auction_id))
    events, seq = log.get(auction_id, []), int(reply["seq"])
    if auction_id != app.auction_id or not 0 < seq <= len(events) or events[seq - 1].at != app.at:
        return f"reply {reply} is not the command applied at {app.auction_id} seqs {app.seqs}"
    ids = reply.get("bid_ids") or [reply[k] for k in ("comment_id",) if k in reply]
    if ids and sorted(ids) != sorted(app.ids):
        return f"reply names {ids}, the log {app.ids}"
    return None


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
