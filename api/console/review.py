"""Console pages: the review queue (the landing page), a draft beside its evidence, and the chat
a quote comes from; approving, rejecting and editing as the signed-in person."""

import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.console.auth import FormDep, Viewer, ViewerDep
from api.console.pages import is_htmx, render
from api.console.words import KIND_LABELS, STATUS_LABELS, step_label
from api.deps import DatabaseDep
from api.routes.review import DraftEdit, Rejection
from engine.customers.conversations import get_conversation
from engine.db import Database
from engine.drafting.grounding import Problem
from engine.drafting.review import (
    DraftDetail,
    approve,
    approve_many,
    get_draft,
    queue_page,
    queue_row,
    reject,
    statuses_for,
)
from engine.drafting.service import edit_draft, preview_edit
from engine.errors import ConflictError
from engine.models import DRAFT_KINDS, DRAFT_STATUSES, REVIEWABLE

router = APIRouter(prefix="/app")

# Draft ids are 32-bit integers in PostgreSQL: a larger one is refused before the database.
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE_SIZE = 50

STATUS_FILTERS = [("waiting", "To review (waiting, or needing a fix)"), ("all", "All")] + [
    (status, STATUS_LABELS[status]) for status in DRAFT_STATUSES
]
# Why approving from the queue left a draft as it was, in the owner's words.
REFUSALS = {
    "problems": "has problems to fix first",
    "not_waiting": "is no longer waiting for review",
    "not_found": "no longer exists",
}
DONE = {
    "approved": "You approved this draft.",
    "rejected": "You rejected this draft.",
    "saved": "Your changes are saved.",
    "unchanged": "Nothing changed, so nothing was saved.",
}
ACTIONS = {"created": "Drafted", "edited": "Edited", "approved": "Approved", "rejected": "Rejected"}
FIELD_LABELS = {"subject": "Subject", "preheader": "Preheader", "body": "Body"}


def q(value: str) -> str:
    """A value made safe for one segment of a URL (customer ids may hold a slash)."""
    return quote(value, safe="")


def _cursor(value: str | None) -> int | None:
    """A page cursor from the address bar; anything else starts at the newest page."""
    if value and value.isdigit() and 0 < int(value) < 2**31:
        return int(value)
    return None


def _filters(kind: str, status: str) -> tuple[str, str]:
    """The queue's filters, unknown values falling back to the defaults."""
    known_status = {value for value, _ in STATUS_FILTERS}
    return (
        kind if kind in DRAFT_KINDS else "all",
        status if status in known_status else "waiting",
    )


def _bulk_flash(approved: str | None, refused: str | None) -> dict[str, Any] | None:
    """What the last "Approve selected" did, read back from the redirect's query."""
    if approved is None and refused is None:
        return None
    reasons = []
    for item in (refused or "").split(","):
        draft_id, _, code = item.partition(".")
        if draft_id.isdigit() and code in REFUSALS:
            reasons.append(f"#{draft_id} {REFUSALS[code]}")
    count = int(approved) if approved and approved.isdigit() else 0
    return {"approved": count, "refused": reasons}


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request,
    viewer: ViewerDep,
    db: DatabaseDep,
    kind: Annotated[str, Query(max_length=40)] = "all",
    status: Annotated[str, Query(max_length=40)] = "waiting",
    before: Annotated[str | None, Query(max_length=12)] = None,
    after: Annotated[str | None, Query(max_length=12)] = None,
    approved: Annotated[str | None, Query(max_length=12)] = None,
    refused: Annotated[str | None, Query(max_length=2000)] = None,
    none: Annotated[str | None, Query(max_length=4)] = None,
) -> HTMLResponse:
    """The review queue: drafts newest first, filtered, 50 a page."""
    kind, status = _filters(kind, status)
    with db.read() as session:
        page = queue_page(
            session,
            statuses=statuses_for(status),
            kind=None if kind == "all" else kind,
            before=_cursor(before),
            after=_cursor(after),
            limit=PAGE_SIZE,
        )
    kept = {"kind": kind, "status": status}
    return render(
        request,
        "queue.html",
        viewer=viewer,
        title="Review",
        page=page,
        kind=kind,
        status=status,
        kinds=[("all", "All")] + list(KIND_LABELS.items()),
        statuses=STATUS_FILTERS,
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        step_label=step_label,
        reviewable=REVIEWABLE,
        newer_href=f"/app?{urlencode(kept | {'after': page.newer})}" if page.newer else None,
        older_href=f"/app?{urlencode(kept | {'before': page.older})}" if page.older else None,
        before=_cursor(before),
        after=_cursor(after),
        bulk=_bulk_flash(approved, refused),
        nothing_selected=none is not None,
        q=q,
    )


