"""TemplateDrafter: composes an email from the step's copy and the paragraphs that fit."""

import re
import string
from collections.abc import Sequence

from engine.drafting.base import (
    Catalog,
    DraftContent,
    DraftFailed,
    DraftingError,
    DraftRequest,
    Evidence,
)
from engine.drafting.templates.copy import STEPS, TEMPLATES
from engine.drafting.templates.paragraphs import (
    BUILDERS,
    SETUP_INTENTS,
    BodySentence,
    Para,
    Reader,
    product_paragraph,
)
from engine.drafting.templates.phrases import CatalogIndex, first_name, since
from engine.drafting.voice import GENERIC_PHRASES, VoiceChecks
from engine.models import DRAFT_KINDS

_WORD = re.compile(r"[\w'\u2019-]+")
# Contractions the templates use, spelled out for a guide that avoids them.
_EXPANSIONS = {
    "it's been": "it has been",
    "we're": "we are",
    "you're": "you are",
    "we'll": "we will",
    "you'll": "you will",
    "we've": "we have",
    "you've": "you have",
    "you'd": "you would",
    "we'd": "we would",
    "it's": "it is",
    "that's": "that is",
    "there's": "there is",
    "here's": "here is",
    "what's": "what is",
    "how's": "how is",
    "let's": "let us",
    "don't": "do not",
    "isn't": "is not",
    "haven't": "have not",
    "anything's": "anything is",
    "all's": "all is",
}
_CONTRACTED = re.compile(
    r"(?i)\b(" + "|".join(re.escape(k) for k in sorted(_EXPANSIONS, key=len, reverse=True)) + r")\b"
)


# -- the drafter ------------------------------------------------------------------------------


class TemplateDrafter:
    """Drafts from versioned templates, offline and deterministically; the default drafter."""

    name = "template"

    def __init__(self) -> None:
        # The last catalog seen and its word index: a campaign drafts with one catalog.
        self._indexed: tuple[Catalog, CatalogIndex] | None = None

    def draft_many(self, requests: Sequence[DraftRequest]) -> list[DraftContent | DraftFailed]:
        """One draft per request, in order; a request no template answers is a DraftFailed."""
        outcomes: list[DraftContent | DraftFailed] = []
        for request in requests:
            try:
                outcomes.append(self.draft(request))
            except DraftingError as error:
                outcomes.append(DraftFailed(key=request.key, error=str(error)))
        return outcomes

    def draft(self, request: DraftRequest) -> DraftContent:
        """The draft for one request; DraftingError when no template answers it."""
        if request.kind not in DRAFT_KINDS:
            raise DraftingError(
                f"no sequence {request.kind!r}; sequences: {', '.join(DRAFT_KINDS)}"
            )
        if request.step not in STEPS[request.kind]:
            raise DraftingError(
                f"no template for {request.kind} step {request.step!r}; steps: "
                f"{', '.join(STEPS[request.kind])}"
            )
        return _compose(Reader(request, self._index(request)), request)

    def _index(self, request: DraftRequest) -> CatalogIndex:
        indexed = self._indexed
        if indexed is None or indexed[0] is not request.catalog:
            indexed = (request.catalog, CatalogIndex(request.catalog.products))
            self._indexed = indexed
        index = indexed[1]
        missing = [p for p in request.context.orders.products if p.sku not in index.by_sku]
        if missing:
            # Bought products the catalog does not list may still be named (they were bought).
            return CatalogIndex([*index.products, *missing], catalog_size=len(index.products))
        return index


