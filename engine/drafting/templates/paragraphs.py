"""The reader of a request (context and catalog) and the personalized paragraphs it builds."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from engine.customers.context import KeptFact, ProductBought
from engine.drafting.base import CatalogProduct, DraftRequest
from engine.drafting.templates.copy import TEMPLATES, template_id
from engine.drafting.templates.phrases import (
    MAX_MATCHED_VALUE_WORDS,
    CatalogIndex,
    article,
    business_phrase,
    listing,
    plain_words,
    plan_phrase,
    related,
    role_phrase,
    since,
    singular,
    stable_hash,
    tokens_of,
)
from engine.facts.optouts import ALL_MARKETING, mentions

# A plan a customer spoke of this long ago may have happened already: no "good luck" line.
STALE_PLAN = timedelta(days=120)
# Products named in one sentence at most (a list of five reads like a catalogue).
MAX_NAMED = 3
SETUP_INTENTS = ("setup_trouble",)
_PLAN_INTENTS = ("pricing_interest", "upgrade_interest")
_DELIVERY_INTENTS = ("shipping_delivery", "order_problem")


@dataclass(frozen=True, slots=True)
class BodySentence:
    """A sentence of the body and what it names; `personal` when it rests on the customer."""

    text: str
    fact_ids: tuple[int, ...] = ()
    skus: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    personal: bool = True


@dataclass(frozen=True, slots=True)
class Para:
    """A paragraph of the body, what it names, and the subject and preheader it suggests."""

    key: str
    sentences: tuple[BodySentence, ...]
    # Products the paragraph names (checked against opt-outs with their categories).
    products: tuple[CatalogProduct | ProductBought, ...] = ()
    subject: str | None = None
    preheader: str | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


# -- reading the context ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Match:
    product: CatalogProduct | ProductBought
    fact: KeptFact
    bought: bool
    plan: bool


class Reader:
    """What one request's context offers a template, read once."""

    def __init__(self, request: DraftRequest, index: CatalogIndex) -> None:
        context = request.context
        self.context = context
        self.index = index
        self.template = TEMPLATES[template_id(request.kind, request.step)]
        self.biz = request.voice.business
        # Phrasing varies by customer and step; product picks by customer only, so one
        # customer's sequence keeps pointing at the same thing.
        self.seed = stable_hash(f"{context.customer_id}|{self.template.id}")
        self.customer_seed = stable_hash(context.customer_id)
        self.topics = tuple(o.topic for o in context.opt_outs if o.topic != ALL_MARKETING)
        self.intents = {i.intent for i in context.intents}
        self._blocked: dict[str, bool] = {}
        self.bought = [p for p in context.orders.products if not self.blocked(p)]
        self.bought_skus = {p.sku for p in self.bought}
        self.facts: dict[str, list[KeptFact]] = {}
        for fact in context.facts:
            # The context already withholds these; a drafter checks again all the same. A value
            # with a word nothing vouches for ("begginer") is left out, as rough ones are.
            if not fact.unknown_words and not self.opted_out(fact.value):
                self.facts.setdefault(fact.category, []).append(fact)
        # Products already named, so no two lines point at the same one.
        self.named: set[str] = set()

    def pick(self, options: Sequence[str], slot: int) -> str:
        """One of the options, the same for this customer and step every time."""
        return options[(self.seed >> (slot * 7)) % len(options)]

    def opted_out(self, text: str) -> bool:
        return bool(self.topics) and mentions(text, self.topics) is not None

    def blocked(self, product: CatalogProduct | ProductBought) -> bool:
        """Whether the product's name or category touches a topic the customer opted out of."""
        if not self.topics:
            return False
        found = self._blocked.get(product.sku)
        if found is None:
            found = self._blocked[product.sku] = self.opted_out(
                f"{product.name} {product.category or ''}"
            )
        return found

    def have(self, intents: Sequence[str]) -> tuple[str, ...]:
        return tuple(i for i in intents if i in self.intents)

    def matches(self, fact: KeptFact, *, pool: str = "all") -> list[_Match]:
        """Products the fact's words point at, best first; only products the customer bought
        when pool is "bought"."""
        words = plain_words(fact.value)
        if words is None or len(words) > MAX_MATCHED_VALUE_WORDS:
            return []
        tokens = tokens_of(fact.value)
        if not tokens:
            return []
        scored = self.index.scores(tokens)
        found: list[tuple[tuple[int, int, int], _Match]] = []
        for i, score in scored.items():
            product = self.index.products[i]
            bought = product.sku in self.bought_skus
            if pool == "bought" and not bought:
                continue
            if self.blocked(product):
                continue
            # Equal scores: products not bought yet first (a suggestion), then the catalog's
            # order turned by the customer's seed, so similar customers see different picks.
            turn = (i + self.customer_seed) % len(self.index.products)
            found.append(
                ((-score, int(bought), turn), _Match(product, fact, bought, i in self.index.plans))
            )
        found.sort(key=lambda item: item[0])
        return [m for _, m in found]

    def latest(self) -> list[ProductBought]:
        """The products of the customer's latest order, things that are not plans first."""
        if not self.bought:
            return []
        last = self.bought[0].last_bought_at
        products = [p for p in self.bought if p.last_bought_at == last]
        return sorted(products, key=lambda p: self.is_plan(p))

    def is_plan(self, product: CatalogProduct | ProductBought) -> bool:
        i = self.index.by_sku.get(product.sku)
        return i is not None and i in self.index.plans

    def plan_products(self) -> list[CatalogProduct | ProductBought]:
        return [
            self.index.products[i]
            for i in self.index.plans
            if not self.blocked(self.index.products[i])
        ]


