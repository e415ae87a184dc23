"""The business's voice guide (sample emails, rules, a generic-vs-ours contrast) and the linter
that checks a draft against the rules a program can check."""

import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import EngineError
from engine.models import VoiceGuide as VoiceGuideRow

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Rule = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]

# Phrases that mark an email as written by nobody in particular.
GENERIC_PHRASES = (
    "in today's fast-paced world",
    "delighted",
    "thrilled",
    "we're excited to announce",
    "valued customer",
    "don't hesitate to",
    "do not hesitate to",
    "reach out",
    "touch base",
    "elevate your",
    "unlock the",
    "game-changer",
    "game changer",
    "look no further",
    "dear customer",
    "synergy",
    "seamless",
)

# Uncontracted forms a guide that wants contractions flags ("we are" -> "we're").
CONTRACTIONS = {
    "do not": "don't",
    "does not": "doesn't",
    "did not": "didn't",
    "is not": "isn't",
    "are not": "aren't",
    "was not": "wasn't",
    "can not": "can't",
    "cannot": "can't",
    "will not": "won't",
    "would not": "wouldn't",
    "could not": "couldn't",
    "should not": "shouldn't",
    "have not": "haven't",
    "has not": "hasn't",
    "we are": "we're",
    "you are": "you're",
    "they are": "they're",
    "i am": "I'm",
    "it is": "it's",
    "that is": "that's",
    "we have": "we've",
    "you have": "you've",
    "we will": "we'll",
    "you will": "you'll",
    "it will": "it'll",
    "let us": "let's",
}
_UNCONTRACTED = re.compile(
    r"(?i)\b("
    + "|".join(re.escape(k) for k in sorted(CONTRACTIONS, key=len, reverse=True))
    + r")\b"
)
# "we've" has a possessive look-alike ("the team's") that is not a contraction; keep to the
# apostrophe forms of pronouns and negations.
_CONTRACTED = re.compile(
    r"(?i)\b(?:\w+n['\u2019]t|(?:i|we|you|they|it|that|there|let)['\u2019](?:m|re|s|ve|ll|d))\b"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_WORD = re.compile(r"[\w'\u2019-]+")


class VoiceChecks(BaseModel):
    """The rules a program can check on every draft."""

    banned_phrases: list[Phrase] = Field(
        default_factory=lambda: list(GENERIC_PHRASES), max_length=200
    )
    max_sentence_words: int = Field(default=28, ge=5, le=100)
    contractions: Literal["use", "avoid", "any"] = "use"
    max_exclamation_marks: int = Field(default=1, ge=0, le=20)
    max_subject_chars: int = Field(default=70, ge=10, le=200)


class VoiceContrast(BaseModel):
    """The same thing said generically, and said in the business's voice."""

    generic: Text
    ours: Text


class VoiceGuide(BaseModel):
    """How the business sounds: 3-5 sample emails, 5-10 rules, a generic-vs-ours contrast."""

    # Also a text column, where PostgreSQL cannot store a NUL character.
    business: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00]*$"
        ),
    ]
    samples: list[Text] = Field(min_length=3, max_length=5)
    rules: list[Rule] = Field(min_length=5, max_length=10)
    contrast: list[VoiceContrast] = Field(min_length=1, max_length=5)
    checks: VoiceChecks = Field(default_factory=VoiceChecks)
    sign_off: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = "The team"


class InvalidVoiceGuide(EngineError):
    """A voice guide file that is not JSON or does not match the schema; names the field."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


def parse_voice_guide(raw: bytes) -> VoiceGuide:
    """A voice guide from the bytes of a JSON file, or InvalidVoiceGuide naming the field."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InvalidVoiceGuide(f"not valid UTF-8 (byte {error.start})") from None
    except (ValueError, RecursionError) as error:  # ValueError: an int of over 4300 digits
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise InvalidVoiceGuide(f"not valid JSON: {reason}") from None
    try:
        return VoiceGuide.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise InvalidVoiceGuide(first["msg"], field=where.lstrip(".") or "(root)") from None


class StoredVoiceGuide(VoiceGuide):
    """A voice guide as stored: its version number."""

    version: int | None = None


class LintViolation(BaseModel):
    """A draft breaking a checkable rule of the voice guide."""

    rule: str
    message: str
    excerpt: str


