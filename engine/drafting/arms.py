"""The arms of a campaign run: which customers get the personal draft, which the same step's
generic template (an A/B run), and which are held out (no email, counted to show what the
emails earned).

A customer's arm is a keyed hash of their id and the campaign kind, so it is the same on every
run (and in every process) and nobody can predict it without the key; the key is made once and
kept in the `secrets` table."""

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import insert_ignoring_conflicts
from engine.models import Arm, Secret

ARM_KEY = "arm_key"
# 2**53: the hash's first 53 bits as a float in [0, 1) lose nothing to rounding.
_SPAN = float(1 << 53)


def arm_key(session: Session) -> bytes:
    """The arm-assignment key, made on first use (two processes making it at once agree)."""
    insert_ignoring_conflicts(
        session, Secret, {"name": ARM_KEY, "value": secrets.token_hex(32)}, key=["name"]
    )
    value = session.scalars(select(Secret.value).where(Secret.name == ARM_KEY)).one()
    return bytes.fromhex(value)


def _digest(key: bytes, *, customer_id: str, kind: str) -> bytes:
    # A NUL between the two keeps ("ab", "c") and ("a", "bc") apart.
    message = customer_id.encode() + b"\x00" + kind.encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def arm_draw(key: bytes, *, customer_id: str, kind: str) -> float:
    """The customer's uniform draw in [0, 1) for a campaign kind (the holdout decision)."""
    digest = _digest(key, customer_id=customer_id, kind=kind)
    return (int.from_bytes(digest[:8], "big") >> 11) / _SPAN


def assign_arm(key: bytes, *, customer_id: str, kind: str, holdout: float, ab: bool) -> Arm:
    """The arm of a customer in a campaign of `kind`: held out when the draw falls below
    `holdout`; else, in an A/B run, personal or generic by an independent bit of the hash (an
    even split); else personal."""
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must lie in [0, 1), not {holdout}")
    if holdout == 0.0 and not ab:
        return "personal"
    digest = _digest(key, customer_id=customer_id, kind=kind)
    draw = (int.from_bytes(digest[:8], "big") >> 11) / _SPAN
    if draw < holdout:
        return "holdout"
    if not ab:
        return "personal"
    # A bit of a byte the draw never reads: independent of the holdout decision.
    return "personal" if digest[8] & 1 == 0 else "generic"