# -- the personalized lines -------------------------------------------------------------------


def _setup(r: Reader) -> Para | None:
    intents = r.have(SETUP_INTENTS)
    product: ProductBought | CatalogProduct | None = None
    facts: list[KeptFact] = []
    for fact in r.facts.get("pain_point", ()):
        found = r.matches(fact, pool="bought")
        if found and product is None:
            product = found[0].product
            facts.insert(0, fact)
        elif not found:
            facts.append(fact)
    if not intents and not facts:
        return None
    fact_ids = tuple(f.id for f in facts[:1])
    if product is not None:
        sentence = BodySentence(
            f"If the {product.name} still isn't quite right, reply and tell us what's happening, "
            "and we'll help you sort it.",
            fact_ids=fact_ids,
            skus=(product.sku,),
            intents=intents,
        )
        return Para(
            "setup",
            (sentence,),
            (product,),
            subject=f"need a hand with the {product.name}?",
            preheader="Reply with what's happening and we'll help you sort it.",
        )
    if intents:
        text = (
            "If you're still stuck getting set up, reply with what you're seeing and we'll walk "
            "you through it."
        )
        subject = "need a hand getting set up?"
    else:
        text = (
            "If anything still isn't working the way it should, reply and tell us what's "
            "happening, and we'll help."
        )
        subject = "need a hand?"
    return Para(
        "setup",
        (BodySentence(text, fact_ids=fact_ids, intents=intents),),
        subject=subject,
        preheader="Reply with what's happening and we'll help you sort it.",
    )


def _delivery(r: Reader) -> Para | None:
    intents = r.have(_DELIVERY_INTENTS)
    if not intents:
        return None
    kind, step = r.template.kind, r.template.step
    if kind == "welcome":
        text = (
            "If an order ever turns up late or not quite right, reply to this email and we'll "
            "put it right."
        )
    elif step == "d1":
        text = (
            "If it's late or not quite right when it arrives, reply to this email and we'll "
            "sort it straight away."
        )
    else:
        text = (
            "If anything about an order ever goes wrong, reply to this email and we'll put it "
            "right."
        )
    return Para(
        "delivery",
        (BodySentence(text, intents=intents),),
        preheader="And what to do if an order is ever late or not right.",
    )


def _plans(r: Reader) -> Para | None:
    intents = r.have(_PLAN_INTENTS)
    facts: list[KeptFact] = []
    for fact in r.facts.get("interest", []) + r.facts.get("preference", []):
        found = r.matches(fact)
        if found and found[0].plan:
            facts.append(fact)
    if not intents and not facts:
        return None
    plans = [p for p in r.plan_products() if p.name.casefold() not in r.named]
    mine = [p for p in plans if p.sku in r.bought_skus]
    others = [p for p in plans if p.sku not in r.bought_skus]
    fact_ids = tuple(f.id for f in facts[:1])
    named: list[CatalogProduct | ProductBought]
    if mine and others:
        named = [mine[0], *others[: MAX_NAMED - 1]]
        first = (
            f"Since you've had the {mine[0].name}, you might like to compare it with "
            f"{listing([p.name for p in named[1:]])}."
        )
    elif len(others) > MAX_NAMED:
        named = list(others[:MAX_NAMED])
        first = f"We offer {len(others)} plans, including {listing([p.name for p in named])}."
    elif len(others) >= 2:
        named = list(others)
        first = f"We offer {listing([p.name for p in named])}."
    elif others:
        named = [others[0]]
        first = (
            f"If you'd like the details of the {others[0].name}, just reply and we'll send them "
            "over."
        )
    elif "pricing_interest" in intents:
        named = []
        first = "If you'd like prices on anything, just reply and we'll send them straight over."
    else:
        return None
    sentences = [
        BodySentence(first, fact_ids=fact_ids, skus=tuple(p.sku for p in named), intents=intents)
    ]
    if len(named) >= 2:
        sentences.append(
            BodySentence(
                "Reply with what you need and we'll tell you which one works out best.",
                personal=False,
            )
        )
    return Para(
        "plans",
        tuple(sentences),
        tuple(named),
        subject="a quick look at our plans" if named else "prices, whenever you want them",
        preheader="Tell us what you need and we'll suggest the right one."
        if named
        else "Reply and we'll send prices straight over.",
    )


