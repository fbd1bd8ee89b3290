"""Randomness the runtime draws for the domain (which draws none: it is an input, like time)."""

from __future__ import annotations

import secrets

__all__ = ["alias_salt"]


def alias_salt() -> bytes:
    """A fresh secret salt for one CreateAuction or UpdateAuction: it orders the suppliers'
    anonymous aliases (`lifecycle.aliases_for`) and is kept nowhere, so no one can recompute
    them."""
    return secrets.token_bytes(16)
