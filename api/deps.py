"""Dependencies routes declare: the database, the settings, and the caller's key and scope."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import KeyVerifier
from api.ratelimit import RateLimiter, retry_after
from chat_ingest.writer import MessageWriter
from engine.apikeys import KeyIdentity
from engine.db import Database
from engine.drafting.base import Drafter
from engine.runtime import Services
from engine.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`.")


# These getters only read app.state (no I/O), so they stay async: no threadpool hop for them.
async def get_db(request: Request) -> Database:
    """The app's database."""
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_writer(request: Request) -> MessageWriter:
    """The app's group-commit writer for streamed messages."""
    writer: MessageWriter = request.app.state.writer
    return writer


async def get_services(request: Request) -> Services:
    """The app's encoder, vector store, intent model and database."""
    services: Services = request.app.state.services
    return services


async def get_drafter(request: Request) -> Drafter:
    """The app's drafter (Claude when ANTHROPIC_API_KEY is set, else the templates)."""
    drafter: Drafter = request.app.state.drafter
    return drafter


async def get_raw_body(request: Request) -> bytes:
    """The request body as sent, for routes that verify a signature over it before parsing.

    Awaiting the body needs the event loop, so this one dependency is async; the route that
    takes it can then be a plain `def`, run in the threadpool with its database work."""
    return await request.body()


DrafterDep = Annotated[Drafter, Depends(get_drafter)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ServicesDep = Annotated[Services, Depends(get_services)]
WriterDep = Annotated[MessageWriter, Depends(get_writer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RawBody = Annotated[bytes, Depends(get_raw_body)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require(scope: str | None, *, allow_query_key: bool = False) -> Callable[..., KeyIdentity]:
    """A dependency that admits a valid key holding `scope` (None: any valid key).

    Webhook senders (Chatwoot, Shopify) cannot add headers, so webhook routes also
    take the key as `?key=`.

    A plain `def`: a key not in the verifier's short cache is looked up in the database, which
    FastAPI then does in its threadpool, never on the event loop.
    """

    def dependency(request: Request, credentials: Credentials) -> KeyIdentity:
        presented = credentials.credentials if credentials else None
        if presented is None and allow_query_key:
            presented = request.query_params.get("key")
        challenge = {"WWW-Authenticate": "Bearer"}
        if not presented:
            raise HTTPException(401, "missing API key: send Authorization: Bearer KEY", challenge)
        verifier: KeyVerifier = request.app.state.keys
        identity = verifier.verify(presented)
        if identity is None:
            raise HTTPException(401, "invalid or revoked API key", challenge)
        if scope is not None and not identity.allows(scope):
            raise HTTPException(403, f"this key lacks the {scope!r} scope")
        limiter: RateLimiter = request.app.state.limiter
        wait = limiter.acquire(identity.id)
        if wait:
            raise HTTPException(
                429,
                f"rate limit of {limiter.rate:g} requests a second for this key reached",
                {"Retry-After": retry_after(wait)},
            )
        return identity

    return dependency


IngestKey = Annotated[KeyIdentity, Depends(require("ingest"))]
WebhookKey = Annotated[KeyIdentity, Depends(require("ingest", allow_query_key=True))]
MarketerKey = Annotated[KeyIdentity, Depends(require("marketer"))]
AdminKey = Annotated[KeyIdentity, Depends(require("admin"))]
AnyKey = Annotated[KeyIdentity, Depends(require(None))]


def wake_outbox(request: Request) -> None:
    """Have the review webhook deliverer send what was just queued now, not at its next poll."""
    deliverer = getattr(request.app.state, "outbox", None)
    if deliverer is not None:
        deliverer.wake()
