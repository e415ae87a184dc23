"""The FastAPI application: heavy objects built once in the lifespan, routes thin."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.auth import KeyVerifier
from api.errors import install_error_handlers
from api.middleware import BodyGuard
from api.routes import ingest, status, webhooks
from chat_ingest.writer import MessageWriter
from engine.db import Database
from engine.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for these settings (read from the environment when not given)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        db.migrate()
        app.state.settings = settings
        app.state.db = db
        app.state.keys = KeyVerifier(db)
        app.state.writer = MessageWriter(db)
        app.state.writer.start()
        try:
            yield
        finally:
            await app.state.writer.close()
            db.dispose()

    app = FastAPI(
        title="personalize",
        version="0.1.0",
        summary="Chat-driven 1:1 email personalization: what customers said, what they bought.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyGuard)
    for module in (ingest, webhooks, status):
        app.include_router(module.router)
    return app
