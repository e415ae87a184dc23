"""The Claude drafter: one tool-use call per email, the stable prompt prompt-cached, and the
Message Batches API for campaigns of many customers."""

import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, cast

import anthropic
import httpx2
from anthropic.types import Message, ToolUseBlock
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.messages import (
    MessageBatch,
    MessageBatchErroredResult,
    MessageBatchResult,
    MessageBatchSucceededResult,
)
from anthropic.types.messages.batch_create_params import Request as BatchRequest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.customers.context import CustomerContext
from engine.drafting.base import (
    Catalog,
    DraftContent,
    DraftFailed,
    DraftRequest,
    Evidence,
    Usage,
)
from engine.drafting.voice import StoredVoiceGuide, VoiceChecks
from engine.facts.optouts import ALL_MARKETING
from engine.models import DraftKind

# Versioned and never edited once released: a prompt change is a new version, so every draft
# records which words produced it.
PROMPT_VERSION = "claude.draft.v1"
TOOL_NAME = "write_email"
# An email with its evidence list fits well inside this; more would only let a runaway answer
# cost more.
MAX_TOKENS = 1024
# What the Message Batches API accepts as a custom_id.
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Anything longer from an API error is noise in a review queue.
MAX_ERROR_CHARS = 300

INSTRUCTIONS = """\
You write one email for one customer of a small business, in the business's own voice. A person \
at the business reads every draft before it is sent.

What you may use:
- Only what the user turn gives you about this customer: their first name, lifecycle stage, \
orders, recent intents (what they asked the business about) and stated facts. Each stated fact \
has an id; put the id of every fact you use in fact_ids.
- Products: name only products from the customer's orders or from the catalog below, spelled \
exactly as listed. List every product you name in products.

What you must never do:
- Never guess about the customer: nothing about their job, family, age, location, health, money \
or habits that the facts do not say. If the context says little, write a short, useful email \
that does not pretend to know them.
- Never mention anything sensitive (health, pregnancy, religion, politics, sexuality, ethnicity, \
union membership, money trouble or job loss, divorce or bereavement, criminal record), even when \
something seems to hint at it.
- Never mention a topic listed under never_mention, nor any product, fact or intent about it.
- Never invent offers, discounts, prices, deadlines, delivery dates or order details.
- Never quote the customer's words back at length, and never mention chats, transcripts, \
records or data. "You mentioned ..." is fine.

Evidence:
- A personalized sentence is one that uses something about this customer: a fact, a product \
they bought, or an intent. Report every personalized sentence in evidence, copied exactly from \
the body, with the fact ids, skus and intents it rests on. A sentence that would be true for any \
customer needs no evidence.

Format:
- subject: short and specific, within the voice guide's subject limit.
- preheader: one short line shown after the subject in the inbox; it must not repeat the subject.
- body: plain text (no markdown, no HTML, no links, no placeholders), from the greeting \
("Hi <first name>," or "Hi there," when there is no first name) to the sign-off given in the \
voice guide. Short paragraphs separated by blank lines.
- Answer only by calling the write_email tool, once."""

# What each sequence step is for, keyed by kind and day; the step names are "d0", "d3", ...
STEP_PURPOSES: dict[tuple[DraftKind, int], str] = {
    ("welcome", 0): "the first email after they subscribed: thank them, say in a line who the "
    "business is, and if they told us what they are after, point them at it",
    ("welcome", 3): "three days after they subscribed: help with the one thing they asked "
    "about or said they use, with one practical tip",
    ("welcome", 7): "a week after they subscribed: suggest one catalog product that fits what "
    "they told us, or, if we know little, ask what they are looking for",
    ("welcome", 14): "two weeks after they subscribed: a short, low-key note that invites a "
    "reply with any question",
    ("post_purchase", 1): "the day after their order: thank them for what they bought and say "
    "how to get started with it",
    ("post_purchase", 3): "three days after their order: one tip for getting the most out of "
    "what they bought, tied to what they told us if possible",
    ("post_purchase", 14): "two weeks after their order: check in on how it is going and "
    "invite a reply if anything is not right",
    ("post_purchase", 30): "a month after their order: if it fits their orders and facts, "
    "suggest one refill or companion product from the catalog; otherwise just check in",
}
KIND_PURPOSES: dict[DraftKind, str] = {
    "welcome": "a welcome email to someone who recently subscribed",
    "post_purchase": "a follow-up after the customer's most recent order",
    "win_back": "a win-back email to a customer who has not ordered in a while: warm, no "
    "guilt, a reminder of what they bought and one honest reason to come back",
}
_STEP_DAY = re.compile(r"\d+")

TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "Submit the email for this customer, with the facts it uses and the evidence "
    "behind each personalized sentence.",
    "input_schema": {
        "type": "object",
        "properties": {
            "subject": {"type": "string", "description": "The subject line."},
            "preheader": {"type": "string", "description": "The inbox preview line."},
            "body": {
                "type": "string",
                "description": "The email in plain text, from the greeting to the sign-off.",
            },
            "fact_ids": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "The ids of every stated fact the email uses.",
            },
            "evidence": {
                "type": "array",
                "description": "Every personalized sentence and what it rests on.",
                "items": {
                    "type": "object",
                    "properties": {
                        "sentence": {
                            "type": "string",
                            "description": "The sentence, copied exactly from the body.",
                        },
                        "fact_ids": {"type": "array", "items": {"type": "integer"}},
                        "skus": {"type": "array", "items": {"type": "string"}},
                        "intents": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["sentence", "fact_ids", "skus", "intents"],
                },
            },
            "products": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The name of every product the email mentions.",
            },
        },
        "required": ["subject", "preheader", "body", "fact_ids", "evidence", "products"],
    },
}
TOOL_CHOICE: dict[str, Any] = {"type": "tool", "name": TOOL_NAME}


class EmailToolInput(BaseModel):
    """What the write_email tool call must carry."""

    model_config = ConfigDict(extra="ignore")

    subject: str = Field(min_length=1)
    preheader: str
    body: str = Field(min_length=1)
    fact_ids: list[int] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)


def instructions_block() -> str:
    """The fixed instructions: the same for every business and customer."""
    return INSTRUCTIONS


def voice_block(voice: StoredVoiceGuide) -> str:
    """The voice guide in words, checkable rules included."""
    lines = [f"The business: {voice.business}", "", "Voice rules:"]
    lines += [f"- {rule}" for rule in voice.rules]
    lines += ["", "Checked on every draft (a draft that breaks one is sent back):"]
    lines += checks_in_words(voice.checks)
    lines += ["", "Said generically, and said in this business's voice:"]
    for pair in voice.contrast:
        lines += [f"- Generic: {pair.generic}", f"  Ours: {pair.ours}"]
    lines += ["", "Sample emails in this voice:"]
    for number, sample in enumerate(voice.samples, start=1):
        lines += [f"<sample {number}>", sample, f"</sample {number}>"]
    if voice.sign_off:
        lines += ["", "End every email with exactly this sign-off:", voice.sign_off]
    else:
        lines += ["", "End every email with a sign-off like the samples'."]
    return "\n".join(lines)


def checks_in_words(checks: VoiceChecks) -> list[str]:
    """The linter's rules as instructions, one line each."""
    lines = []
    if checks.banned_phrases:
        phrases = ", ".join(f'"{phrase}"' for phrase in checks.banned_phrases)
        lines.append(f"- Never use these phrases: {phrases}.")
    lines.append(f"- Every sentence at most {checks.max_sentence_words} words.")
    if checks.contractions == "use":
        lines.append("- Use contractions (we're, you'll, don't), never the long forms.")
    elif checks.contractions == "avoid":
        lines.append("- No contractions: write we are, you will, do not.")
    if checks.max_exclamation_marks == 0:
        lines.append("- No exclamation marks.")
    else:
        lines.append(
            f"- At most {checks.max_exclamation_marks} exclamation mark(s) in the whole email."
        )
    lines.append(f"- Subject at most {checks.max_subject_chars} characters.")
    return lines


