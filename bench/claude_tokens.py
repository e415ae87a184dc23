"""How a Claude draft's prompt splits into the prompt-cached prefix and the per-customer rest.

Runs the real ClaudeDrafter and SDK against an in-process mock transport (no network, no API
key), captures the exact JSON bodies the SDK would send, and splits each into the cached prefix
(tools + system blocks up to and including the one with cache_control) and the uncached rest
(any later system blocks and the messages). Reports per-draft averages in characters and in
tokens.

The token figures are ESTIMATES: no Claude tokenizer is available offline, so they are counted
with the bundled all-MiniLM-L6-v2 WordPiece tokenizer. Claude's own counts differ, and the API
also adds a tool-use system prompt of a few hundred tokens to the cached prefix that is not
counted here. Use them to see the proportions, and whether the cached prefix is near Claude's
minimum cacheable length (1,024 tokens on Sonnet 4.6 in Anthropic's docs; 2,048 observed by
users, anthropic-sdk-python#1194), not as billing figures.

    .venv/bin/python bench/claude_tokens.py
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx2
from transformers import AutoTokenizer

from embeddings.encoder import bundled_model_path
from engine.customers.context import (
    Consent,
    CustomerContext,
    KeptFact,
    OptOut,
    OrderSummary,
    ProductBought,
    RecentIntent,
    Rfm,
)
from engine.drafting.base import Catalog, CatalogProduct, DraftContent, DraftRequest
from engine.drafting.claude import ClaudeDrafter, build_claude_drafter
from engine.drafting.voice import DEFAULT_GUIDE
from engine.models import DraftKind

# Claude's minimum cacheable prompt on Sonnet 4.6 (a shorter marked prefix is silently not
# cached): 1,024 tokens as documented, 2,048 as users observed (anthropic-sdk-python#1194).
SONNET_CACHE_MIN_TOKENS = 1024
SONNET_CACHE_MIN_TOKENS_OBSERVED = 2048


def _reply(model: str) -> dict[str, Any]:
    """A valid write_email answer, so the drafter's whole path runs."""
    return {
        "id": "msg_offline",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_offline",
                "name": "write_email",
                "input": {
                    "subject": "s",
                    "preheader": "p",
                    "body": "b",
                    "fact_ids": [],
                    "evidence": [],
                    "products": [],
                },
            }
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def capture_bodies(
    drafter: ClaudeDrafter, requests: Sequence[DraftRequest]
) -> list[dict[str, Any]]:
    """The JSON body the SDK sends for each request, captured by a mock transport."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        return httpx2.Response(200, json=_reply(drafter.model))

    # A twin of the drafter with the same model (the prompt depends only on it and the request);
    # the .invalid host makes sure nothing could reach the network if the transport were bypassed.
    twin = build_claude_drafter(
        api_key="offline",
        model=drafter.model,
        base_url="https://api.anthropic.invalid",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
        # One messages.create per request: the bodies a batch carries are the same params.
        batch_threshold=len(requests),
    )
    twin.max_concurrency = 1
    outcomes = twin.draft_many(requests)
    failed = [o for o in outcomes if not isinstance(o, DraftContent)]
    if failed:
        raise RuntimeError(f"the offline drafter failed: {failed}")
    return bodies


def split_body(body: dict[str, Any]) -> tuple[str, str]:
    """(cached prefix text, uncached text) of one request body, as the model reads them."""
    system: list[dict[str, Any]] = body.get("system") or []
    marked = [i for i, block in enumerate(system) if block.get("cache_control")]
    end = marked[-1] + 1 if marked else 0
    # Tools are rendered to the model as their schema; compact JSON is the closest text to it.
    tools = json.dumps(body.get("tools", []), ensure_ascii=False, separators=(",", ":"))
    cached = [tools] if marked else []
    cached += [block["text"] for block in system[:end]]
    uncached = [] if marked else [tools]
    uncached += [block["text"] for block in system[end:]]
    for message in body["messages"]:
        content = message["content"]
        uncached.append(
            content
            if isinstance(content, str)
            else "\n".join(part.get("text", "") for part in content)
        )
    return "\n\n".join(cached), "\n\n".join(uncached)


def prompt_token_split(drafter: ClaudeDrafter, requests: Sequence[DraftRequest]) -> dict[str, Any]:
    """Per-draft averages of the cached and uncached prompt, in characters and estimated
    tokens (MiniLM WordPiece, not Claude's tokenizer)."""
    if not requests:
        raise ValueError("no requests to measure")
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()), local_files_only=True)
    # Only counting, never running the model: lift its 512-token limit (and the warning).
    tokenizer.model_max_length = 10**9
    bodies = capture_bodies(drafter, requests)
    splits = [split_body(body) for body in bodies]

    def tokens(text: str) -> int:
        return len(tokenizer.tokenize(text))

    count = len(splits)
    cached_chars = sum(len(c) for c, _ in splits) / count
    uncached_chars = sum(len(u) for _, u in splits) / count
    cached_tokens = sum(tokens(c) for c, _ in splits) / count
    uncached_tokens = sum(tokens(u) for _, u in splits) / count
    return {
        "drafts": count,
        "model": drafter.model,
        "token_estimator": "all-MiniLM-L6-v2 WordPiece (an estimate, not Claude's tokenizer)",
        "cached_prefix_identical": len({c for c, _ in splits}) == 1,
        "cached_chars": round(cached_chars, 1),
        "cached_tokens_estimate": round(cached_tokens, 1),
        "uncached_chars": round(uncached_chars, 1),
        "uncached_tokens_estimate": round(uncached_tokens, 1),
        "cached_share_of_tokens_estimate": round(
            cached_tokens / (cached_tokens + uncached_tokens), 3
        ),
        "sonnet_cache_min_tokens": SONNET_CACHE_MIN_TOKENS,
        "cached_prefix_reaches_sonnet_minimum_estimate": cached_tokens >= SONNET_CACHE_MIN_TOKENS,
        "cached_prefix_reaches_observed_minimum_estimate": (
            cached_tokens >= SONNET_CACHE_MIN_TOKENS_OBSERVED
        ),
        "request_body_bytes": round(
            sum(len(json.dumps(b, ensure_ascii=False).encode()) for b in bodies) / count, 1
        ),
    }