def _thanks(r: Reader) -> Para | None:
    if "praise" not in r.intents:
        return None
    if r.template.kind == "win_back":
        text = "Thanks again for the kind words last time. They meant a lot."
    else:
        text = "Thanks again for the kind words, by the way. It's good to hear."
    first, _, second = text.partition(". ")
    return Para(
        "thanks",
        (BodySentence(f"{first}.", intents=("praise",)), BodySentence(second, personal=False)),
        preheader="And thanks for the kind words.",
    )


def _business(r: Reader) -> Para | None:
    for fact in r.facts.get("business", ()):
        phrase = business_phrase(fact.value)
        if phrase is not None:
            break
    else:
        return None
    kind, step = r.template.kind, r.template.step
    subject = None
    if kind == "welcome" and step == "d0":
        text = (
            f"Running {article(phrase)} {phrase}? Tell us what you need and we'll help you find "
            "the right fit."
        )
    elif kind == "welcome" and step in ("d3", "d7"):
        text = (
            f"If you're buying for your {phrase}, tell us what you need and we'll point you to "
            "the right things."
        )
    elif (kind == "welcome" and step == "d14") or step == "d30":
        if r.plan_products():
            text = (
                f"If a regular order would make life easier at your {phrase}, reply and we'll "
                "set one up."
            )
        else:
            text = (
                f"If a bigger order would help at your {phrase}, reply and we'll work out the "
                "details."
            )
        subject = f"a note for your {phrase}"
    elif kind == "win_back":
        text = f"We hope all's well at your {phrase}."
    else:
        text = f"Hope things are going well at your {phrase}."
    return Para(
        "business",
        (BodySentence(text, fact_ids=(fact.id,)),),
        subject=subject,
        preheader=f"A quick note for your {phrase}.",
    )


def _role(r: Reader) -> Para | None:
    for fact in r.facts.get("role", ()):
        phrase = role_phrase(fact.value)
        if phrase is not None:
            break
    else:
        return None
    a = article(phrase)
    for match in r.matches(fact):
        if not match.bought and match.product.name.casefold() not in r.named:
            product = match.product
            return Para(
                "role",
                (
                    BodySentence(
                        f"As {a} {phrase}, you might find the {product.name} handy.",
                        fact_ids=(fact.id,),
                        skus=(product.sku,),
                    ),
                ),
                (product,),
            )
    return Para(
        "role",
        (
            BodySentence(
                f"If there's anything that would make your day easier as {a} {phrase}, just "
                "reply and tell us.",
                fact_ids=(fact.id,),
            ),
        ),
    )


def _picks(r: Reader) -> Para | None:
    for fact in r.facts.get("preference", []) + r.facts.get("interest", []):
        for match in r.matches(fact):
            if match.plan or match.product.name.casefold() in r.named:
                continue
            product = match.product
            if match.bought:
                text = (
                    f"If you'd like more of the {product.name}, just reply and we'll get it to you."
                )
                subject = f"more of the {product.name}?"
            else:
                text = r.pick(
                    (
                        f"From what you've told us, the {product.name} might be a good fit.",
                        f"The {product.name} might be just what you're after.",
                    ),
                    1,
                )
                subject = f"one to try: the {product.name}"
            return Para(
                "picks",
                (BodySentence(text, fact_ids=(fact.id,), skus=(product.sku,)),),
                (product,),
                subject=subject,
                preheader="A pick based on what you've told us.",
            )
    return None


def _gear(r: Reader) -> Para | None:
    for fact in r.facts.get("uses", ()):
        found = r.matches(fact)
        if not found:
            continue
        product = found[0].product
        if found[0].bought:
            word = product.name
            named: tuple[CatalogProduct | ProductBought, ...] = (product,)
        else:
            word = _gear_word(fact.value, product.name, r.index)
            named = ()
        text = r.pick(
            (
                f"If you'd like tips for getting the most from your {word}, just reply and "
                "we'll help.",
                f"Got questions about your {word}? Reply and we'll share what we know.",
            ),
            2,
        )
        first, sep, rest = text.partition("? ")
        sentences: tuple[BodySentence, ...]
        if sep:
            sentences = (
                BodySentence(first + "?", fact_ids=(fact.id,), skus=tuple(p.sku for p in named)),
                BodySentence(rest, personal=False),
            )
        else:
            sentences = (BodySentence(text, fact_ids=(fact.id,), skus=tuple(p.sku for p in named)),)
        return Para(
            "gear",
            sentences,
            named,
            subject=f"tips for your {word}",
            preheader=f"Getting the most from your {word}.",
        )
    return None


