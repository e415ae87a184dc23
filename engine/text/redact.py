"""PII redaction: emails, phone numbers, card numbers and street addresses, before anything
is embedded, quoted, stored in a vector payload or sent to a model."""

import re
from collections import Counter
from dataclasses import dataclass, field

_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    r"terrace|close|crescent|parkway|pkwy|highway|hwy|square|sq|row|walk|mews"
)
# Order matters: cards before phones (a card is a longer digit run), addresses last.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)),
    # 13 to 19 digits, optionally grouped by spaces or dashes: a payment card number.
    ("card", re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])")),
    # "card ending 4242", "ending in 4242", "last four digits are 4242", "last 4: 1881".
    (
        "card",
        re.compile(
            r"(?i)((?:ending|ends)(?:\s+(?:in|with))?|last\s+(?:four|4)(?:\s+digits)?"
            r"(?:\s+(?:are|is|of))?)\s*:?\s*(\d{4})\b"
        ),
    ),
    # Phone numbers: +country, (area), groups of 2-4 digits separated by space, dot or dash,
    # at least 7 digits in all.
    (
        "phone",
        re.compile(
            r"(?<![\w])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,5}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,6}){1,4}"
            r"(?![\w])"
        ),
    ),
    # A bare run of 10 to 15 digits reads as a phone number too (an order number may go
    # with it: better a redacted order number than a leaked phone number).
    ("phone", re.compile(r"(?<![\w+])\+?\d{10,15}(?![\w])")),
    (
        "address",
        re.compile(
            r"(?i)\b\d{1,5}[a-z]?\s+(?:[a-z][\w'-]*\s+){0,3}(?:" + _STREET_TYPES + r")\b\.?"
            r"(?:,?\s+(?:apt|apartment|unit|suite|flat)\.?\s*#?\w+)?"
            r"(?:,\s*[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?)?"
        ),
    ),
)
PLACEHOLDERS = {kind: f"[{kind}]" for kind in ("email", "card", "phone", "address")}


@dataclass(frozen=True)
class Redacted:
    """Text with PII replaced by placeholders like `[email]`, and what was found."""

    text: str
    found: Counter[str] = field(default_factory=Counter)


def _phone_like(match: re.Match[str]) -> bool:
    """Only digit runs with 7 to 15 digits are phone numbers (not years, prices or sizes)."""
    digits = sum(ch.isdigit() for ch in match.group(0))
    return 7 <= digits <= 15


def redact(text: str) -> Redacted:
    """Replace emails, card numbers, phone numbers and street addresses with placeholders."""
    found: Counter[str] = Counter()
    for kind, pattern in _PATTERNS:

        def replace(match: re.Match[str], kind: str = kind) -> str:
            if kind == "phone" and not _phone_like(match):
                return match.group(0)
            found[kind] += 1
            if kind == "card" and match.lastindex == 2:  # keep "ending in", drop the digits
                return f"{match.group(1)} {PLACEHOLDERS[kind]}"
            return PLACEHOLDERS[kind]

        text = pattern.sub(replace, text)
    return Redacted(text=text, found=found)
