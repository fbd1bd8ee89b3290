"""One error tree for the whole system.

Every layer raises from this tree, so callers can tell an expected refusal from a failure::

    AuctionActorsError
    ├── DomainError              a rule refused a command: an answer to the client, never logged
    │                            as a failure; ``code`` is the protocol error code
    ├── StoreError               the event store could not do what was asked
    │   ├── ConcurrencyError     an append whose expected sequence is stale (another writer won)
    │   ├── StorageUnavailable   the storage failed (I/O error, disk full, locked); nothing was
    │   │                        written; retry later
    │   │   └── StoreLocked      another process holds the store exclusively (a second serve)
    │   ├── DuplicateKey         an append's idempotency key was already applied; nothing written
    │   ├── OutcomeUnknown       the write may or may not have happened (answered ``timeout``)
    │   ├── Fenced               this node no longer owns the stream (a newer owner's epoch is
    │   │                        stored): nothing was written; it must step down, not retry
    │   └── CorruptionError      stored data is damaged (gap, undecodable event, broken hash chain)
    ├── Unavailable              the auction's actor is restarting, quarantined or overloaded;
    │   │                        the command was not applied
    │   └── NotOwner             cluster mode: another node owns the auction (forward it there)
    ├── CommandTimedOut          no answer in time after the command was taken: outcome unknown
    ├── ActorCrashed             the command crashed the actor (answered ``internal``)
    └── UsageError               bad command-line input (exit status 2)

This module sits below every layer (the domain included): it imports nothing of ours.
"""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "bad_request",
    "unauthenticated",
    "forbidden",
    "not_found",
    "invalid",
    "wrong_status",
    "too_late",
    "traded_bids_not_allowed",
    "rate_limited",
    "unavailable",
    "timeout",
    "internal",
]

TOO_LATE_MESSAGE = "auction moved to decision before the bid was received"


class AuctionActorsError(Exception):
    """Root of every error this package raises on purpose."""

    code: ErrorCode = "internal"


class DomainError(AuctionActorsError):
    """A domain rule refused a command; ``code`` and ``message`` go to the client as they are."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r})"


class StoreError(AuctionActorsError):
    """The event store could not complete an operation."""

    code: ErrorCode = "unavailable"


class ConcurrencyError(StoreError):
    """An append's expected sequence is not the stream's highest: another writer got there first."""


class StorageUnavailable(StoreError):
    """The storage itself failed (I/O error, disk full, database locked). Nothing was written."""


class StoreLocked(StorageUnavailable):
    """Another process holds the store exclusively (one ``serve`` per database)."""


class DuplicateKey(StoreError):
    """An append carried an idempotency key that is already stored: nothing was written. The
    caller looks the key up (`EventStore.find_keys`) and answers with the stored result."""


class OutcomeUnknown(StoreError):
    """The write may or may not have been committed (the connection broke during COMMIT, the
    store closed with the append queued). Answered ``timeout``: retry with the same key."""

    code: ErrorCode = "timeout"


class Fenced(StoreError):
    """An append refused inside its own transaction by the store's fence (cluster mode): another
    node has taken over the stream's partition with a newer epoch since this node's lease was
    granted, so this node must not write it. Nothing was written; the caller steps down (and a
    client's command is retried, with its key, through the new owner)."""


class CorruptionError(StoreError):
    """Stored data is damaged: a gap, an undecodable event or a broken hash chain."""

    code: ErrorCode = "internal"


class Unavailable(AuctionActorsError):
    """The auction's actor cannot take the command now (restarting, quarantined, mailbox full)."""

    code: ErrorCode = "unavailable"


class NotOwner(Unavailable):
    """Cluster mode: this node does not own the auction's partition; ``owner`` is the node that
    did at its last look (None: nobody yet, a takeover is under way). Not applied here."""

    def __init__(self, auction_id: str, owner: str | None) -> None:
        where = f"node {owner}" if owner else "no node yet"
        super().__init__(f"auction {auction_id} is owned by {where}")
        self.auction_id = auction_id
        self.owner = owner


class CommandTimedOut(AuctionActorsError):
    """The command was taken by its actor but not answered in time: it may still take effect.
    Answered ``timeout``; the client retries with the same key to learn the outcome."""

    code: ErrorCode = "timeout"


class ActorCrashed(AuctionActorsError):
    """The command crashed the actor; the supervisor restarts it by replay."""

    code: ErrorCode = "internal"


class UsageError(AuctionActorsError):
    """Bad command-line input: one clear line on stderr, exit status 2."""

    code: ErrorCode = "bad_request"
