"""One error tree for the whole system.

Every layer raises from this tree, so callers can tell an expected refusal from a failure::

    AuctionActorsError
    ├── DomainError              a rule refused a command: an answer to the client, never logged
    │                            as a failure; ``code`` is the protocol error code
    ├── StoreError               the event store could not do what was asked
    │   ├── ConcurrencyError     an append whose expected sequence is stale (another writer won)
    │   ├── StorageUnavailable   the storage failed (I/O error, disk full, locked); retry later
    │   └── CorruptionError      stored data is damaged (gap, undecodable event, broken hash chain)
    ├── Unavailable              the auction's actor is restarting, quarantined or overloaded
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


class CorruptionError(StoreError):
    """Stored data is damaged: a gap, an undecodable event or a broken hash chain."""

    code: ErrorCode = "internal"


class Unavailable(AuctionActorsError):
    """The auction's actor cannot take the command now (restarting, quarantined, mailbox full)."""

    code: ErrorCode = "unavailable"


class ActorCrashed(AuctionActorsError):
    """The command crashed the actor; the supervisor restarts it by replay."""

    code: ErrorCode = "internal"


class UsageError(AuctionActorsError):
    """Bad command-line input: one clear line on stderr, exit status 2."""

    code: ErrorCode = "bad_request"