def _posted_ids(form: FormData) -> list[int]:
    """The draft ids ticked in the queue (anything that is not one is ignored)."""
    ids = (str(value) for value in form.getlist("draft"))
    return [int(value) for value in ids if value.isdigit() and 0 < int(value) < 2**31][:500]


def _back_to_queue(form: FormData, extra: dict[str, str]) -> str:
    """The queue as the person left it (filters and page), with what just happened."""
    kind, status = _filters(str(form.get("kind") or ""), str(form.get("status") or ""))
    kept: dict[str, str] = {"kind": kind, "status": status}
    for name in ("before", "after"):
        cursor = _cursor(str(form.get(name) or ""))
        if cursor is not None:
            kept[name] = str(cursor)
    return f"/app?{urlencode(kept | extra)}"


@router.post("/drafts/approve")
def approve_selected(viewer: ViewerDep, form: FormDep, db: DatabaseDep) -> RedirectResponse:
    """Approve every ticked draft that may be approved; report the others by id."""
    ids = _posted_ids(form)
    if not ids:
        return RedirectResponse(_back_to_queue(form, {"none": "1"}), status_code=303)
    with db.write() as session:
        result = approve_many(session, draft_ids=ids, actor=viewer.actor)
    refused = ",".join(f"{draft_id}.{code}" for draft_id, code in result.refused.items())
    extra = {"approved": str(len(result.approved))} | ({"refused": refused} if refused else {})
    return RedirectResponse(_back_to_queue(form, extra), status_code=303)


def _pieces(text: str, sentences: list[str]) -> list[tuple[str, int | None]]:
    """The text cut so that each personalized sentence is a piece of its own, numbered like
    its evidence entry (1-based); the rest is numbered None."""
    pieces: list[tuple[str, int | None]] = []
    start = 0
    while True:
        found = [
            (at, -len(s), number)
            for number, s in enumerate(sentences, start=1)
            if s and (at := text.find(s, start)) >= 0
        ]
        if not found:
            break
        at, negative_length, number = min(found)
        if at > start:
            pieces.append((text[start:at], None))
        pieces.append((text[at : at - negative_length], number))
        start = at - negative_length
    if start < len(text):
        pieces.append((text[start:], None))
    return pieces


def _email(draft: DraftDetail) -> dict[str, Any]:
    """The email as it will read, each personalized sentence marked."""
    sentences = [e.sentence.strip() for e in draft.evidence]
    paragraphs = [p for p in re.split(r"\n\s*\n", draft.body) if p.strip()]
    return {
        "subject": _pieces(draft.subject, sentences),
        "preheader": _pieces(draft.preheader, sentences),
        "paragraphs": [_pieces(p.strip("\n"), sentences) for p in paragraphs],
    }


def _where_found(problem: Problem, text: dict[str, str]) -> str | None:
    """Which field of the email a problem is in, when its excerpt shows it (a check that
    finds personal data rightly does not repeat it, so not always)."""
    if problem.excerpt:
        for name in ("subject", "preheader", "body"):
            if problem.excerpt in text[name]:
                return FIELD_LABELS[name]
    return None


def _problems(problems: list[Problem], text: dict[str, str]) -> list[dict[str, str | None]]:
    """The problems as the page lists them: message, where, and the words at fault."""
    return [
        {"message": p.message, "where": _where_found(p, text), "excerpt": p.excerpt}
        for p in problems
    ]


def _history(draft: DraftDetail) -> list[dict[str, Any]]:
    """Who did what to the draft, newest last, with what each edit changed."""
    rows = []
    for event in draft.history:
        if event.action == "edited":
            changed = [FIELD_LABELS.get(name, name) for name in event.changes]
            detail = "Changed: " + ", ".join(changed)
        elif event.action == "rejected":
            detail = f"Reason: {event.changes.get('reason', '')}"
        else:
            detail = ""
        rows.append(
            {
                "action": ACTIONS.get(event.action, event.action.capitalize()),
                "actor": event.actor,
                "at": event.at,
                "detail": detail,
            }
        )
    return rows


