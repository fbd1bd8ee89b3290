"""The daemon's log (``serve``, ``demo``) on stderr: plain lines with time and level (the
default), or ``--log-format json``: one JSON object a line, for log collectors.

A JSON line has ``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message``, the fields the
call passed in logging's ``extra`` (``auction_id`` and ``seq`` where they apply) and, after a
failure, ``exception`` (the traceback as text).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
from typing import Any

from auctionactors.errors import UsageError

FORMATS = ("plain", "json")
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The attributes every LogRecord has: anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One compact JSON object per record (never a line break inside: tracebacks are
    escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        doc: dict[str, Any] = {
            "time": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc, default=str, separators=(",", ":"))


def configure(log_format: str = "plain") -> None:
    """The root logger on stderr: warnings and errors (a crash, a quarantine, a storage
    failure) by default; ``$AUCTIONACTORS_LOG_LEVEL`` (e.g. INFO) for more."""
    name = os.environ.get("AUCTIONACTORS_LOG_LEVEL", "WARNING").upper()
    level = logging.getLevelNamesMapping().get(name)
    if level is None:
        raise UsageError(f"AUCTIONACTORS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR: {name}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # websockets logs whole frames at DEBUG, hello tokens included: never below INFO.
    logging.getLogger("websockets").setLevel(max(level, logging.INFO))
