"""The client's errors, and which requests are commands (they carry an idempotency key)."""

from __future__ import annotations

# The requests that change an auction (PROTOCOL.md, Requests): they carry an idempotency key.
COMMANDS: frozenset[str] = frozenset(
    {
        "create_auction",
        "update_auction",
        "start_auction",
        "cancel_auction",
        "place_bids",
        "revoke_bid",
        "select_solution",
        "submit_barge",
        "unsubmit_barge",
        "approve_barge",
        "reject_barge",
        "post_comment",
        "delete_comment",
        "rsvp",
        "invite_observer",
        "uninvite_observer",
    }
)
# Error codes after which a command is sent again with its key: the outcome is unknown
# (``connection_lost``, ``timeout``) or it was not applied (``unavailable``).
RETRIED_CODES = frozenset({"connection_lost", "timeout", "unavailable"})


class ClientError(Exception):
    """The server answered ``error`` (``code`` is the protocol's error code), or the client could
    not reach it (``unavailable``), lost the connection (``connection_lost``), got no reply in
    time (``timeout``) or is closed (``closed``). ``key``: for a command, the idempotency key it
    was sent with (retry with ``key=`` to learn an unknown outcome without applying it twice)."""

    key: str | None = None

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(ClientError):
    """The connection dropped before the reply: the request may or may not have been applied."""

    def __init__(self, message: str = "the connection was lost before the reply") -> None:
        super().__init__("connection_lost", message)
