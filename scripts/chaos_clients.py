"""One client process of the chaos run (`scripts/chaos.py` starts several per round).

``python scripts/chaos_clients.py SPEC.json`` connects to the server as one user, follows the
auctions it may see (the admin with ``subscribe_all``, the others by subscribing to each live
auction ``list_auctions`` shows them, every half second), and drives traffic for its role until
the connection drops (the server is SIGKILLed): a **supplier** bids, auto-bids, bids on several
products at once, revokes, posts comments; a **buyer** creates auctions (scheduled a second or
three ahead, some as drafts it schedules later), selects solutions in decision (and term
auctions while open) and now and then cancels one; an **admin** creates auctions that open at
once, starts pending ones by hand and selects expired ones.

Every command carries an idempotency ``key`` (PROTOCOL.md 1.1), and its effect is tagged with
it so that the checker can count it in the log: a comment's text, each bid's comment, a new
auction's port. Every ``ok`` is appended to the acks file (one JSON line, flushed at once) with
what the checker needs to find the command in the log: kind, auction id, seq, user, bid ids /
comment id, the request and the reply. A command left unanswered when the connection drops (the
server was SIGKILLed with it in flight) goes to the pending file; the next round's process of the
same user starts by retrying, with the same key, what its spec's ``retry`` lists (those, and a
few acknowledged commands re-sent on purpose) and writes each outcome to the retried file. The
client also checks the order of the updates it receives (per auction: increasing seqs, events
contiguous, nothing repeated) and writes a summary (outcome counts, wire failures) on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from auctionactors.client import Client, ClientError
from auctionactors.domain.money import format_amount, parse_amount
from auctionactors.domain.timestamps import format_instant

SECOND_US = 1_000_000
GONE = ("connection_lost", "closed", "timeout")  # the server is gone (or hung): stop
LIVE = ("draft", "pending", "open", "decision")
FOLLOW_EVERY_S = 0.5


def iso_in(seconds: float) -> str:
    return format_instant(time.time_ns() // 1000 + round(seconds * SECOND_US))


class CheckingClient(Client):
    """A `Client` that also checks what the server pushes before the client's own de-duplication:
    per auction, strictly increasing seqs and contiguous events (PROTOCOL.md, Session 5)."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token, reconnect=False, open_timeout_s=10, request_timeout_s=15)
        self.wire_failures: list[str] = []
        self.views: dict[str, dict[str, Any]] = {}
        self._seen: dict[str, int] = {}

    @property
    def gone(self) -> bool:
        """The connection dropped (the server was killed): nothing more to do this round."""
        return self._failure is not None

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind in ("update", "history"):
            self._check_events(frame)
        super()._dispatch(frame)
        if kind == "update":  # the client has applied its patch (protocol 2)
            auction_id, seq = frame["auction_id"], frame["seq"]
            view = self.view(auction_id)
            if view is not None and view.get("seq") != seq and self.last_seq[auction_id] == seq:
                self.wire_failures.append(f"{auction_id} update seq {seq}: view at {view['seq']}")
            if view is not None:
                self.views[auction_id] = view

    def _check_events(self, frame: dict[str, Any]) -> None:
        """Before the client's own de-duplication: strictly increasing seqs, contiguous events
        (the ``history`` frames of a catch-up, then the update's)."""
        auction_id = frame["auction_id"]
        seqs = [e["seq"] for e in frame["events"]]
        last = self._seen.get(auction_id)
        history = frame["type"] == "history"
        seq = seqs[-1] if history and seqs else frame.get("seq", last or 0)
        where = f"{auction_id} {frame['type']} seq {seq}"
        if last is not None and seq <= last and not (history and not seqs):
            self.wire_failures.append(f"{where}: not after {last} (repeated or out of order)")
        if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            self.wire_failures.append(f"{where}: events not contiguous {seqs}")
        if seqs and seqs[-1] != seq:
            self.wire_failures.append(f"{where}: last event {seqs[-1]} is not the update's seq")
        if last is not None and (not seqs or seqs[0] != last + 1):
            self.wire_failures.append(f"{where}: gap after {last} (events {seqs[:3]}...)")
        self._seen[auction_id] = max(seq, last or 0)


