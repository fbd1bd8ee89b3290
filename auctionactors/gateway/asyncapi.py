"""The WebSocket protocol (1 and 2) as an AsyncAPI 3.0 document, generated from the msgspec
types the server parses its frames with (`gateway.messages`) and describes its own with
(`gateway.outgoing`), with every error code and close code. ``auctionactors asyncapi`` prints
it; ``docs/asyncapi.json`` is its committed copy (a test keeps the two equal, and CI checks
the document with the AsyncAPI project's own parser).

The operations are the server's: it *receives* each request (and replies ``ok`` or
``error``) and *sends* the pushes.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import msgspec

from auctionactors.errors import ErrorCode
from auctionactors.gateway import messages as m
from auctionactors.gateway import outgoing as o

ERROR_CODES: dict[str, str] = {
    "bad_request": "malformed frame, unknown type, missing or ill-typed field",
    "unauthenticated": "no hello yet, or the token no longer signs in",
    "forbidden": "a role or participant check failed",
    "not_found": "an unknown auction, product, bid, or one the user may not see",
    "invalid": "a domain rule refused it; the message says which",
    "wrong_status": "not allowed in the auction's current status",
    "too_late": "the auction moved to decision before the bid was received",
    "traded_bids_not_allowed": "the auction does not take traded bids",
    "rate_limited": "too many requests (or auctions created); retry later",
    "unavailable": "not applied: the auction's actor is restarting or quarantined, or storage "
    "is down; retry later",
    "timeout": "outcome unknown; retry with the same key to learn it",
    "internal": "a server fault",
}
CLOSE_CODES: dict[int, str] = {
    1001: "the server is stopping",
    1008: "too many refused frames before the hello",
    1009: "a frame over 64 KiB",
    1011: "authentication could not be checked",
    1013: "the connection could not keep up (its outbox is full): reconnect and resume with since",
    4401: "a bad token",
    4408: "no hello within 10 s",
    4429: "too many connections for one token, or from one address before the hello",
}
PUSH_SUMMARIES: dict[str, str] = {
    "update": "Protocol 1: the events of one command and the receiver's whole view after them.",
    "update2": "Protocol 2: the events of one command and the view (a subscription's first) or "
    "an RFC 6902 patch of the previous one.",
    "history": "Catch-up events sent in pieces before the update of a subscribe far behind.",
    "unsubscribed": "The server ended a subscription.",
}
DESCRIPTION = """\
Real-time reverse auctions for marine fuel over one WebSocket. The client's first frame is
`hello` (within 10 s) with its token; the server answers `welcome`. Every request carries a
client-chosen `id`, echoed in its reply: `ok` (with the request's result fields) or `error`. An
`ok` to a command is sent only once the command's events are durably stored. The server pushes
`update`s of subscribed auctions, per auction in strictly increasing `seq`, never twice.

**Protocol 1** is what a client that says nothing in its `hello` gets: each `update` carries
the whole view. **Protocol 2** (`hello` with `"protocol": 2`; `welcome.protocol` says which is
in force): the first `update` of a subscription carries `view`, every later one `patch` (RFC
6902) and `server_time`; products carry no bid history; `subscribe_all` takes `statuses` and
answers `count`. Everything else is the same in both. Any command may carry `key` (an
idempotency key): a repeat gets the first `ok` and is not applied again.

Amounts are decimal strings in USD/MT, quantities integers, times RFC 3339 UTC strings.
"""


def document() -> dict[str, Any]:
    requests = [cls for cls in get_args(m.AnyFrame) if cls is not m.Hello]
    oks: list[type[o.Ok]] = list(dict.fromkeys([*o.OK_OF.values(), o.SeqOk]))
    server = [o.Welcome, o.Error, *o.PUSHES, *oks]
    _, schemas = msgspec.json.schema_components(
        [m.Hello, *requests, *server], ref_template="#/components/schemas/{name}"
    )
    _tidy(schemas)
    schemas["Hello"]["properties"]["protocol"]["enum"] = [1, 2]
    code = schemas["Error"]["properties"]["code"]
    code["description"] = "; ".join(f"`{k}`: {v}" for k, v in ERROR_CODES.items())
    code["x-codes"] = ERROR_CODES
    messages: dict[str, Any] = {}
    messages["hello"] = _message("hello", "Hello", "Sign in (the first frame).")
    for cls in requests:
        tag = _tag(cls)
        messages[tag] = _message(tag, cls.__name__, _request_summary(cls))
    messages["welcome"] = _message("welcome", "Welcome", "The session is open.")
    messages["error"] = _message("error", "Error", "A request was refused.")
    messages["error"]["description"] = "\n".join(f"- `{k}`: {v}" for k, v in ERROR_CODES.items())
    for cls in oks:
        key = _ok_key(cls)
        messages[key] = _message("ok", cls.__name__, _one_line(cls.__doc__ or "Success."))
    for cls in o.PUSHES:
        key = _snake(cls.__name__)
        messages[key] = _message(_tag(cls), cls.__name__, PUSH_SUMMARIES[key])
    channel_messages = {k: {"$ref": f"#/components/messages/{k}"} for k in messages}
    operations: dict[str, Any] = {
        "hello": _operation("hello", "Sign in with a token.", ["welcome", "error"])
    }
    for cls in requests:
        tag = _tag(cls)
        ok = _ok_key(o.OK_OF.get(tag, o.SeqOk))
        operations[tag] = _operation(tag, _request_summary(cls), [ok, "error"])
    for cls in o.PUSHES:
        key = _snake(cls.__name__)
        operations[f"push_{key}"] = {
            "action": "send",
            "channel": {"$ref": "#/channels/session"},
            "summary": PUSH_SUMMARIES[key],
            "messages": [{"$ref": f"#/channels/session/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "auctionactors WebSocket protocol",
            "version": "2",
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8765",
                "protocol": "ws",
                "pathname": "/ws",
                "description": "auctionactors serve (wss with --tls-cert/--tls-key)",
            }
        },
        "channels": {
            "session": {
                "address": "/ws",
                "title": "A session",
                "description": "One JSON object per text frame, UTF-8. Close codes: "
                + "; ".join(f"{k} {v}" for k, v in CLOSE_CODES.items())
                + ".",
                "messages": channel_messages,
                "x-close-codes": {str(k): v for k, v in CLOSE_CODES.items()},
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def text() -> str:
    """The document as ``auctionactors asyncapi`` prints it (and docs/asyncapi.json holds)."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def _message(name: str, schema: str, summary: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": schema,
        "summary": summary,
        "payload": {"$ref": f"#/components/schemas/{schema}"},
    }


