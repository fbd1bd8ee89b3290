"""Bearer tokens and account ids, shared by every `Accounts` backend.

A token is 256 random bits, so a plain sha256 of it is as strong as a slow salted hash: an attacker
with the database cannot brute-force it. Storing only the hash means a leaked database (or a
backup) grants no access.
"""

from __future__ import annotations

import hashlib
import secrets

from auctionactors.errors import UsageError
from auctionactors.store.base import ROLES, Role


def new_token() -> str:
    """A fresh bearer token, shown to its owner once and never stored. Never starting with
    ``-``, which a command line (``--token -x...``) would take for an option."""
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


def token_hash(token: str) -> bytes:
    """What the store keeps instead of the token (see the module docstring for why sha256)."""
    return hashlib.sha256(token.encode()).digest()


def new_company_id() -> str:
    return f"c-{secrets.token_hex(8)}"


def new_user_id() -> str:
    return f"u-{secrets.token_hex(8)}"


def check_new_user(company_name: str, role: str, user_name: str) -> Role:
    """Validate `Accounts.add_user` input the same way in every backend; returns the role."""
    if not company_name.strip():
        raise UsageError("company name must not be empty")
    if not user_name.strip():
        raise UsageError("user name must not be empty")
    for known in ROLES:
        if role == known:
            return known
    raise UsageError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def check_email(email: str | None) -> str | None:
    """A user's mail address, checked the same way in every backend: one ``@`` with something
    on each side, no spaces or control characters (the SMTP server is the judge of the rest)."""
    if email is None:
        return None
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or not domain
        or "@" in domain
        or len(email) > 254
        or any(c.isspace() or ord(c) < 32 or c in "<>," for c in email)
    ):
        raise UsageError(f"not a mail address: {email!r}")
    return email


def role_clash(company_name: str, existing: str, wanted: str) -> UsageError:
    """The error for adding a user to an existing company under a different role."""
    return UsageError(
        f"company {company_name!r} already exists as {existing}, not {wanted}; "
        "a company has one role"
    )