class Journal:
    """What the orchestrator reads after the round, one JSON line per entry, each flushed at once:
    ``acks`` (every ``ok``), ``pending`` (unanswered when the connection dropped), ``retried``
    (the outcome of each retry)."""

    FILES = ("acks", "pending", "retried")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.files = {name: open(spec[name], "a", encoding="utf-8") for name in self.FILES}  # noqa: SIM115

    def write(self, name: str, entry: dict[str, Any]) -> None:
        self.files[name].write(json.dumps(entry) + "\n")
        self.files[name].flush()

    def close(self) -> None:
        for file in self.files.values():
            file.close()


class Actor:
    """The traffic of one user; ``act`` does one request (or none) and returns."""

    def __init__(self, spec: dict[str, Any], client: CheckingClient, journal: Journal) -> None:
        self.spec = spec
        self.client = client
        self.rng = random.Random(spec["seed"])
        self.journal = journal
        self.user_id: str = spec["user_id"]
        self.company_id: str = spec["company_id"]
        self.outcomes: dict[str, int] = {}
        self.followed: set[str] = set()
        self.keys = 0

    def new_key(self) -> str:
        """A fresh idempotency key: unique to this user, round and command."""
        self.keys += 1
        return f"{self.spec['key_prefix']}-{self.keys}"

    async def send(self, kind: str, **fields: Any) -> dict[str, Any] | None:
        """One keyed command (a fresh key unless ``fields`` has one). None unless ``ok``."""
        fields.setdefault("key", self.new_key())
        return await self.request(kind, fields)

    async def retry(self, entries: list[dict[str, Any]]) -> None:
        """The commands of an earlier round again, each with its key, before anything else."""
        for entry in entries:
            await self.request(entry["kind"], entry["request"], entry)

    async def request(
        self, kind: str, fields: dict[str, Any], retry: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """One request; records the outcome, the ack on ``ok``, the request if it goes
        unanswered, and what a retry got."""
        try:
            reply = await self.client.request(kind, **fields)
        except ClientError as exc:
            self.outcomes[f"{kind}:{exc.code}"] = self.outcomes.get(f"{kind}:{exc.code}", 0) + 1
            if exc.code in GONE:
                entry = retry or {"kind": kind, "request": fields, "user_id": self.user_id}
                self.journal.write("pending", {**entry, "retries": entry.get("retries", 0) + 1})
                raise
            if exc.code == "internal":
                self.client.wire_failures.append(f"{kind} answered internal: {exc.message}")
            if retry is not None:
                refused = {"outcome": exc.code, "reply": None, "message": exc.message}
                self.journal.write("retried", {**retry, **refused})
            return None
        self.outcomes[f"{kind}:ok"] = self.outcomes.get(f"{kind}:ok", 0) + 1
        ack: dict[str, Any] = {
            "kind": kind,
            "auction_id": reply.get("auction_id", fields.get("auction_id")),
            "seq": reply["seq"],
            "user_id": self.user_id,
            "request": fields,
            "reply": {k: v for k, v in reply.items() if k != "id"},
        }
        if "bid_ids" in reply:
            ack["bid_ids"] = reply["bid_ids"]
        if "comment_id" in reply:
            ack["comment_id"] = reply["comment_id"]
        if kind == "revoke_bid":
            ack["product_id"] = fields["product_id"]
        self.journal.write("acks", ack)
        if retry is not None:
            self.journal.write("retried", {**retry, "outcome": "ok", "reply": ack["reply"]})
        return reply

    async def follow(self) -> None:
        """Subscribe to the live auctions not followed yet. ``list_auctions`` is served from
        the store's catalog, so unlike ``subscribe_all`` (which the admin uses) it does not
        load every finished auction of the run again for each client. Every page of it."""
        listed: list[dict[str, Any]] = []
        cursor = None
        while True:
            reply = await self.client.request(
                "list_auctions", status=list(LIVE), limit=1000, cursor=cursor
            )
            listed += reply["auctions"]
            cursor = reply.get("next_cursor")
            if cursor is None:
                break
        for summary in listed:
            auction_id = summary["auction_id"]
            if auction_id in self.followed:
                continue
            self.followed.add(auction_id)
            try:
                await self.client.subscribe(auction_id)
            except ClientError as exc:
                if exc.code in GONE:
                    raise

    def pick(self, statuses: tuple[str, ...]) -> tuple[str, dict[str, Any]] | None:
        choices = [(a, v) for a, v in self.client.views.items() if v["status"] in statuses]
        return self.rng.choice(choices) if choices else None

    async def act(self) -> None:
        raise NotImplementedError


class Supplier(Actor):
    async def act(self) -> None:
        picked = self.pick(("pending", "open", "decision"))
        if picked is None:
            return
        auction_id, view = picked
        products = view["products"]
        if not products:
            return
        product = self.rng.choice(products)
        roll = self.rng.random()
        if roll < 0.45:
            await self.bid(auction_id, [self.plain(product)])
        elif roll < 0.62:
            await self.bid(auction_id, [self.auto(product)])
        elif roll < 0.72:
            split = self.rng.random() < 0.5
            bids = [{**self.plain(p), "allow_split": split} for p in products]
            await self.bid(auction_id, bids)
        elif roll < 0.85:
            await self.send("revoke_bid", auction_id=auction_id, product_id=product["product_id"])
        elif roll < 0.90:
            key = self.new_key()
            await self.send("post_comment", auction_id=auction_id, text=f"comment {key}", key=key)
        elif roll < 0.94:
            response = self.rng.choice(("yes", "no", "maybe"))
            await self.send("rsvp", auction_id=auction_id, response=response)
        elif roll < 0.97:
            barge = {"name": "Barge", "imo": str(9_100_000 + self.rng.randrange(5))}
            await self.send("submit_barge", auction_id=auction_id, barge=barge)
        else:
            await self.bid(auction_id, [self.plain(product)], traded=True)

    def target(self, product: dict[str, Any]) -> int:
        bids = product["bids"]
        best = parse_amount(bids[0]["amount"]) if bids else 2000 + 25 * self.rng.randrange(400)
        return max(25, best - 25 * self.rng.randrange(-2, 5))

    def plain(self, product: dict[str, Any]) -> dict[str, Any]:
        return {"product_id": product["product_id"], "amount": format_amount(self.target(product))}

    def auto(self, product: dict[str, Any]) -> dict[str, Any]:
        amount = self.target(product)
        floor = max(25, amount - 25 * self.rng.randrange(1, 30))
        bid: dict[str, Any] = {
            "product_id": product["product_id"],
            "min_amount": format_amount(floor),
        }
        if self.rng.random() < 0.5:
            bid["amount"] = format_amount(amount)
        return bid

    async def bid(self, auction_id: str, bids: list[dict[str, Any]], traded: bool = False) -> None:
        key = self.new_key()
        bids = [{**bid, "comment": key} for bid in bids]
        await self.send("place_bids", auction_id=auction_id, bids=bids, traded=traded, key=key)


def auction_spec(
    rng: random.Random, spec: dict[str, Any], start: str | None, key: str
) -> dict[str, Any]:
    """Short durations and soft-close windows, so that rounds see every phase; the port names
    the creation's key."""
    suppliers = rng.sample(spec["suppliers"], rng.randint(1, len(spec["suppliers"])))
    auction: dict[str, Any] = {
        "port": f"{rng.choice(('Rotterdam', 'Singapore', 'Fujairah'))} {key}",
        "suppliers": suppliers,
        "scheduled_start": start,
        "duration_s": rng.randint(2, 7),
        "decision_duration_s": rng.randint(2, 6),
        "soft_close_s": rng.randint(1, 3),
        "anonymous_bidding": rng.random() < 0.3,
        "traded_bids_allowed": rng.random() < 0.3,
    }
    if rng.random() < 0.15:
        auction.update(
            kind="forward_fixed",
            fuel="VLSFO 0.5%",
            quantity_mt_per_month=1000,
            start_month="2031-01",
            end_month=f"2031-{rng.randint(1, 12):02d}",
        )
    else:
        auction["products"] = [
            {
                "vessel": {"name": f"MV Chaos {i}", "imo": str(9_300_000 + i)},
                "fuel": rng.choice(("VLSFO 0.5%", "MGO 0.1%")),
                "quantity_mt": rng.choice((500, 1000, 1500)),
                "eta": "2031-01-01T00:00:00Z",
            }
            for i in range(1, rng.randint(1, 3) + 1)
        ]
    return auction


class Buyer(Actor):
    def __init__(self, spec: dict[str, Any], client: CheckingClient, journal: Journal) -> None:
        super().__init__(spec, client, journal)
        self.drafts: list[str] = []
        self.next_create = 0.0

    async def act(self) -> None:
        now = time.monotonic()
        if now >= self.next_create:
            self.next_create = now + self.rng.uniform(0.3, 1.2)
            await self.create()
            return
        if self.drafts and self.rng.random() < 0.2:
            auction_id = self.drafts.pop()
            start = iso_in(self.rng.uniform(1, 3))
            changes = {"scheduled_start": start, "duration_s": self.rng.randint(2, 6)}
            await self.send("update_auction", auction_id=auction_id, changes=changes)
            return
        picked = self.pick(("open", "decision"))
        if picked is None:
            return
        auction_id, view = picked
        in_decision = view["status"] == "decision" or view["kind"] != "spot"
        roll = self.rng.random()
        if in_decision and roll < 0.04:  # soon, but not always before it expires
            await self.select(auction_id, view)
        elif roll > 0.995:
            await self.send("cancel_auction", auction_id=auction_id)

    async def create(self) -> None:
        draft = self.rng.random() < 0.1
        start = None if draft else iso_in(self.rng.uniform(0.5, 3))
        key = self.new_key()
        auction = auction_spec(self.rng, self.spec, start, key)
        reply = await self.send("create_auction", auction=auction, key=key)
        if draft and reply is not None:
            self.drafts.append(str(reply["auction_id"]))

    async def select(self, auction_id: str, view: dict[str, Any]) -> None:
        solutions = view["solutions"]
        roll = self.rng.random()
        if roll < 0.4:
            await self.send("select_solution", auction_id=auction_id, solution="best_overall")
        elif roll < 0.7:
            name = "best_single_supplier"
            await self.send("select_solution", auction_id=auction_id, solution=name)
        else:
            best = solutions.get("best_overall") or {}
            bid_ids = best.get("bid_ids") or []
            await self.send(
                "select_solution", auction_id=auction_id, bid_ids=bid_ids, comment="chosen"
            )


class Admin(Actor):
    def __init__(self, spec: dict[str, Any], client: CheckingClient, journal: Journal) -> None:
        super().__init__(spec, client, journal)
        self.next_create = 0.0

    async def act(self) -> None:
        now = time.monotonic()
        if now >= self.next_create:
            self.next_create = now + self.rng.uniform(0.8, 2.5)
            key = self.new_key()
            auction = auction_spec(self.rng, self.spec, iso_in(0), key)  # an admin's "now": opens
            await self.send("create_auction", buyer=self.spec["buyer"], auction=auction, key=key)
            return
        picked = self.pick(("pending", "expired"))
        if picked is None:
            return
        auction_id, view = picked
        if view["status"] == "pending" and self.rng.random() < 0.3:
            await self.send("start_auction", auction_id=auction_id)
        elif view["status"] == "expired" and self.rng.random() < 0.3:
            await self.send("select_solution", auction_id=auction_id, solution="best_overall")


ROLES: dict[str, type[Actor]] = {"supplier": Supplier, "buyer": Buyer, "admin": Admin}


async def run(spec: dict[str, Any], journal: Journal) -> dict[str, Any]:
    client = CheckingClient(spec["url"], spec["token"])
    summary: dict[str, Any] = {"user_id": spec["user_id"], "outcomes": {}, "wire_failures": []}
    try:
        await client.connect()
    except ClientError as exc:  # the server died before we got in: a quiet round
        summary["connect_error"] = exc.code
        for entry in spec["retry"]:  # for the next round to retry
            journal.write("pending", entry)
        return summary
    actor = ROLES[spec["role"]](spec, client, journal)
    deadline = time.monotonic() + spec["max_s"]
    try:
        await actor.retry(spec["retry"])
        everything = spec["role"] == "admin"
        if everything:
            await client.subscribe_all()
        else:
            await actor.follow()
        # The orchestrator starts its kill timer once every client is in.
        await asyncio.to_thread(Path(spec["ready"]).touch)
        followed = time.monotonic()
        while time.monotonic() < deadline and not client.gone:
            if not everything and time.monotonic() - followed > FOLLOW_EVERY_S:
                await actor.follow()
                followed = time.monotonic()
            await actor.act()
            await asyncio.sleep(actor.rng.uniform(0, spec["pause_s"]))
    except ClientError as exc:
        if exc.code not in GONE:
            raise
    finally:
        summary["outcomes"] = actor.outcomes
        summary["wire_failures"] = client.wire_failures
        with contextlib.suppress(Exception):
            await client.close()
    return summary


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    journal = Journal(spec)
    try:
        summary = asyncio.run(run(spec, journal))
    finally:
        journal.close()
    Path(spec["summary"]).write_text(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
