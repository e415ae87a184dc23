"""The engine's exceptions; every package's own errors derive from EngineError."""


class EngineError(Exception):
    """Base of every error the project raises on purpose."""

    code = "error"


class NotFoundError(EngineError):
    """A record that was asked for does not exist."""

    code = "not_found"


class ConflictError(EngineError):
    """A write contradicts what is stored (say, a conversation of another customer)."""

    code = "conflict"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


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
