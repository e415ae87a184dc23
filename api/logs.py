"""Keeping secrets out of the logs: keys and tokens in URLs (`?key=`, `?token=`) are masked in
the server's access log and in the HTTP clients' request lines (webhook URLs can carry them)."""

import logging
import re

_QUERY_KEY = re.compile(r"(?i)([?&](?:key|api_key|token)=)[^&\s\"]*")
MASK = "[redacted]"


def mask_query_secrets(text: str) -> str:
    """A path with the values of key-like query parameters masked."""
    return _QUERY_KEY.sub(lambda m: m.group(1) + MASK, text)


class MaskQuerySecrets(logging.Filter):
    """Masks key-like query parameters in a record's message and arguments (uvicorn's access
    log passes the full path, query string included, as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_query_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        return True


def _masked(value: object) -> object:
    """A log argument with secrets in its URL masked (httpx passes URL objects, not str)."""
    if isinstance(value, str):
        return mask_query_secrets(value)
    if type(value).__name__ == "URL":
        return mask_query_secrets(str(value))
    return value


# Loggers that write URLs: uvicorn's, and httpx's "HTTP Request: POST <url>" lines (the review
# webhook deliverer; httpx2 under the anthropic SDK).
URL_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx", "httpx2")


def install_log_masking() -> None:
    """Attach the mask to the loggers that write URLs (once per process)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskQuerySecrets) for f in logger.filters):
            logger.addFilter(MaskQuerySecrets())
