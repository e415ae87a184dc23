"""Errors of the ingest package."""

from engine.errors import InvalidInput, SignatureError

__all__ = ["InvalidInput", "SignatureError"]
