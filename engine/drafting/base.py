"""What every drafter takes and returns, and the Drafter protocol."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from engine.customers.context import CustomerContext
from engine.drafting.voice import StoredVoiceGuide
from engine.errors import EngineError
from engine.models import DraftKind


class DraftingError(EngineError):
    """A drafter could not produce a draft (the model API failed, or answered nonsense)."""

    code = "drafting_failed"


class CatalogProduct(BaseModel):
    """A product the business sells (learned from its orders)."""

    sku: str
    name: str
    category: str | None = None


@dataclass(frozen=True)
class Catalog:
    """The business's products: what a draft may name besides what the customer bought."""

    products: tuple[CatalogProduct, ...] = ()
    by_name: dict[str, CatalogProduct] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_name.update({p.name.casefold(): p for p in self.products})

    def find(self, name: str) -> CatalogProduct | None:
        """The product of this name (case-insensitive), if the business sells it."""
        return self.by_name.get(name.strip().casefold())

    def named_in(self, text: str) -> list[CatalogProduct]:
        """The products whose full name appears in the text (case-insensitive)."""
        folded = text.casefold()
        return [p for name, p in self.by_name.items() if name in folded]


@dataclass(frozen=True)
class DraftRequest:
    """One email to draft: which sequence step, for whom, in which voice."""

    # Unique within one call of draft_many (a Message Batches custom_id): "cus_001/welcome/d0".
    key: str
    kind: DraftKind
    step: str
    context: CustomerContext
    voice: StoredVoiceGuide
    catalog: Catalog
    # The grounding check's complaints about a previous attempt, for the retry.
    feedback: tuple[str, ...] = ()


class Evidence(BaseModel):
    """A personalized sentence of the draft, and what it rests on."""

    sentence: str
    fact_ids: list[int] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)
    intents: list[str] = Field(default_factory=list)


class Usage(BaseModel):
    """Tokens a model call used (all zero for the template drafter)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class DraftContent(BaseModel):
    """A drafted email, with the facts it used and where each personalized sentence comes from."""

    subject: str
    preheader: str
    body: str
    fact_ids: list[int] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    # Product names the email mentions, as the drafter declares them.
    products: list[str] = Field(default_factory=list)
    drafter: str
    # Template id and variant ("welcome.d0.v1/setup"), or the prompt version for a model.
    template: str
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)


class DraftFailed(BaseModel):
    """A request the drafter could not answer, and why."""

    key: str
    error: str


class Drafter(Protocol):
    """Turns draft requests into drafts; the same request may be answered differently only by a
    model (a template drafter is deterministic)."""

    name: str

    def draft_many(self, requests: Sequence[DraftRequest]) -> list[DraftContent | DraftFailed]:
        """One outcome per request, in order."""
        ...