# Used until the business sets its own guide: plain, short, warm, no marketing clichés.
DEFAULT_GUIDE = StoredVoiceGuide(
    business="our shop",
    samples=[
        "Hi Sam,\n\nYour order left us this morning. It should be with you by Thursday.\n\n"
        "If anything's not right when it arrives, reply to this email and we'll sort it.\n\n"
        "The team",
        "Hi Ana,\n\nThanks for signing up. We're a small team, and we read every reply.\n\n"
        "Tell us what you're after and we'll point you at the right thing.\n\nThe team",
        "Hi Lee,\n\nIt's been a while. Nothing's changed that matters: same people, same care.\n\n"
        "If you'd like a hand choosing something, just reply.\n\nThe team",
    ],
    rules=[
        "Write like a person at a small shop writing to one customer.",
        "Keep sentences short: under 28 words.",
        "Use contractions (we're, you'll, don't).",
        "No marketing clichés: never 'delighted', 'valued customer' or 'reach out'.",
        "At most one exclamation mark in an email.",
        "Only mention what the customer told us or bought; never guess about them.",
    ],
    contrast=[
        VoiceContrast(
            generic="We are delighted to welcome you to our community of valued customers!",
            ours="Thanks for signing up. We're glad you're here.",
        )
    ],
    version=None,
)


def lint(*, subject: str, preheader: str, body: str, checks: VoiceChecks) -> list[LintViolation]:
    """Every checkable rule the draft breaks, each with the words that break it."""
    violations: list[LintViolation] = []
    everything = f"{subject}\n{preheader}\n{body}"
    folded = everything.casefold()
    for phrase in checks.banned_phrases:
        at = folded.find(phrase.casefold())
        if at >= 0:
            violations.append(
                LintViolation(
                    rule="banned_phrase",
                    message=f"uses the banned phrase {phrase!r}",
                    excerpt=everything[at : at + len(phrase)],
                )
            )
    for sentence in _SENTENCE.findall(body):
        count = len(_WORD.findall(sentence))
        if count > checks.max_sentence_words:
            violations.append(
                LintViolation(
                    rule="sentence_length",
                    message=f"a sentence of {count} words (the guide allows "
                    f"{checks.max_sentence_words})",
                    excerpt=sentence.strip()[:200],
                )
            )
    if checks.contractions == "use":
        for match in _UNCONTRACTED.finditer(everything):
            violations.append(
                LintViolation(
                    rule="contractions",
                    message=f"write {CONTRACTIONS[match.group(1).lower()]!r}, not "
                    f"{match.group(1)!r}",
                    excerpt=match.group(0),
                )
            )
    elif checks.contractions == "avoid":
        for match in _CONTRACTED.finditer(everything):
            violations.append(
                LintViolation(
                    rule="contractions",
                    message=f"the guide avoids contractions: {match.group(0)!r}",
                    excerpt=match.group(0),
                )
            )
    exclamations = everything.count("!")
    if exclamations > checks.max_exclamation_marks:
        violations.append(
            LintViolation(
                rule="exclamation_marks",
                message=f"{exclamations} exclamation marks (the guide allows "
                f"{checks.max_exclamation_marks})",
                excerpt="!",
            )
        )
    if len(subject) > checks.max_subject_chars:
        violations.append(
            LintViolation(
                rule="subject_length",
                message=f"a subject of {len(subject)} characters (the guide allows "
                f"{checks.max_subject_chars})",
                excerpt=subject[:200],
            )
        )
    return violations


def current_voice(session: Session) -> StoredVoiceGuide:
    """The voice guide in use: the newest one set, or the built-in default."""
    row = session.scalars(select(VoiceGuideRow).order_by(VoiceGuideRow.id.desc()).limit(1)).first()
    if row is None:
        return DEFAULT_GUIDE
    return StoredVoiceGuide.model_validate({**row.guide, "version": row.id})


def set_voice(session: Session, *, guide: VoiceGuide, actor: str) -> StoredVoiceGuide:
    """Store a new version of the voice guide; drafts from now on use it."""
    row = VoiceGuideRow(
        business=guide.business, guide=guide.model_dump(mode="json"), created_by=actor
    )
    session.add(row)
    session.flush()
    return StoredVoiceGuide.model_validate({**guide.model_dump(), "version": row.id})