def _gear_word(value: str, product_name: str, index: CatalogIndex) -> str:
    """The word of the value that ties it to the product: spelled as the product spells it when
    it looks like a brand ("AeroPress", "Brompton": not a word of any category), else as the
    customer's word, singular ("grinder")."""
    tokens = tokens_of(value)
    for raw in product_name.split():
        low = singular(raw.casefold())
        for token in tokens:
            if related(token, low):
                generic = low in index.categories or token in index.categories
                return token if generic and raw[1:] == raw[1:].lower() else raw
    return tokens[0]


def _milestone(r: Reader) -> Para | None:
    for fact in r.facts.get("plan", ()):
        if r.context.as_of - fact.said_at > STALE_PLAN:
            continue
        phrase = plan_phrase(fact.value)
        if phrase is None:
            continue
        return Para(
            "milestone",
            (
                BodySentence(f"Good luck {phrase}.", fact_ids=(fact.id,)),
                BodySentence("If there's anything we can do to help, just reply.", personal=False),
            ),
            subject=f"good luck {phrase}",
            preheader="And good luck with what's next.",
        )
    return None


def product_paragraph(r: Reader, *, has_setup: bool) -> Para | None:
    """The post-purchase and win-back paragraph about what they bought."""
    kind, step = r.template.kind, r.template.step
    latest = r.latest()
    if not latest:
        return None
    main = latest[0]
    follow: str | None = None
    named: list[ProductBought] = [main]
    if kind == "win_back":
        # "Your usual": bought more than once (plans aside), and the most of.
        usual = max(
            (p for p in r.bought if not r.is_plan(p)), key=lambda p: p.quantity, default=None
        )
        if usual is not None and usual.quantity >= 2 and r.context.orders.count >= 2:
            text = f"Your usual {usual.name}"
        else:
            usual = main
            text = f"The {usual.name} from your last order"
        named = [usual]
        if r.index.sells(usual.sku):
            text += " is still here whenever you want it."
            subject: str | None = f"your {usual.name} is still here"
        else:
            text = f"If you'd like another {usual.name}, just reply and we'll see what we can do."
            subject = None
        days = r.context.rfm.recency_days
        opener = (
            f"It's been {since(days)} since your last order, so here's a quick hello."
            if days is not None
            else None
        )
        sentences = [BodySentence(text, skus=(usual.sku,))]
        if opener:
            sentences.insert(0, BodySentence(opener, personal=False))
        r.named.add(usual.name.casefold())
        return Para("product", tuple(sentences), tuple(named), subject=subject)
    if step == "d1":
        named = latest[:2]
        text = f"Thanks for ordering {listing([p.name for p in named])}."
        if len(latest) > 2:
            text = f"Thanks for your order, including {listing([p.name for p in named])}."
        follow = "We hope it's all just what you wanted."
        subject = f"thanks for ordering the {main.name}"
    elif step == "d3":
        text = (
            "A few days on from your order, we'd like to help you get the most from the "
            f"{main.name}."
        )
        follow = "Reply with how you're using it, and we'll share what we know."
        subject = f"getting the most from the {main.name}"
    elif step == "d14":
        text = f"How are you getting on with the {main.name}?"
        follow = None if has_setup else "If it's not quite right, tell us and we'll help."
        subject = f"how's the {main.name} working out?"
    else:
        days = max(0, (r.context.as_of - main.last_bought_at).days)
        text = f"It's been {since(days)} since you ordered the {main.name}."
        follow = "If you need more, or something to go with it, just reply."
        subject = f"checking in on the {main.name}"
    for p in named:
        r.named.add(p.name.casefold())
    sentences = [BodySentence(text, skus=tuple(p.sku for p in named))]
    if follow:
        sentences.append(BodySentence(follow, personal=False))
    return Para("product", tuple(sentences), tuple(named), subject=subject)


BUILDERS: dict[str, Callable[[Reader], Para | None]] = {
    "setup": _setup,
    "delivery": _delivery,
    "plans": _plans,
    "thanks": _thanks,
    "business": _business,
    "role": _role,
    "picks": _picks,
    "gear": _gear,
    "milestone": _milestone,
}
