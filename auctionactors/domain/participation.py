"""Around the bidding: barges, comments, RSVPs and observers.

Repeating an identical action records nothing (the command succeeds with no event), so a client
that retries after a lost reply cannot flood the audit trail.
"""

from __future__ import annotations

from auctionactors.domain.access import (
    require_admin,
    require_buyer_or_admin,
    require_invited_supplier,
    wrong_status,
)
from auctionactors.domain.bounds import check_text
from auctionactors.domain.commands import (
    ApproveBarge,
    DeleteComment,
    GiveRsvp,
    InviteObserver,
    PostComment,
    RejectBarge,
    SubmitBarge,
    UninviteObserver,
    UnsubmitBarge,
)
from auctionactors.domain.events import (
    BargeApproved,
    BargeRejected,
    BargeSubmitted,
    BargeUnsubmitted,
    CommentDeleted,
    CommentPosted,
    Event,
    ObserverInvited,
    ObserverUninvited,
    RsvpGiven,
)
from auctionactors.domain.lifecycle import clock_status
from auctionactors.domain.parties import By, Caller
from auctionactors.domain.state import AuctionState, barge_key
from auctionactors.domain.terms import FINAL_STATUSES
from auctionactors.domain.timestamps import Instant
from auctionactors.errors import DomainError

_ACTIVE = ("pending", "open", "decision")


def _require_status(state: AuctionState, now: Instant, allowed: tuple[str, ...], what: str) -> None:
    status = clock_status(state, now)
    if status not in allowed:
        raise wrong_status(what, status)


def _text(value: str, field: str) -> str:
    """The text trimmed of white space, after `check_text`."""
    check_text(value, field)
    return value.strip()


def submit_barge(state: AuctionState, cmd: SubmitBarge, now: Instant) -> list[Event]:
    require_invited_supplier(state, cmd.by)
    _require_status(state, now, _ACTIVE, "barges cannot be submitted")
    barge = cmd.barge
    check_text(barge.name, "barge name")
    check_text(barge.imo, "barge imo")
    existing = state.barges.get(barge_key(cmd.by.company_id, barge.imo))
    if existing is not None and existing.barge == barge:
        return []
    return [BargeSubmitted(at=now, by=By.of(cmd.by), supplier_id=cmd.by.company_id, barge=barge)]


def unsubmit_barge(state: AuctionState, cmd: UnsubmitBarge, now: Instant) -> list[Event]:
    require_invited_supplier(state, cmd.by)
    _require_status(state, now, _ACTIVE, "barges cannot be unsubmitted")
    if barge_key(cmd.by.company_id, cmd.imo) not in state.barges:
        return []
    return [BargeUnsubmitted(at=now, by=By.of(cmd.by), supplier_id=cmd.by.company_id, imo=cmd.imo)]


def judge_barge(state: AuctionState, cmd: ApproveBarge | RejectBarge, now: Instant) -> list[Event]:
    require_buyer_or_admin(state, cmd.by)
    _require_status(state, now, (*_ACTIVE, "closed"), "barges cannot be approved or rejected")
    supplier_id = named_supplier(state, cmd.by, cmd.supplier_id)
    record = None if supplier_id is None else state.barges.get(barge_key(supplier_id, cmd.imo))
    if supplier_id is None or record is None:
        # The same answer for every supplier that does not match, real or not, with a barge
        # or not: it echoes only what was asked.
        raise DomainError("not_found", f"no barge {cmd.imo} submitted by {cmd.supplier_id}")
    approve = isinstance(cmd, ApproveBarge)
    if record.status == ("approved" if approve else "rejected"):
        return []
    kind = BargeApproved if approve else BargeRejected
    return [kind(at=now, by=By.of(cmd.by), supplier_id=supplier_id, imo=cmd.imo)]


def named_supplier(state: AuctionState, caller: Caller, name: str) -> str | None:
    """The supplier a buyer or admin names: by alias ("Supplier 3") or by id. A buyer of an
    anonymous auction knows only aliases, so a real id from it names no one (it must not be
    able to test which id is behind which alias); an admin may use either."""
    by_alias = next((sid for sid, alias in state.aliases.items() if alias == name), None)
    anonymous_buyer = caller.role != "admin" and state.terms.anonymous_bidding
    if anonymous_buyer:
        return by_alias
    if state.is_supplier(name) or name in state.aliases:
        return name
    return by_alias if caller.role == "admin" else None


def post_comment(state: AuctionState, cmd: PostComment, now: Instant) -> list[Event]:
    require_invited_supplier(state, cmd.by)
    _require_status(state, now, _ACTIVE, "comments cannot be posted")
    text = _text(cmd.text, "text")
    comment_id = f"{state.auction_id}:c{state.seq + 1}"
    return [
        CommentPosted(
            at=now,
            by=By.of(cmd.by),
            comment_id=comment_id,
            supplier_id=cmd.by.company_id,
            text=text,
        )
    ]


def delete_comment(state: AuctionState, cmd: DeleteComment, now: Instant) -> list[Event]:
    require_invited_supplier(state, cmd.by)
    status = clock_status(state, now)
    if status in FINAL_STATUSES:
        raise wrong_status("comments cannot be deleted", status)
    comment = state.comments.get(cmd.comment_id)
    if comment is None or comment.supplier_id != cmd.by.company_id:
        raise DomainError("not_found", f"no comment {cmd.comment_id} of yours")
    if comment.deleted:
        return []
    return [
        CommentDeleted(
            at=now, by=By.of(cmd.by), comment_id=cmd.comment_id, supplier_id=cmd.by.company_id
        )
    ]


def give_rsvp(state: AuctionState, cmd: GiveRsvp, now: Instant) -> list[Event]:
    require_invited_supplier(state, cmd.by)
    _require_status(state, now, _ACTIVE, "invitations cannot be answered")
    if state.rsvp.get(cmd.by.company_id) == cmd.response:
        return []
    return [
        RsvpGiven(at=now, by=By.of(cmd.by), supplier_id=cmd.by.company_id, response=cmd.response)
    ]


def invite_observer(state: AuctionState, cmd: InviteObserver, now: Instant) -> list[Event]:
    require_admin(state, cmd.by, "invite observers")
    if cmd.observer.id in state.observers:
        return []
    if cmd.observer.id == state.terms.buyer.id or state.is_supplier(cmd.observer.id):
        raise DomainError("invalid", "the buyer and the suppliers cannot be observers")
    return [ObserverInvited(at=now, by=By.of(cmd.by), observer=cmd.observer)]


def uninvite_observer(state: AuctionState, cmd: UninviteObserver, now: Instant) -> list[Event]:
    require_admin(state, cmd.by, "uninvite observers")
    if cmd.company_id not in state.observers:
        return []
    return [ObserverUninvited(at=now, by=By.of(cmd.by), company_id=cmd.company_id)]