def _draft_page(
    request: Request,
    viewer: Viewer,
    draft: DraftDetail,
    *,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    """The draft page; `extra` carries a flash, an open edit form, a check's result."""
    text = {"subject": draft.subject, "preheader": draft.preheader, "body": draft.body}
    context: dict[str, Any] = {
        "done": None,
        "error": None,
        "editing": False,
        "form": text,
        "check": None,
    } | extra
    return render(
        request,
        "draft.html",
        viewer=viewer,
        title=f"Draft #{draft.id}",
        status_code=status_code,
        draft=draft,
        email=_email(draft),
        problems=_problems(draft.problems, text),
        history=_history(draft),
        waiting=draft.status in REVIEWABLE,
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        step_label=step_label,
        q=q,
        **context,
    )


def _read(db: Database, draft_id: int) -> DraftDetail:
    with db.read() as session:
        return get_draft(session, draft_id=draft_id)


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(
    request: Request,
    draft_id: DraftId,
    viewer: ViewerDep,
    db: DatabaseDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
    edit: Annotated[str | None, Query(max_length=4)] = None,
) -> HTMLResponse:
    """A draft beside its evidence, its problems, what a reviewer may do, and its history."""
    return _draft_page(
        request,
        viewer,
        _read(db, draft_id),
        done=DONE.get(done or ""),
        editing=edit is not None,
    )


def _refusal_words(error: ConflictError) -> str:
    """Why the engine refused, in the owner's words."""
    if error.field == "problems":
        return "This draft still has problems. Fix them (Edit, then Save) before approving it."
    if error.field == "status":
        return "This draft is no longer waiting for review, so it cannot be changed."
    return str(error)


def _row(request: Request, viewer: Viewer, db: Database, draft_id: int, note: str) -> Response:
    """The queue line of a draft just acted on, for the queue's keyboard actions."""
    with db.read() as session:
        row = queue_row(session, draft_id=draft_id)
    return render(
        request,
        "_review_row.html",
        viewer=viewer,
        draft=row,
        note=note,
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        step_label=step_label,
        reviewable=REVIEWABLE,
        q=q,
    )


def _outcome(
    request: Request,
    viewer: Viewer,
    db: Database,
    draft_id: int,
    *,
    done: str,
    refused: ConflictError | None,
) -> Response:
    """After an action: the queue line (htmx), the draft page again (a refusal), or back to
    the draft with what was done."""
    if is_htmx(request):
        note = f"Not {done}: {_refusal_words(refused)}" if refused else f"Draft #{draft_id} {done}."
        return _row(request, viewer, db, draft_id, note)
    if refused is not None:
        return _draft_page(
            request, viewer, _read(db, draft_id), status_code=409, error=_refusal_words(refused)
        )
    return RedirectResponse(f"/app/drafts/{draft_id}?done={done}", status_code=303)


@router.post("/drafts/{draft_id}/approve")
def approve_draft(
    request: Request, draft_id: DraftId, viewer: ViewerDep, _: FormDep, db: DatabaseDep
) -> Response:
    """Approve a draft as the signed-in person."""
    try:
        with db.write() as session:
            approve(session, draft_id=draft_id, actor=viewer.actor)
    except ConflictError as error:
        return _outcome(request, viewer, db, draft_id, done="approved", refused=error)
    return _outcome(request, viewer, db, draft_id, done="approved", refused=None)


@router.post("/drafts/{draft_id}/reject")
def reject_draft(
    request: Request, draft_id: DraftId, viewer: ViewerDep, form: FormDep, db: DatabaseDep
) -> Response:
    """Reject a draft as the signed-in person, with the reason they gave."""
    try:
        reason = Rejection(reason=str(form.get("reason") or "").strip()).reason
    except ValidationError:
        message = "Say why you reject the draft (up to 2,000 characters)."
        if is_htmx(request):
            return _row(request, viewer, db, draft_id, f"Not rejected: {message}")
        return _draft_page(request, viewer, _read(db, draft_id), status_code=422, error=message)
    try:
        with db.write() as session:
            reject(session, draft_id=draft_id, actor=viewer.actor, reason=reason)
    except ConflictError as error:
        return _outcome(request, viewer, db, draft_id, done="rejected", refused=error)
    return _outcome(request, viewer, db, draft_id, done="rejected", refused=None)


def _edited(form: FormData) -> dict[str, str]:
    """The edit form's three fields, with the browser's CRLF line ends made plain newlines
    (otherwise an untouched body would count as changed)."""
    return {
        name: str(form.get(name) or "").replace("\r\n", "\n").replace("\r", "\n")
        for name in ("subject", "preheader", "body")
    }


def _invalid_edit(text: dict[str, str]) -> str | None:
    """Why the edited text cannot be taken (the API's own limits), or None."""
    try:
        DraftEdit.model_validate(text)
    except ValidationError as error:
        fields = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        names = ", ".join(FIELD_LABELS.get(f, f) for f in sorted(fields)) or "The text"
        return f"{names}: empty, too long, or holding a character an email cannot."
    return None


def _edit_refused(
    request: Request,
    viewer: Viewer,
    db: Database,
    draft_id: int,
    text: dict[str, str],
    *,
    why: str,
    status_code: int,
) -> HTMLResponse:
    """The draft page again with the edit form open on what was typed, and why not."""
    if is_htmx(request):
        return render(
            request,
            "_review_check.html",
            viewer=viewer,
            check=None,
            error=why,
            status_code=200,
        )
    return _draft_page(
        request,
        viewer,
        _read(db, draft_id),
        status_code=status_code,
        error=why,
        editing=True,
        form=text,
    )


@router.post("/drafts/{draft_id}/check", response_class=HTMLResponse)
def check_draft_edit(
    request: Request, draft_id: DraftId, viewer: ViewerDep, form: FormDep, db: DatabaseDep
) -> HTMLResponse:
    """The problems the edited text would have, saving nothing (an htmx fragment, or the
    draft page with the edit form open)."""
    text = _edited(form)
    invalid = _invalid_edit(text)
    if invalid is not None:
        return _edit_refused(request, viewer, db, draft_id, text, why=invalid, status_code=422)
    try:
        with db.read() as session:
            found = preview_edit(session, draft_id=draft_id, changes=text)
    except ConflictError as error:
        why = _refusal_words(error)
        return _edit_refused(request, viewer, db, draft_id, text, why=why, status_code=409)
    check = _problems(found, text)
    if is_htmx(request):
        return render(request, "_review_check.html", viewer=viewer, check=check, error=None)
    return _draft_page(request, viewer, _read(db, draft_id), editing=True, form=text, check=check)


@router.post("/drafts/{draft_id}/edit")
def save_draft_edit(
    request: Request, draft_id: DraftId, viewer: ViewerDep, form: FormDep, db: DatabaseDep
) -> Response:
    """Save the edited text as the signed-in person; the engine re-checks it and records who
    changed what."""
    text = _edited(form)
    invalid = _invalid_edit(text)
    if invalid is not None:
        return _edit_refused(request, viewer, db, draft_id, text, why=invalid, status_code=422)
    before = _read(db, draft_id)
    try:
        with db.write() as session:
            edit_draft(session, draft_id=draft_id, actor=viewer.actor, changes=text)
    except ConflictError as error:
        why = _refusal_words(error)
        return _edit_refused(request, viewer, db, draft_id, text, why=why, status_code=409)
    unchanged = text == {k: getattr(before, k) for k in ("subject", "preheader", "body")}
    done = "unchanged" if unchanged else "saved"
    return RedirectResponse(f"/app/drafts/{draft_id}?done={done}", status_code=303)


@router.get("/conversations/{conversation_id:path}", response_class=HTMLResponse)
def conversation_page(
    request: Request,
    conversation_id: str,
    viewer: ViewerDep,
    db: DatabaseDep,
    highlight: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """A chat, every turn in order, the quoted message marked."""
    with db.read() as session:
        chat = get_conversation(session, conversation_id=conversation_id)
    return render(
        request,
        "_review_chat.html" if is_htmx(request) else "conversation.html",
        viewer=viewer,
        title=f"Chat with {chat.first_name or chat.customer_id}",
        chat=chat,
        highlight=highlight,
        q=q,
    )
