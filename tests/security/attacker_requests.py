"""Hypothesis strategies for the attacker test: every request type of PROTOCOL.md (1.1 fields
included) with valid, boundary and hostile values, built around the real ids of a `World`.

Field values are drawn mostly from pools of meaningful values (real ids of every status, other
companies' ids, aliases, boundary times and durations, lenient amounts) and sometimes replaced
by a hostile value of any type (huge numbers, deep JSON, 10 KB strings, zero-width text). Made-up
ids carry the marker ``MADE_UP`` so that a flood can make them fresh each time.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from tests.security.attacker_world import World, now_iso

MADE_UP = "zq"
DEEP = "@@deep@@"


class Draw:
    """Hypothesis's draws, made up front in a fixed shape (a `random.Random` it seeds, for the
    choices between pools, and a few hostile values), so that what is drawn never depends on
    the world, which grows as the attack goes on. (Hypothesis's own choices would also lean to
    the ends of every range, which made almost every field hostile at once.)"""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.rng: random.Random = draw(st.randoms(use_true_random=True))
        self.hostile: list[Any] = [draw(HOSTILE) for _ in range(HOSTILE_PER_REQUEST)]
        self.used = 0

    def next_hostile(self) -> Any:
        value = self.hostile[self.used % HOSTILE_PER_REQUEST]
        self.used += 1
        return value


HOSTILE_PER_REQUEST = 3
TEXTS = [
    "hello", "", " ", "\t\n", "\u200b", "\u2060\ufeff", "\u202eevil", "x" * 2000, "x" * 2001,
    "y" * 10_000, "日本語", "\U0001f600", "\x00", "a\u0301", " trimmed ",
]  # fmt: skip
AMOUNTS = [
    "2.25", "-1.75", "0", "0.00", "1.00", "1.5", 2.5, 3, -1, "999999999.75", "0.25",
    "\u0665\u0660\u0660", "\uff15\uff10\uff10", "1_000", "+500", " 500 ", "5.", ".5", "1e3",
    "2.255", "0.001", "NaN",
    "Infinity", "-0", "1,5", "0x10", "", "-", "9" * 40, 1e308, -1e308, 10**30, 0.1, 2**63,
]  # fmt: skip
TIMES = [
    "2099-06-01T00:00:00Z",
    "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
    "2099-12-31T23:59:59.999Z", "2100-01-01T00:00:00.001Z", "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
    "2026-W48-6", "2026-11-28 10:00:00Z", "2026-11-28T10:00:00", "2026-11-28t10:00:00z",
    "2026-12-31T23:59:60Z", "2026-02-30T00:00:00Z", "2026-11-28T10:00:00.123456789Z",
    "2026-11-28T10:00:00+14:00", "2026-11-28T10:00:00-00:00", "2026-11-28", "now", "",
    "2026-11-28T24:00:00Z", "+002026-11-28T10:00:00Z", "\uff12\uff10\uff12\uff16-11-28T10:00:00Z",
]  # fmt: skip
DURATIONS = [
    600, 1, 2, 60, 600, 900, 180, 0, -1, 86_400, 30 * 86_400, 30 * 86_400 + 1, 10**12, 10**30,
    1.5, 0.001, 0.0001, 1e308, -0.0, "600", True, None,
]  # fmt: skip
MONTHS = ["2027-01", "2027-12", "0000-01", "2026-13", "9999-12", "2026-1", "2026-00", "x"]
STATUSES = ["draft", "pending", "open", "decision", "closed", "expired", "canceled", "bogus"]
KEYS = ["k1", "k2", "k3", "k1", "k2", "K" * 64, "K" * 65, "", "\n", "ключ", "a b"]
HOSTILE_NUMBERS = [
    10**18, -(10**18), 2**63, -(2**63) - 1, 2**64, 10**100, 1e308, -1e308, 5e-324, -0.0, 0.5,
]  # fmt: skip


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE_NUMBERS)
    | st.sampled_from(TEXTS)
)
HOSTILE = st.one_of(
    LEAF,
    st.recursive(
        LEAF,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids),
        max_leaves=6,
    ),
    st.integers(1, 60).map(lambda d: nested(d, "deep")),
    st.sampled_from([500, 2000]).map(lambda d: f"{DEEP}{d}{DEEP}"),
    st.just("z" * 10_000),
)


def chance(draw: Draw, p: float) -> bool:
    """True with about probability ``p`` (shrinking towards False)."""
    return draw.rng.random() < p


def pick(draw: Draw, values: list[Any], hostile: float = 0.03, first: float = 0.0) -> Any:
    """A value from ``values`` (its first, a valid one, with probability ``first``), or (with
    probability ``hostile``) a hostile value of any type."""
    if chance(draw, hostile):
        return draw.next_hostile()
    if first and chance(draw, first):
        return values[0]
    return draw.rng.choice(values)


def mostly(draw: Draw, values: list[Any]) -> Any:
    """Usually the first (valid) value: requests stay close enough to valid to get far."""
    return pick(draw, values, hostile=0.01, first=0.93)


class Space:
    """The request space of one world: real and made-up ids, and a builder per request type."""

    def __init__(self, world: World) -> None:
        u, a = world.users, world.auctions
        self.auction_ids = [*a.values(), f"a-{MADE_UP}1", "", "a-" + "9" * 40]
        self.companies = [v["company_id"] for v in u.values()] + [
            f"c-{MADE_UP}", "Supplier 1", "Supplier 2", "Supplier 3",
        ]  # fmt: skip
        self.users = [v["user_id"] for v in u.values()] + [f"u-{MADE_UP}"]
        self.suppliers = [u["s1"]["company_id"], u["s2"]["company_id"]]
        self.buyer = u["buyer"]["company_id"]
        self.bid_ids = [*world.bid_ids, f"{a['open']}:{MADE_UP}:0", "x"]
        self.comment_ids = [*world.comment_ids, f"{a['open']}:c{MADE_UP}"]
        self.tokens = [v["token"] for v in u.values()] + ["bad-token", "", "t" * 5000]
        self.builders: dict[str, Callable[[Draw], dict[str, Any]]] = {
            "hello": self.hello,
            "subscribe": lambda d: {"auction_id": self.auction(d), "since": pick(d, SINCE)},
            "unsubscribe": lambda d: {"auction_id": self.auction(d)},
            "subscribe_all": lambda d: {"statuses": pick(d, STATUS_LISTS)},
            "list_auctions": lambda d: {
                "status": pick(d, STATUS_LISTS),
                "limit": pick(d, LIMITS),
                "cursor": pick(d, CURSORS),
            },
            "get_view": lambda d: {"auction_id": self.auction(d), "at_seq": pick(d, SINCE)},
            "get_events": lambda d: {
                "auction_id": self.auction(d),
                "since": pick(d, SINCE),
                "limit": pick(d, LIMITS),
            },
            "list_companies": lambda d: {
                "role": pick(d, ["supplier", "observer", "buyer", "admin", "x"]),
                "limit": pick(d, LIMITS),
                "cursor": pick(d, CURSORS),
            },
            "operator_status": lambda d: {},
            "operator_revive": lambda d: {"auction_id": self.auction(d)},
            "create_auction": self.create,
            "update_auction": lambda d: {
                "auction_id": self.auction(d),
                "changes": self.terms(d, partial=True),
            },
            "start_auction": lambda d: {"auction_id": self.auction(d)},
            "cancel_auction": lambda d: {"auction_id": self.auction(d)},
            "place_bids": self.bids,
            "revoke_bid": lambda d: {
                "auction_id": self.auction(d),
                "product_id": pick(d, PRODUCTS),
            },
            "select_solution": self.select,
            "submit_barge": lambda d: {
                "auction_id": self.auction(d),
                "barge": {"name": pick(d, TEXTS), "imo": pick(d, IMOS)},
            },
            "unsubmit_barge": lambda d: {"auction_id": self.auction(d), "imo": pick(d, IMOS)},
            "approve_barge": self.barge_decision,
            "reject_barge": self.barge_decision,
            "post_comment": lambda d: {"auction_id": self.auction(d), "text": pick(d, TEXTS)},
            "delete_comment": lambda d: {
                "auction_id": self.auction(d),
                "comment_id": pick(d, self.comment_ids),
            },
            "rsvp": lambda d: {
                "auction_id": self.auction(d),
                "response": pick(d, ["yes", "no", "maybe", "YES", ""]),
            },
            "invite_observer": self.observer_change,
            "uninvite_observer": self.observer_change,
            "bogus_type": lambda d: {"auction_id": self.auction(d)},
        }
        # Commands that store something come up more often: they are where damage is done.
        self.types = sorted(self.builders) + ["create_auction"] * 10 + ["update_auction"] * 4
        self.types += ["place_bids"] * 3 + ["post_comment", "submit_barge", "select_solution"]

    def auction(self, draw: Draw) -> Any:
        return pick(draw, self.auction_ids, hostile=0.05)

    def hello(self, draw: Draw) -> dict[str, Any]:
        return {"token": pick(draw, self.tokens), "protocol": pick(draw, [1, 2, 3, 0, -1, "2"])}

    def product(self, draw: Draw, hostile: bool) -> dict[str, Any]:
        pools: dict[str, list[Any]] = {
            "name": TEXTS,
            "imo": IMOS,
            "fuel": TEXTS,
            "quantity_mt": [1500, 1, 0, -5, 10**12, 1.5, "100"],
            "eta": [now_iso(86_400), *TIMES],
            "etd": [None, now_iso(90_000), *TIMES],
        }
        focus = draw.rng.choice([*pools, "eta", "etd"]) if hostile else ""
        doc = {
            k: pick(draw, v, 0.1, 0) if k == focus else pick(draw, v, 0, 0.97)
            for k, v in pools.items()
        }
        doc["vessel"] = {"name": doc.pop("name"), "imo": doc.pop("imo")}
        return doc

    def terms(self, draw: Draw, partial: bool = False) -> dict[str, Any]:
        """An ``auction`` object (or ``changes``): valid values but for one focus field, drawn
        from its whole pool, and now and then another one."""
        pools: dict[str, list[Any]] = {
            "kind": ["spot", "forward_fixed", "formula_related", "auction"],
            "port": ["Rotterdam", *TEXTS],
            "suppliers": [self.suppliers, self.suppliers[:1], [], self.companies, ["c-x"] * 3],
            "scheduled_start": [
                now_iso(3600),
                None,
                now_iso(-60),
                now_iso(),
                "2090-01-01T00:00:00Z",
                *TIMES,
            ],
            "duration_s": DURATIONS,
            "decision_duration_s": DURATIONS,
            "soft_close_s": [180, 0, 86_400, 86_401, -1, 10**12, 0.5, 0.0005],
            "tick": ["0.25", "0.01", 0.5, "0", "-0.25", "0.001", *AMOUNTS],
            "anonymous_bidding": [False, True],
            "traded_bids_allowed": [False, True],
            "po": [None, *TEXTS],
            "buyer_reference": [None, *TEXTS],
            "additional_information": [None, *TEXTS],
            "port_agent": [None, *TEXTS],
            "fuel": [None, "VLSFO", *TEXTS],
            "quantity_mt_per_month": [None, 100, 0, -1, 10**15],
            "start_month": [None, *MONTHS],
            "end_month": [None, *MONTHS],
            "fuel_index": [None, "Platts", *TEXTS],
        }
        # The times and durations are where stored values broke reads: focus on them more.
        timing = ["scheduled_start", "duration_s", "decision_duration_s", "soft_close_s"]
        focus = draw.rng.choice([*pools, "products", *timing, *timing])
        doc = {
            k: pick(draw, v, 0.1, 0) if k == focus else pick(draw, v, 0, 0.97)
            for k, v in pools.items()
        }
        if doc["kind"] != "spot" and not chance(draw, 0.2):  # a term auction, mostly complete
            doc.update(fuel="VLSFO", quantity_mt_per_month=100, fuel_index="Platts")
            doc.update(start_month=MONTHS[0], end_month=MONTHS[1])
        products = draw.rng.choice([1, 1, 1, 2, 0, 3])
        doc["products"] = [self.product(draw, focus == "products") for _ in range(products)]
        if partial:
            keep = {focus} | {k for k in doc if chance(draw, 0.1)}
            return {k: v for k, v in doc.items() if k in keep}
        return {k: v for k, v in doc.items() if k == focus or v is not None or chance(draw, 0.5)}

    def create(self, draw: Draw) -> dict[str, Any]:
        return {"auction": self.terms(draw), "buyer": mostly(draw, [self.buyer, *self.companies])}

    def bids(self, draw: Draw) -> dict[str, Any]:
        def bid() -> dict[str, Any]:
            doc = {
                "product_id": mostly(draw, PRODUCTS),
                "amount": mostly(draw, AMOUNTS),
                "min_amount": mostly(draw, [None, *AMOUNTS]),
                "allow_split": mostly(draw, [True, False, "yes", None]),
                "comment": mostly(draw, [None, *TEXTS]),
            }
            return {k: v for k, v in doc.items() if k in ("product_id", "amount") or v is not None}

        bids = [bid() for _ in range(draw.rng.randint(0, 3))]
        return {
            "auction_id": self.auction(draw),
            "bids": pick(draw, [bids, bids, bids, [], [{}] * 500]),
            "traded": mostly(draw, [False, True]),
        }

    def select(self, draw: Draw) -> dict[str, Any]:
        return {
            "auction_id": self.auction(draw),
            "bid_ids": pick(draw, [None, self.bid_ids[:1], self.bid_ids[-3:], self.bid_ids]),
            "solution": pick(draw, [None, "best_overall", "best_single_supplier", "worst"]),
            "comment": mostly(draw, [None, *TEXTS]),
            "port_agent": mostly(draw, [None, *TEXTS]),
        }

    def barge_decision(self, draw: Draw) -> dict[str, Any]:
        return {
            "auction_id": self.auction(draw),
            "imo": pick(draw, IMOS),
            "supplier_id": pick(draw, self.companies),
        }

    def observer_change(self, draw: Draw) -> dict[str, Any]:
        return {"auction_id": self.auction(draw), "company_id": pick(draw, self.companies)}

    def request(self, hypothesis_draw: Callable[[Any], Any], rid: str) -> tuple[str, str]:
        """A request as text (type, frame): one of every type, fields sometimes dropped,
        retyped, or joined by unknown ones; commands sometimes keyed or acting as a user."""
        draw = Draw(hypothesis_draw)
        type_ = draw.rng.choice(self.types)
        doc: dict[str, Any] = {"type": type_, "id": rid, **self.builders[type_](draw)}
        doc = {k: v for k, v in doc.items() if k in ("type", "id") or not chance(draw, 0.04)}
        if chance(draw, 0.3):
            doc["key"] = pick(draw, KEYS, first=0.6)
        if chance(draw, 0.15):
            doc["as_user"] = pick(draw, self.users)
        if chance(draw, 0.1):
            doc[draw.rng.choice(["zzz", "type2", "ID", "__proto__"])] = draw.next_hostile()
        if chance(draw, 0.03):
            doc["id"] = draw.next_hostile()
        if chance(draw, 0.02):
            doc["type"] = draw.next_hostile()
        return type_, dumps(doc)


SINCE = [None, 0, 1, 2, 3, 5, 10**9, -1, 1.5, "1", 2**63 - 1, 2**64]
LIMITS = [None, 1, 10, 1000, 1001, 0, -1, 10**6, 2.5]
CURSORS = [None, "", "abc", 5, "a-" + "0" * 30]
STATUS_LISTS = [None, ["open"], ["draft", "pending"], STATUSES, [], ["bogus"], "open"]
PRODUCTS = ["p1", "p2", "p3", "", "P1", "p" + "1" * 30]
IMOS = ["9100001", "9100002", "", "9" * 100, "imo"]


def dumps(doc: Any) -> str:
    """JSON, with the deep-nesting marker written as that many brackets."""
    text = json.dumps(doc)
    return re.sub(f'"{DEEP}(\\d+){DEEP}"', lambda g: "[" * int(g[1]) + "]" * int(g[1]), text)
