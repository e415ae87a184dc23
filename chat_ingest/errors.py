"""Errors of the ingest package."""

from engine.errors import EngineError, InvalidInput

__all__ = ["InvalidInput", "SignatureError"]


class SignatureError(EngineError):
    """A webhook whose signature is missing or does not match."""

    code = "bad_signature"