def catalog_block(catalog: Catalog) -> str:
    """The products the business sells, the only ones besides the customer's own orders a draft
    may name."""
    if not catalog.products:
        return "Catalog: none given. Name only products from the customer's own orders."
    lines = ["Catalog (name: category [sku]):"]
    lines += [
        f"- {product.name}: {product.category or 'uncategorized'} [{product.sku}]"
        for product in catalog.products
    ]
    return "\n".join(lines)


def system_blocks(voice: StoredVoiceGuide, catalog: Catalog) -> list[dict[str, Any]]:
    """The system prompt: all of it is the same for every customer of a campaign, so the cache
    breakpoint sits on its last block and tools + system are read from the cache after the first
    call."""
    texts = [instructions_block(), voice_block(voice), catalog_block(catalog)]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text} for text in texts]
    blocks[-1]["cache_control"] = {"type": "ephemeral"}
    return blocks


def step_purpose(kind: DraftKind, step: str) -> str:
    """What this email is for, in words."""
    match = _STEP_DAY.search(step)
    if match is not None:
        purpose = STEP_PURPOSES.get((kind, int(match.group())))
        if purpose is not None:
            return purpose
    return KIND_PURPOSES[kind]


def context_for_prompt(context: CustomerContext) -> dict[str, Any]:
    """The gated context as the writer needs it: dates as days, facts with their ids, opt-outs as
    topics never to mention; blocked counts and consent left out (they are not the writer's
    business)."""
    orders = context.orders
    return {
        "today": context.as_of.date().isoformat(),
        "first_name": context.first_name,
        "lifecycle": context.lifecycle,
        "rfm": context.rfm.model_dump(mode="json"),
        "orders": {
            "count": orders.count,
            "first_order": _day(orders.first_order_at),
            "last_order": _day(orders.last_order_at),
            "products": [
                {
                    "sku": product.sku,
                    "name": product.name,
                    "category": product.category,
                    "quantity": product.quantity,
                    "last_bought": _day(product.last_bought_at),
                }
                for product in orders.products
            ],
            "categories": orders.categories,
        },
        "recent_intents": [
            {"intent": intent.intent, "count": intent.count, "last": _day(intent.last_said_at)}
            for intent in context.intents
        ],
        "facts": [
            {
                "id": fact.id,
                "category": fact.category,
                "value": fact.value,
                "quote": fact.quote,
                "said_at": _day(fact.said_at),
            }
            for fact in context.facts
        ],
        # "All marketing email" is a consent matter, decided before any draft; not a topic.
        "never_mention": [o.topic for o in context.opt_outs if o.topic != ALL_MARKETING],
    }


def user_turn(request: DraftRequest) -> str:
    """The per-customer part of the prompt: what the email is for and what we know."""
    kind = request.kind.replace("_", "-")
    context = json.dumps(
        context_for_prompt(request.context), ensure_ascii=False, separators=(",", ":")
    )
    parts = [
        f"Email: the {kind} sequence, step {request.step}.",
        f"What it is for: {step_purpose(request.kind, request.step)}.",
        "",
        "The customer (JSON; the only things you may use about them):",
        context,
    ]
    if request.feedback:
        parts += ["", "Your previous draft failed these checks; fix them:"]
        parts += [f"- {item}" for item in request.feedback]
    parts += ["", f"Write the email with the {TOOL_NAME} tool."]
    return "\n".join(parts)


def _custom_id(index: int) -> str:
    """A request's custom_id in its batch: request keys ("cus_001/welcome/d0") are not valid
    custom_ids, positions are."""
    return f"r{index}"


