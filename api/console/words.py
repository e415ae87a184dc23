"""The engine's names in a shop owner's words: one place for every console page."""

import re

KIND_LABELS = {"welcome": "Welcome", "post_purchase": "After a purchase", "win_back": "Win-back"}
STATUS_LABELS = {
    "pending_review": "Waiting for review",
    "needs_attention": "Needs a fix",
    "approved": "Approved",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
    "sent": "Sent",
}


def name_words(name: str) -> str:
    """A stored name as words, capitalised: "pricing_interest" reads "Pricing interest"."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def step_label(step: str) -> str:
    """A sequence step in words: `d90` is "day 90"."""
    found = re.fullmatch(r"d(\d+)", step)
    return f"day {found.group(1)}" if found else step


def flow_label(kind: str, step: str) -> str:
    """A campaign step in plain words: "Welcome, day 0"."""
    return f"{KIND_LABELS.get(kind, name_words(kind))}, {step_label(step)}"
