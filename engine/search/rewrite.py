"""Optional, off by default: Claude rewrites a marketer's question into a few sentences a
customer who fits it might type in a chat ("salon owners wanting the monthly price for several
shops" -> "how much would it be for 3 locations?"), and search looks for those too.

Only the marketer's question is sent, never anything a customer said, so turning it on
(`SEARCH_REWRITE=true` with `ANTHROPIC_API_KEY`) sends no customer's data off the machine.
Results name the phrasings they were found with. A failed call is logged and the search goes on
with the question alone."""

import logging
from collections import OrderedDict
from typing import Any

import anthropic
from anthropic.types import Message, ToolUseBlock

from engine.settings import Settings, reveal

log = logging.getLogger(__name__)

# Versioned: a prompt change is a new version, so a reader can tell which words were used.
PROMPT_VERSION = "claude.search-rewrite.v1"
TOOL_NAME = "customer_phrasings"
MAX_PHRASINGS = 4
MAX_PHRASING_CHARS = 200
MAX_TOKENS = 400
# The same question asked again (paging, a second look) is not sent again.
CACHE_SIZE = 256

INSTRUCTIONS = """\
A marketer at a small business is searching its customer-service chats for the customers a \
question describes. Customers write in the first person, in chat grammar; marketers describe \
people in the third person. Write up to four short messages that a customer who fits the \
question might type in a support chat, each in a different way, in the customer's own voice \
("how much would it be for 3 locations?"). Add no detail the question does not imply: no \
product names, places or numbers it does not give. Never write about health, money trouble, \
religion, politics, sexuality, ethnicity or other sensitive matters."""

TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "The messages a customer who fits the question might write.",
    "input_schema": {
        "type": "object",
        "properties": {
            "phrasings": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "maxItems": MAX_PHRASINGS,
            }
        },
        "required": ["phrasings"],
    },
}


class QuestionRewriter:
    """Customer-voice phrasings of a question, from Claude, remembered per question."""

    def __init__(self, client: anthropic.Anthropic, *, model: str) -> None:
        self.client = client
        self.model = model
        self._cache: OrderedDict[str, list[str]] = OrderedDict()

    def rewrite(self, question: str) -> list[str]:
        """Up to four phrasings; none when the call fails or answers nothing usable."""
        key = " ".join(question.lower().split())
        if key in self._cache:
            self._cache.move_to_end(key)
            return list(self._cache[key])
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": MAX_TOKENS,
            "system": INSTRUCTIONS,
            "tools": [TOOL],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
            "messages": [{"role": "user", "content": question}],
        }
        try:
            message: Message = self.client.messages.create(**params)
        except anthropic.APIError as error:
            log.warning("the question was not rewritten (%s): searching it as asked", error)
            return []
        phrasings = _phrasings(message.content)
        self._cache[key] = phrasings
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return list(phrasings)


def _phrasings(content: list[Any]) -> list[str]:
    """The tool call's phrasings: strings only, trimmed, short, distinct, at most four."""
    found: list[str] = []
    for block in content:
        if not isinstance(block, ToolUseBlock) or block.name != TOOL_NAME:
            continue
        raw = block.input.get("phrasings") if isinstance(block.input, dict) else None
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, str):
                continue
            text = " ".join(item.split())[:MAX_PHRASING_CHARS]
            if text and text not in found:
                found.append(text)
    return found[:MAX_PHRASINGS]


def build_rewriter(
    settings: Settings, *, base_url: str | None = None, timeout: float = 10.0
) -> QuestionRewriter | None:
    """A rewriter when the owner turned it on and gave a key; None otherwise (the default)."""
    if not settings.search_rewrite or settings.anthropic_api_key is None:
        return None
    client = anthropic.Anthropic(
        api_key=reveal(settings.anthropic_api_key),
        base_url=base_url,
        # A search waits on it: a short timeout and one retry, then it searches without.
        timeout=timeout,
        max_retries=1,
    )
    return QuestionRewriter(client, model=settings.anthropic_model)
