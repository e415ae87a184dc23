"""Console pages: the voice guide, shown readably with the linter's verdict on each sample
email, and edited either part by part or as JSON."""

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from api.console.auth import FormDep, Viewer, ViewerDep
from api.console.pages import render
from api.deps import DatabaseDep
from engine.db import Database
from engine.drafting.voice import (
    InvalidVoiceGuide,
    LintViolation,
    StoredVoiceGuide,
    VoiceGuide,
    current_voice,
    lint,
    parse_voice_guide,
    set_voice,
)

router = APIRouter(prefix="/app")

# How many of each part the form offers: the most the guide allows.
SAMPLE_SLOTS = 5
RULE_SLOTS = 10
CONTRAST_SLOTS = 5
CONTRACTIONS = {
    "use": "Use contractions (we're, don't)",
    "avoid": "Avoid contractions (we are, do not)",
    "any": "Either is fine",
}
# Names of the guide's parts as the form labels them.
PART_LABELS = {
    "business": "Business name",
    "sign_off": "Sign-off",
    "samples": "Sample emails",
    "rules": "Rules",
    "contrast": "Generic versus ours",
    "checks.banned_phrases": "Banned phrases",
    "checks.max_sentence_words": "Longest sentence (words)",
    "checks.contractions": "Contractions",
    "checks.max_exclamation_marks": "Exclamation marks per email",
    "checks.max_subject_chars": "Longest subject line (characters)",
}


@dataclass(frozen=True)
class SampleVerdict:
    """One sample email and what the voice checks say about it."""

    text: str
    violations: list[LintViolation]


@dataclass
class GuideForm:
    """The edit form's values (the guide's, or what was posted) and its errors by field id."""

    business: str
    sign_off: str
    samples: list[str]
    rules: list[str]
    contrast: list[tuple[str, str]]
    banned_phrases: str
    max_sentence_words: str
    contractions: str
    max_exclamation_marks: str
    max_subject_chars: str
    errors: dict[str, str] = field(default_factory=dict)


def verdicts(guide: VoiceGuide) -> list[SampleVerdict]:
    """Each sample email linted against the guide's own checks (a sample has no subject)."""
    return [
        SampleVerdict(
            text=sample, violations=lint(subject="", preheader="", body=sample, checks=guide.checks)
        )
        for sample in guide.samples
    ]


def padded(values: list[str], slots: int) -> list[str]:
    """The values followed by blanks, `slots` in all."""
    return values + [""] * (slots - len(values))


