"""An asyncio client for the WebSocket protocol (PROTOCOL.md), for scripts, bots and the CLI.

    async with Client("ws://127.0.0.1:8765/ws", token) as client:
        await client.subscribe("a-7f3c")
        reply = await client.request("place_bids", auction_id="a-7f3c",
                                     bids=[{"product_id": "p1", "amount": "2.25"}])
        async for update in client.updates():
            print(update["seq"], update["view"]["status"])
        async for event in client.get_events("a-7f3c"):  # every page, in order
            print(event["seq"], event["type"])

`request` returns the ``ok`` frame's fields or raises `ClientError` with the protocol's error
code. Updates arrive in order, each ``seq`` once. If the connection drops (a network failure,
a server restart, or the server closing a connection that could not keep up, 1013), the client
reconnects with backoff and resubscribes every auction with ``since`` = the last seq it
delivered, so the updates iterator continues with exactly the events that were missed. A bad
token is final: no reconnect.

Protocol 2 (PROTOCOL.md) is asked for by default (``protocol=1`` asks for whole views with each
product's ``history``); the welcome says which one is in force (`Client.protocol_in_force`), and
the client handles either. In protocol 2 the server sends a view once per subscription and then
RFC 6902 patches: the client applies them (`patch`, copy-on-write) and keeps each auction's
current view (`Client.view`), and every update it yields carries ``view``, the whole view at
its seq, as in protocol 1, so callers need not know which protocol is in force. Views are
read-only: consecutive ones share their unchanged parts. The ``history`` frames of a catch-up
(``since`` more than 1,000 events behind) are folded into the ``events`` of the update that
follows them. After a reconnection (and after a patch that does not apply, which should never
happen) each auction is resubscribed with ``since`` and its next update carries a fresh view.
Paged reads are async iterators that follow the cursors (`paging`): `Client.list_auctions`,
`Client.list_companies`, `Client.get_events`; `request` is the raw call, one page.

Exactly once (PROTOCOL.md 1.1, idempotency keys): every command (`COMMANDS`) carries a ``key``,
a fresh one per call unless the caller gives one (``key=``); one call is one user action. If its
outcome is unknown (the connection dropped before the reply, `ConnectionLost`; the server
answered ``timeout``; no reply came within ``request_timeout_s``) or it was not applied
(``unavailable``), the client sends it again with the same key, once it has reconnected, with
backoff (``retry_backoff_s`` doubling up to ``max_backoff_s``; defaults 0.1 s and 5 s), up to
``retry_attempts`` sends in all, none later than ``retry_for_s`` after the call (defaults: 8
sends, 60 s), so a bot's stale command is not applied long after it was meant; with
``reconnect=False`` a lost reply is not retried (there is no connection to retry on), while
``timeout`` and ``unavailable`` still are. The server answers a key it has already
applied with the first result, so the call is applied at most once, and exactly once when it
returns. If the retries run out, the last error is raised with its ``key`` set: the outcome may
still be unknown, and a later call with that ``key=`` finds it out without applying it twice.
Reads carry no key and are not retried: a read in flight when the connection drops raises
`ConnectionLost`.

This package (its ``connection`` module) is the one place outside ``gateway/server.py`` that
imports websockets: it is the other end of the wire, not a layer of the server.
"""

from auctionactors.client.connection import CLOSE_BAD_TOKEN, Client
from auctionactors.client.errors import COMMANDS, RETRIED_CODES, ClientError, ConnectionLost

__all__ = [
    "CLOSE_BAD_TOKEN",
    "COMMANDS",
    "RETRIED_CODES",
    "Client",
    "ClientError",
    "ConnectionLost",
]