def _operation(tag: str, summary: str, replies: list[str]) -> dict[str, Any]:
    return {
        "action": "receive",
        "channel": {"$ref": "#/channels/session"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/session/messages/{tag}"}],
        "reply": {
            "channel": {"$ref": "#/channels/session"},
            "messages": [{"$ref": f"#/channels/session/messages/{r}"} for r in replies],
        },
    }


def _tag(cls: type[msgspec.Struct]) -> str:
    return str(cls.__struct_config__.tag)


def _ok_key(cls: type[o.Ok]) -> str:
    return "ok" if cls is o.Ok else "ok_" + _snake(cls.__name__.removesuffix("Ok"))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _request_summary(cls: type[msgspec.Struct]) -> str:
    kind = "A command" if issubclass(cls, m.Command) else "A read"
    return f"{kind}: {_tag(cls).replace('_', ' ')}."


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _tidy(value: Any) -> None:
    """Docstrings as one line each (msgspec keeps their line breaks and indentation)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "description" and isinstance(item, str):
                value[key] = _one_line(item)
            else:
                _tidy(item)
    elif isinstance(value, list):
        for item in value:
            _tidy(item)


_CODES: tuple[str, ...] = get_args(ErrorCode)
assert set(_CODES) == set(ERROR_CODES), "every error code is described"
