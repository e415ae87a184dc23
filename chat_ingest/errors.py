"""Errors of the ingest package."""

from engine.errors import EngineError


class InvalidInput(EngineError):
    """Input that does not match its schema; names the field (and line, in a file)."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}" if self.field else f"{where}{self.message}"


class SignatureError(EngineError):
    """A webhook whose signature is missing or does not match."""

    code = "bad_signature"