def form_of(guide: VoiceGuide) -> GuideForm:
    """The edit form filled in with a guide."""
    checks = guide.checks
    pairs = [(c.generic, c.ours) for c in guide.contrast]
    return GuideForm(
        business=guide.business,
        sign_off=guide.sign_off,
        samples=padded(list(guide.samples), SAMPLE_SLOTS),
        rules=padded(list(guide.rules), RULE_SLOTS),
        contrast=pairs + [("", "")] * (CONTRAST_SLOTS - len(pairs)),
        banned_phrases="\n".join(checks.banned_phrases),
        max_sentence_words=str(checks.max_sentence_words),
        contractions=checks.contractions,
        max_exclamation_marks=str(checks.max_exclamation_marks),
        max_subject_chars=str(checks.max_subject_chars),
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def values_posted(form: FormData) -> GuideForm:
    """The edit form as posted (every slot, blanks included, so a failed save shows it back)."""
    return GuideForm(
        business=_text(form, "business"),
        sign_off=_text(form, "sign_off"),
        samples=[_text(form, f"sample_{n}") for n in range(SAMPLE_SLOTS)],
        rules=[_text(form, f"rule_{n}") for n in range(RULE_SLOTS)],
        contrast=[
            (_text(form, f"generic_{n}"), _text(form, f"ours_{n}")) for n in range(CONTRAST_SLOTS)
        ],
        banned_phrases=_text(form, "banned_phrases"),
        max_sentence_words=_text(form, "max_sentence_words"),
        contractions=_text(form, "contractions"),
        max_exclamation_marks=_text(form, "max_exclamation_marks"),
        max_subject_chars=_text(form, "max_subject_chars"),
    )


@dataclass(frozen=True)
class Slots:
    """Which form slot each list item came from (blank slots are left out of the guide)."""

    samples: list[int]
    rules: list[int]
    contrast: list[int]


def filled(values: list[str]) -> list[int]:
    """The slots that hold something."""
    return [n for n, value in enumerate(values) if value.strip()]


def guide_data(values: GuideForm) -> tuple[dict[str, Any], Slots]:
    """The guide the form describes, as data to validate, and where each item came from."""
    slots = Slots(
        samples=filled(values.samples),
        rules=filled(values.rules),
        contrast=[n for n, pair in enumerate(values.contrast) if "".join(pair).strip()],
    )
    data = {
        "business": values.business,
        "sign_off": values.sign_off,
        "samples": [values.samples[n] for n in slots.samples],
        "rules": [values.rules[n] for n in slots.rules],
        "contrast": [
            {"generic": values.contrast[n][0], "ours": values.contrast[n][1]}
            for n in slots.contrast
        ],
        "checks": {
            "banned_phrases": [p.strip() for p in values.banned_phrases.splitlines() if p.strip()],
            "max_sentence_words": values.max_sentence_words.strip(),
            "contractions": values.contractions,
            "max_exclamation_marks": values.max_exclamation_marks.strip(),
            "max_subject_chars": values.max_subject_chars.strip(),
        },
    }
    return data, slots


def plain_message(error: ErrorDetails) -> str:
    """A validation error in a shop owner's words."""
    kind, ctx = error["type"], error.get("ctx", {})
    messages = {
        "too_short": f"needs at least {ctx.get('min_length')}",
        "too_long": f"can have at most {ctx.get('max_length')}",
        "string_too_short": "is empty or too short"
        if ctx.get("min_length", 1) <= 1
        else f"needs at least {ctx.get('min_length')} characters",
        "string_too_long": f"is too long (at most {ctx.get('max_length')} characters)",
        "int_parsing": "must be a whole number",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "literal_error": "is not one of the choices",
        "string_pattern_mismatch": "holds a character that cannot be stored",
    }
    return messages.get(kind, error["msg"])


def field_of(loc: tuple[int | str, ...], slots: Slots) -> tuple[str, str]:
    """The form field an error location points at: its id and its label."""
    part = str(loc[0]) if loc else ""
    if part == "checks" and len(loc) > 1:
        name = str(loc[1])
        return name, PART_LABELS.get(f"checks.{name}", name)
    item = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if item is None or part not in ("samples", "rules", "contrast"):
        return part, PART_LABELS.get(part, part)
    slot = getattr(slots, part)[item]
    if part == "samples":
        return f"sample_{slot}", f"Sample email {slot + 1}"
    if part == "rules":
        return f"rule_{slot}", f"Rule {slot + 1}"
    side = str(loc[2]) if len(loc) > 2 else "generic"
    label = "generic" if side == "generic" else "ours"
    return f"{side}_{slot}", f"Contrast {slot + 1} ({label})"


def validate(values: GuideForm) -> VoiceGuide | None:
    """The guide the form describes; None, with the errors put on the form, if it is not
    valid."""
    data, slots = guide_data(values)
    try:
        return VoiceGuide.model_validate(data)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            name, label = field_of(tuple(detail["loc"]), slots)
            values.errors.setdefault(name, f"{label} {plain_message(detail)}.")
        return None


def page(
    request: Request,
    viewer: Viewer,
    guide: StoredVoiceGuide,
    *,
    values: GuideForm | None = None,
    json_text: str | None = None,
    json_error: str | None = None,
    saved: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The voice guide page: the guide, its samples' verdicts, and the edit forms."""
    return render(
        request,
        "voice.html",
        viewer=viewer,
        title="Voice guide",
        guide=guide,
        verdicts=verdicts(guide),
        form=values or form_of(guide),
        json_text=json_text
        if json_text is not None
        else json.dumps(guide.model_dump(exclude={"version"}), indent=2, ensure_ascii=False),
        json_error=json_error,
        saved=saved,
        contractions=CONTRACTIONS,
        labels=PART_LABELS,
        status_code=status_code,
    )


@router.get("/voice", response_class=HTMLResponse, include_in_schema=False)
def voice_page(request: Request, viewer: ViewerDep, db: DatabaseDep) -> HTMLResponse:
    """The voice guide in use, with the linter's verdict on each sample email."""
    with db.read() as session:
        guide = current_voice(session)
    saved = request.query_params.get("saved")
    version = int(saved) if saved and saved.isdigit() else None
    return page(request, viewer, guide, saved=version if version == guide.version else None)


def store(db: Database, guide: VoiceGuide, viewer: Viewer) -> Response:
    """Save a new version as this person, then show it (a redirect: reloading resends
    nothing)."""
    with db.write() as session:
        stored = set_voice(session, guide=guide, actor=viewer.actor)
    return RedirectResponse(f"/app/voice?saved={stored.version}#guide", status_code=303)


@router.post("/voice", include_in_schema=False)
def save_voice(request: Request, viewer: ViewerDep, form: FormDep, db: DatabaseDep) -> Response:
    """Save the guide from the part-by-part form, or show what is wrong without saving."""
    values = values_posted(form)
    guide = validate(values)
    if guide is None:
        with db.read() as session:
            current = current_voice(session)
        return page(request, viewer, current, values=values, status_code=400)
    return store(db, guide, viewer)


@router.post("/voice/json", include_in_schema=False)
def save_voice_json(
    request: Request, viewer: ViewerDep, form: FormDep, db: DatabaseDep
) -> Response:
    """Save the guide from its JSON, or show the field that is wrong without saving."""
    text = _text(form, "guide")
    try:
        guide = parse_voice_guide(text.encode("utf-8"))
    except InvalidVoiceGuide as error:
        with db.read() as session:
            current = current_voice(session)
        return page(
            request,
            viewer,
            current,
            json_text=text,
            json_error=str(error),
            status_code=400,
        )
    return store(db, guide, viewer)