def _compose(r: Reader, request: DraftRequest) -> DraftContent:  # noqa: C901 (a decision list, clearest read top to bottom)
    t = r.template
    voice = request.voice
    checks = voice.checks
    biz = voice.business
    # A retry after the grounding check complained: say nothing personal at all.
    plain = bool(request.feedback)

    lines: list[Para] = []
    product: Para | None = None
    if not plain:
        limit = 3 if t.kind == "welcome" else 2
        # The product paragraph first (it claims its product), then the step's priorities.
        if t.kind != "welcome":
            has_setup = bool(r.have(SETUP_INTENTS) or r.facts.get("pain_point"))
            product = _keep(product_paragraph(r, has_setup=has_setup), r, checks)
        for key in t.priority:
            if len(lines) >= limit:
                break
            para = _keep(BUILDERS[key](r), r, checks)
            if para is not None:
                lines.append(para)
                r.named.update(p.name.casefold() for p in para.products)

    if lines:
        variant, lead = lines[0].key, lines[0]
    elif product is not None:
        variant, lead = "product", product
    else:
        variant, lead = ("plain" if plain else "basic"), None

    paras: list[Para] = []
    if product is not None:
        paras.append(product)
    else:
        opener = r.pick(t.openers, 3).format(biz=biz)
        if t.kind == "win_back" and not plain and r.context.rfm.recency_days is not None:
            opener = (
                f"It's been {since(r.context.rfm.recency_days)} since your last order, so "
                "here's a quick hello."
            )
        paras.append(Para("opener", (BodySentence(_tidy(opener), personal=False),)))
    paras.extend(lines)
    # After a post-purchase paragraph about the product, a generic line would only repeat it.
    if not lines and not (product is not None and t.kind == "post_purchase"):
        paras.append(Para("basic", (BodySentence(r.pick(t.basics, 4), personal=False),)))
    paras.append(Para("closing", (BodySentence(r.pick(t.closings, 5), personal=False),)))
    paras = _without_banned(paras, checks)

    name = first_name(r.context.first_name)
    subject = _subject(
        [lead.subject] if lead is not None and lead.subject else [],
        t.subjects,
        name=name,
        biz=biz,
        limit=checks.max_subject_chars,
    )
    preheader = (
        lead.preheader
        if lead is not None and lead.preheader
        else r.pick(t.preheaders, 6).format(biz=biz)
    )
    sign_off = voice.sign_off or "The team"
    body = "\n\n".join([f"Hi {name or 'there'},", *(p.text for p in paras), sign_off])

    evidence: list[Evidence] = []
    fact_ids: list[int] = []
    products: list[str] = []
    for para in paras:
        for sentence in para.sentences:
            if sentence.personal:
                evidence.append(
                    Evidence(
                        sentence=sentence.text,
                        fact_ids=list(sentence.fact_ids),
                        skus=list(sentence.skus),
                        intents=list(sentence.intents),
                    )
                )
                fact_ids.extend(i for i in sentence.fact_ids if i not in fact_ids)
        products.extend(p.name for p in para.products if p.name not in products)

    if checks.contractions == "avoid":
        subject, preheader, body = _spell_out(subject), _spell_out(preheader), _spell_out(body)
        for item in evidence:
            item.sentence = _spell_out(item.sentence)
    return DraftContent(
        subject=subject,
        preheader=_tidy(preheader),
        body=body,
        fact_ids=sorted(fact_ids),
        evidence=evidence,
        products=products,
        drafter=TemplateDrafter.name,
        template=f"{t.id}/{variant}",
    )


def _keep(para: Para | None, r: Reader, checks: VoiceChecks) -> Para | None:
    """The paragraph, unless it touches an opted-out topic or has a sentence too long."""
    if para is None:
        return None
    if r.topics and (any(r.blocked(p) for p in para.products) or r.opted_out(para.text)):
        return None
    for sentence in para.sentences:
        if len(_WORD.findall(sentence.text)) > checks.max_sentence_words:
            return None
    return para


def _without_banned(paras: list[Para], checks: VoiceChecks) -> list[Para]:
    """Drop paragraphs using a phrase the business banned (the built-in list never matches)."""
    if checks.banned_phrases == list(GENERIC_PHRASES):
        return paras
    banned = [p.casefold() for p in checks.banned_phrases]
    return [p for p in paras if not any(b in p.text.casefold() for b in banned)]


def _subject(
    preferred: list[str], defaults: Sequence[str], *, name: str | None, biz: str, limit: int
) -> str:
    """The first subject that fits, with the name in front when there is one."""
    candidates = [c.format(biz=biz) for c in (*preferred, *defaults)]
    for candidate in candidates:
        for with_name in (True, False) if name else (False,):
            text = f"{name}, {candidate}" if with_name else candidate[:1].upper() + candidate[1:]
            text = _tidy(text)
            if len(text) <= limit:
                return text
    last = candidates[-1]
    return (last[:1].upper() + last[1:])[:limit]


def _tidy(text: str) -> str:
    """ "Co.." -> "Co." where a name ending in a full stop ends a sentence."""
    return text.replace("..", ".")


def _spell_out(text: str) -> str:
    """The text without contractions, for a guide that avoids them."""

    def expand(match: re.Match[str]) -> str:
        word = match.group(1)
        full = _EXPANSIONS[word.lower().replace("\u2019", "'")]
        return full[:1].upper() + full[1:] if word[:1].isupper() else full

    return _CONTRACTED.sub(expand, text)


def _check_templates() -> None:
    """Every template uses only the {biz} placeholder and ranks every line once."""
    for t in TEMPLATES.values():
        for text in (*t.openers, *t.subjects, *t.preheaders, *t.basics, *t.closings):
            for _, field, _, _ in string.Formatter().parse(text):
                if field not in (None, "biz"):
                    raise ValueError(f"{t.id}: unknown placeholder {{{field}}} in {text!r}")
        if sorted(t.priority) != sorted(BUILDERS):
            raise ValueError(f"{t.id}: the priority must rank every line once")


_check_templates()
