"""Email's public faces: provider event webhooks, one-click unsubscribe and the signed click
redirect (the last two need no key: they are links in customers' inboxes)."""

import base64
import contextlib
import html
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from api.deps import DatabaseDep, RawBody, SettingsDep, WebhookKey
from engine.customers.consent import unsubscribe
from engine.email.events import record_events
from engine.email.keys import link_key
from engine.email.providers import PROVIDERS, ProviderEvent, ProviderKeys, parse_events
from engine.email.tokens import read_click_token, read_open_token, read_unsubscribe_token
from engine.errors import NotFoundError
from engine.models import Draft, EmailEventName, utcnow
from engine.settings import Settings, reveal

router = APIRouter(tags=["email"])
Provider = Annotated[str, Path(pattern="^(" + "|".join(PROVIDERS) + ")$")]
Token = Annotated[str, Path(min_length=1, max_length=2048)]


class EventsAccepted(BaseModel):
    """What a provider's webhook call did."""

    stored: int
    duplicates: int
    unknown: int


def _our_event(draft_id: int, event: EmailEventName, *, url: str | None = None) -> ProviderEvent:
    """An open or click our own links saw (each one its own event)."""
    return ProviderEvent(
        provider="links",
        event_id=uuid.uuid4().hex,
        event=event,
        occurred_at=utcnow(),
        draft_id=draft_id,
        message_id=None,
        email=None,
        bounce=None,
        machine=False,
        url=url,
    )


def provider_keys(settings: Settings) -> ProviderKeys:
    """The providers' webhook keys from the settings."""
    return ProviderKeys(
        sendgrid_public_key=settings.sendgrid_webhook_public_key or None,
        postmark_user=settings.postmark_webhook_user or None,
        postmark_password=reveal(settings.postmark_webhook_password) or None,
        mailgun_signing_key=reveal(settings.mailgun_signing_key) or None,
        generic_secret=reveal(settings.email_webhook_secret) or None,
    )


@router.post("/v1/webhooks/email/{provider}", response_model=EventsAccepted)
def provider_events(
    provider: Provider,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    _: WebhookKey,
    body: RawBody,
) -> EventsAccepted:
    """Events from the email provider (delivered, opened, clicked, bounced, complained,
    unsubscribed, deferred, dropped), each stored once; events for drafts we never sent are
    counted and dropped with 200, so the provider does not retry them for ever."""
    events = parse_events(provider, body, dict(request.headers), keys=provider_keys(settings))
    with db.write() as session:
        report = record_events(session, events)
    return EventsAccepted(**vars(report))


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">
{content}</body></html>"""


def _page(title: str, content: str, *, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), content=content), status_code)


@router.get("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_page(token: Token, db: DatabaseDep) -> HTMLResponse:
    """A one-button page: the unsubscribe happens only when the button is pressed (a link
    scanner following the link must not unsubscribe anyone)."""
    read_unsubscribe_token(link_key(db), token)
    return _page(
        "Unsubscribe",
        "<h1>Unsubscribe</h1><p>Stop receiving our emails?</p>"
        f'<form method="post" action="/u/{html.escape(token)}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_now(token: Token, db: DatabaseDep) -> HTMLResponse:
    """Unsubscribe: the page's button, or a mail client's one-click POST (RFC 8058)."""
    customer_id, _draft_id = read_unsubscribe_token(link_key(db), token)
    # A customer erased since has nothing left to unsubscribe.
    with db.write() as session, contextlib.suppress(NotFoundError):
        unsubscribe(session, customer_id=customer_id, actor="unsubscribe link")
    return _page("Unsubscribed", "<h1>You are unsubscribed</h1><p>You will get no more emails.</p>")


# The smallest transparent GIF: what the open pixel answers.
_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@router.get("/o/{token}.gif", include_in_schema=False)
def opened(token: Token, db: DatabaseDep) -> Response:
    """The open pixel (TRACK_OPENS): records an open, answers a 1x1 image. Mail clients and
    privacy proxies fetch images by themselves, so an open is a weak signal."""
    draft_id = read_open_token(link_key(db), token)
    with db.write() as session:
        if session.get(Draft, draft_id) is not None:
            record_events(session, [_our_event(draft_id, "opened")])
    return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.get("/r/{token}", include_in_schema=False)
def click(token: Token, db: DatabaseDep) -> RedirectResponse:
    """Record a click and forward to the one URL this link was signed for."""
    draft_id, url = read_click_token(link_key(db), token)
    with db.write() as session:
        if session.get(Draft, draft_id) is not None:
            record_events(session, [_our_event(draft_id, "clicked", url=url)])
    return RedirectResponse(url, status_code=302)