def _day(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment is not None else None


def _short(error: BaseException | str) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class ClaudeDrafter:
    """Drafts with Claude: one forced write_email tool call per request, synchronous calls for a
    few requests and the Message Batches API (half the price, no rate-limit bursts) for many."""

    name = "claude"

    @property
    def campaign_chunk(self) -> int:
        """How many requests a campaign should hand over at once: one Message Batch's worth
        (a batch takes minutes to hours, so many small ones in a row would be slow)."""
        return self.max_batch_requests

    def __init__(
        self,
        *,
        client: anthropic.Anthropic,
        model: str,
        batch_threshold: int = 20,
        poll_seconds: float = 10.0,
        max_wait_seconds: float = 3600,
        sleep: Callable[[float], None] = time.sleep,
        max_concurrency: int = 4,
        max_batch_requests: int = 10_000,
    ) -> None:
        self.client = client
        self.model = model
        self.batch_threshold = batch_threshold
        self.poll_seconds = poll_seconds
        self.max_wait_seconds = max_wait_seconds
        self.sleep = sleep
        # A few calls in flight hide network latency; the SDK's retries absorb the 429s more
        # would cause. Batches are for anything bigger.
        self.max_concurrency = max(1, max_concurrency)
        # A batch may hold 100,000 requests or 256 MB; at about 7 KB a request, 10,000 stays
        # well inside both, so a big campaign goes as several batches.
        self.max_batch_requests = max(1, max_batch_requests)

    def message_params(self, request: DraftRequest) -> dict[str, Any]:
        """Exactly the keyword arguments given to messages.create for this request."""
        return {
            "model": self.model,
            "max_tokens": MAX_TOKENS,
            "system": system_blocks(request.voice, request.catalog),
            "tools": [TOOL],
            "tool_choice": TOOL_CHOICE,
            "messages": [{"role": "user", "content": user_turn(request)}],
        }

    def draft_many(self, requests: Sequence[DraftRequest]) -> list[DraftContent | DraftFailed]:
        """One outcome per request, in order; failures are DraftFailed, never exceptions."""
        if not requests:
            return []
        if len(requests) > self.batch_threshold:
            return self._draft_batches(requests)
        if self.max_concurrency == 1 or len(requests) == 1:
            return [self._draft_one(request) for request in requests]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests))) as pool:
            return list(pool.map(self._draft_one, requests))

    def _draft_one(self, request: DraftRequest) -> DraftContent | DraftFailed:
        """One synchronous call; the SDK has already retried what is worth retrying."""
        try:
            # Unpacking a dict picks no overload (Any); without stream=True it is a Message.
            message: Message = self.client.messages.create(**self.message_params(request))
        except anthropic.APIStatusError as error:
            return DraftFailed(
                key=request.key,
                error=_short(f"Claude API error {error.status_code}: {error.message}"),
            )
        except anthropic.APITimeoutError:
            return DraftFailed(key=request.key, error="Claude API timed out")
        except anthropic.AnthropicError as error:
            return DraftFailed(key=request.key, error=_short(f"Claude API error: {error}"))
        return self._parse(request, message)

    def _draft_batches(self, requests: Sequence[DraftRequest]) -> list[DraftContent | DraftFailed]:
        """Many requests through the Message Batches API: all batches submitted first (they run
        side by side), then each polled until it ends, within one shared wait."""
        size = self.max_batch_requests
        chunks = [requests[start : start + size] for start in range(0, len(requests), size)]
        submitted = [(chunk, self._submit(chunk)) for chunk in chunks]
        outcomes: list[DraftContent | DraftFailed] = []
        waited = 0.0
        for chunk, batch in submitted:
            if isinstance(batch, str):
                outcomes += self._fail_all(chunk, batch)
                continue
            try:
                batch, waited = self._wait(batch, waited)
                if batch.processing_status != "ended":
                    self._cancel(batch.id)
                    outcomes += self._fail_all(
                        chunk, f"batch {batch.id} did not end within {self.max_wait_seconds:g} s"
                    )
                    continue
                results: dict[str, MessageBatchResult] = {
                    item.custom_id: item.result
                    for item in self.client.messages.batches.results(batch.id)
                }
            except anthropic.AnthropicError as error:
                outcomes += self._fail_all(chunk, _short(f"Claude batch error: {error}"))
                continue
            outcomes += [
                self._batch_outcome(request, results.get(_custom_id(index)))
                for index, request in enumerate(chunk)
            ]
        return outcomes

    def _submit(self, chunk: Sequence[DraftRequest]) -> MessageBatch | str:
        """Create one batch; the error in words if the API refused it."""
        batch_requests = [
            BatchRequest(
                custom_id=_custom_id(index),
                params=cast(MessageCreateParamsNonStreaming, self.message_params(request)),
            )
            for index, request in enumerate(chunk)
        ]
        try:
            return self.client.messages.batches.create(requests=batch_requests)
        except anthropic.AnthropicError as error:
            return _short(f"Claude batch error: {error}")

    def _batch_outcome(
        self, request: DraftRequest, result: MessageBatchResult | None
    ) -> DraftContent | DraftFailed:
        """The draft in one batch result, or why there is none."""
        if result is None:
            return DraftFailed(key=request.key, error="no result in the batch")
        if isinstance(result, MessageBatchSucceededResult):
            return self._parse(request, result.message)
        if isinstance(result, MessageBatchErroredResult):
            detail = result.error.error
            return DraftFailed(
                key=request.key,
                error=_short(f"batch request errored: {detail.type}: {detail.message}"),
            )
        return DraftFailed(key=request.key, error=f"batch request {result.type}")

    def _wait(self, batch: MessageBatch, waited: float) -> tuple[MessageBatch, float]:
        """Poll until the batch ends or the wait runs out; the last state seen, and the wait
        used so far."""
        # Counted in slept seconds rather than by the clock, so an injected sleep makes tests
        # instant; the time spent in the polls themselves is small beside poll_seconds.
        while batch.processing_status != "ended" and waited < self.max_wait_seconds:
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
            batch = self.client.messages.batches.retrieve(batch.id)
        return batch, waited

    def _cancel(self, batch_id: str) -> None:
        """Cancel a batch we gave up on, so its results are not billed; best effort."""
        with contextlib.suppress(anthropic.AnthropicError):
            self.client.messages.batches.cancel(batch_id)

    def _parse(self, request: DraftRequest, message: Message) -> DraftContent | DraftFailed:
        """The draft in the write_email call, or why there is none."""
        call = next(
            (
                block
                for block in message.content
                if isinstance(block, ToolUseBlock) and block.name == TOOL_NAME
            ),
            None,
        )
        if call is None:
            return DraftFailed(
                key=request.key,
                error=f"Claude did not call {TOOL_NAME} (stop reason {message.stop_reason})",
            )
        try:
            email = EmailToolInput.model_validate(call.input)
        except ValidationError as error:
            fields = ", ".join(
                ".".join(str(part) for part in problem["loc"]) or "input"
                for problem in error.errors()
            )
            return DraftFailed(
                key=request.key,
                error=_short(
                    f"Claude's {TOOL_NAME} call is invalid ({fields}; stop reason "
                    f"{message.stop_reason})"
                ),
            )
        usage = message.usage
        return DraftContent(
            subject=email.subject,
            preheader=email.preheader,
            body=email.body,
            fact_ids=email.fact_ids,
            evidence=email.evidence,
            products=email.products,
            drafter=self.name,
            template=PROMPT_VERSION,
            model=message.model or self.model,
            usage=Usage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_input_tokens or 0,
                cache_write_tokens=usage.cache_creation_input_tokens or 0,
            ),
        )

    def _fail_all(
        self, requests: Sequence[DraftRequest], error: str
    ) -> list[DraftContent | DraftFailed]:
        return [DraftFailed(key=request.key, error=error) for request in requests]


def build_claude_drafter(
    *,
    api_key: str,
    model: str,
    base_url: str | None = None,
    http_client: httpx2.Client | None = None,
    timeout: float = 60.0,
    max_retries: int = 4,
    batch_threshold: int = 20,
) -> ClaudeDrafter:
    """A ClaudeDrafter with its own client (built once at start-up, then passed around)."""
    # Set explicitly rather than left to SDK defaults: the SDK retries 408, 409, 429 and 5xx
    # (529 overloaded included) and connection errors with exponential backoff, honouring
    # retry-after; 4 retries ride out a short overload, where its default of 2 often does not.
    # Its default timeout is 10 minutes; one short email should never take a minute.
    client = anthropic.Anthropic(
        api_key=api_key,
        base_url=base_url,
        http_client=http_client,
        timeout=timeout,
        max_retries=max_retries,
    )
    return ClaudeDrafter(client=client, model=model, batch_threshold=batch_threshold)