def _sample_context(
    customer_id: str, first_name: str | None, facts: list[tuple[int, str, str, str]], days_ago: int
) -> CustomerContext:
    """A small hand-made gated context: one order, one intent, the given facts."""
    as_of = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    bought = as_of - timedelta(days=days_ago)
    return CustomerContext(
        customer_id=customer_id,
        first_name=first_name,
        as_of=as_of,
        consent=Consent(
            marketing_consent=True,
            opted_out_in_chat=False,
            subscribed_at=as_of - timedelta(days=60),
            consent_at=as_of - timedelta(days=60),
            unsubscribed_at=None,
        ),
        orders=OrderSummary(
            count=1,
            total_spend={"USD": Decimal("89.00")},
            first_order_at=bought,
            last_order_at=bought,
            products=[
                ProductBought(
                    sku="K-2",
                    name="Gooseneck Kettle",
                    category="kettles",
                    quantity=1,
                    last_bought_at=bought,
                )
            ],
            categories=["kettles"],
        ),
        rfm=Rfm(recency="0-30", recency_days=days_ago, frequency="first_time", monetary="mid"),
        lifecycle="new_customer",
        intents=[
            RecentIntent(intent="brew_guide", count=2, last_said_at=as_of - timedelta(days=4))
        ],
        facts=[
            KeptFact(
                id=fact_id,
                category=category,
                value=value,
                quote=quote,
                message_id=f"m-{fact_id}",
                conversation_id=f"c-{customer_id}",
                span=(0, len(quote)),
                said_at=as_of - timedelta(days=4),
                extractor="rules",
            )
            for fact_id, category, value, quote in facts
        ],
        opt_outs=[
            OptOut(
                topic="grinders",
                quote="please don't email me about grinders",
                message_id="m-opt",
                said_at=as_of - timedelta(days=4),
            )
        ],
        blocked={},
        withheld_by_opt_out=0,
    )


def sample_requests() -> list[DraftRequest]:
    """Four drafts for three made-up customers, one a retry with feedback."""
    catalog = Catalog(
        products=(
            CatalogProduct(sku="G-1", name="Burr Grinder", category="grinders"),
            CatalogProduct(sku="K-2", name="Gooseneck Kettle", category="kettles"),
            CatalogProduct(sku="B-3", name="House Espresso Beans", category="coffee"),
            CatalogProduct(sku="F-4", name="Paper Filters (100)", category="filters"),
            CatalogProduct(sku="S-5", name="Kitchen Scale", category="accessories"),
        )
    )
    customers = [
        _sample_context(
            "cus_001",
            "Ines",
            [(11, "equipment", "V60", "I brew with a V60 every morning")],
            days_ago=3,
        ),
        _sample_context(
            "cus_002",
            "Ben",
            [
                (21, "business", "café", "I run a small café by the station"),
                (22, "preference", "oat milk", "we only do oat milk"),
            ],
            days_ago=14,
        ),
        _sample_context("cus_003", None, [], days_ago=30),
    ]
    steps: list[tuple[DraftKind, str]] = [
        ("post_purchase", "d3"),
        ("post_purchase", "d14"),
        ("post_purchase", "d30"),
    ]
    requests = [
        DraftRequest(
            key=f"{c.customer_id}/{kind}/{step}",
            kind=kind,
            step=step,
            context=c,
            voice=DEFAULT_GUIDE,
            catalog=catalog,
        )
        for c, (kind, step) in zip(customers, steps, strict=True)
    ]
    requests.append(
        DraftRequest(
            key="cus_002/post_purchase/d14/retry",
            kind="post_purchase",
            step="d14",
            context=customers[1],
            voice=DEFAULT_GUIDE,
            catalog=catalog,
            feedback=("uses the banned phrase 'reach out'",),
        )
    )
    return requests


if __name__ == "__main__":
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # The client is never used to send anything: prompt_token_split builds an offline twin.
    offline = build_claude_drafter(
        api_key="offline", model="claude-sonnet-4-6", base_url="https://api.anthropic.invalid"
    )
    figures = prompt_token_split(offline, sample_requests())
    print("Claude prompt split per draft (token figures are MiniLM WordPiece ESTIMATES):")
    print(json.dumps(figures, indent=2))
