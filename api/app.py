"""The FastAPI application: heavy objects built once in the lifespan, routes thin."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.auth import KeyVerifier
from api.console.router import install_console
from api.errors import install_error_handlers
from api.logs import install_log_masking
from api.middleware import BodyGuard
from api.ratelimit import RateLimiter
from api.routes import (
    customers,
    drafting,
    email,
    ingest,
    intents,
    reports,
    review,
    search,
    status,
    webhooks,
)
from api.schemas import ERROR_RESPONSES
from chat_ingest.writer import MessageWriter
from engine.email.sender import start_sender
from engine.outbox import OutboxDeliverer
from engine.runtime import BackgroundWorker, Services, build_drafter, build_services
from engine.settings import Settings, origins, reveal


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    run_worker: bool = True,
) -> FastAPI:
    """Build the API for these settings (read from the environment when not given).

    The heavy parts are built in the lifespan unless `services` are handed in (tests share
    one encoder); `run_worker` runs the pipeline in this process, as the embedded default does.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            built = services
        else:
            built = await asyncio.to_thread(build_services, settings)
        # The models are hundreds of thousands of long-lived objects: a full garbage collection
        # walking them held the GIL for ~0.5 s and stalled every request (bench/load.py).
        gc.freeze()
        worker = BackgroundWorker(built.recovered_pipeline()) if run_worker else None
        app.state.settings = settings
        app.state.services = built
        app.state.db = built.db
        app.state.keys = KeyVerifier(built.db)
        app.state.limiter = RateLimiter(
            rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst
        )
        # After uvicorn configured its loggers: keys sent as ?key= never reach the access log.
        install_log_masking()
        app.state.writer = MessageWriter(built.db, on_stored=worker.wake if worker else None)
        app.state.writer.start()
        app.state.drafter = build_drafter(settings)
        # New drafts are pushed to the reviewer's system from the outbox, retried until
        # delivered; rows left by a previous run are picked up on start.
        app.state.outbox = (
            OutboxDeliverer(built.db, secret=reveal(settings.review_webhook_secret))
            if settings.review_webhook_url
            else None
        )
        if app.state.outbox:
            app.state.outbox.start()
        if worker:
            worker.start()
        # Approved drafts go out when EMAIL_TRANSPORT names a transport.
        sender = start_sender(built.db, settings)
        try:
            yield
        finally:
            await app.state.writer.close()
            if worker:
                worker.stop()
            if app.state.outbox:
                app.state.outbox.stop()
            if sender:
                sender.stop()
            if services is None:  # what we built, we close; what was handed in, the caller does
                built.close()

    app = FastAPI(
        title="personalize",
        version="0.1.0",
        summary="Chat-driven 1:1 email personalization: what customers said, what they bought.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    allowed = origins(settings.cors_origins)
    if allowed:  # no CORS headers at all unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=allowed,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    for module in (
        ingest,
        webhooks,
        email,
        search,
        intents,
        customers,
        drafting,
        review,
        reports,
        status,
    ):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    install_console(app)
    return app
