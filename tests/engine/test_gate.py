"""The surveillance gate on real chat sentences: only first-person, affirmative, factual,
non-sensitive statements without PII become facts, and blocked words never reach a quote."""

import re
from collections.abc import Iterable

import pytest

from engine.facts.extract import Extraction, FactExtractor, StatedFact
from engine.facts.gate import blocked_without_parsing
from engine.text.redact import PLACEHOLDERS, redact


def extract(fact_extractor: FactExtractor, raw: str) -> tuple[str, Extraction]:
    """Redact a customer message as the product does and extract from it."""
    text = redact(raw).text
    return text, fact_extractor.extract([text])[0]


def mentions(said: str, word: str) -> bool:
    """Whether `said` holds `word` (a word or phrase) as whole words, ignoring case."""
    return re.search(r"(?<!\w)" + re.escape(word.lower()) + r"(?!\w)", said.lower()) is not None


def leaks(facts: Iterable[StatedFact], words: Iterable[str]) -> list[tuple[str, StatedFact]]:
    """The kept facts whose quote or value holds one of the blocked words, with the word."""
    return [
        (word, fact)
        for fact in facts
        for word in words
        if mentions(fact.quote, word) or mentions(fact.value, word)
    ]


def assert_spans(text: str, result: Extraction) -> None:
    """Every kept fact quotes the message verbatim at its own span."""
    for fact in result.facts:
        assert text[fact.start : fact.end] == fact.quote, fact


def with_keyword(result: Extraction, category: str, keyword: str) -> list[StatedFact]:
    """Kept facts of a category whose quote holds the keyword."""
    return [f for f in result.facts if f.category == category and keyword in f.quote.lower()]


# (message, reason, distinctive blocked words, whether the reason is clear enough to count)
BLOCKED = [
    # pii
    pytest.param(
        "i live at 14 baker street so just leave it with the neighbour",
        "pii",
        ("baker street", "[address]", "14"),
        True,
        id="pii-live-at-address",
    ),
    pytest.param(
        "we moved to 7 mill lane, bristol last month",
        "pii",
        ("mill lane", "bristol", "[address]"),
        True,
        id="pii-moved-to-address",
    ),
    pytest.param(
        "i paid with my card ending 4242 and it took the money twice",
        "pii",
        ("4242", "[card]"),
        False,
        id="pii-card-ending",
    ),
    pytest.param(
        "we're at 22 church road now so send the next order there",
        "pii",
        ("church road", "[address]"),
        True,
        id="pii-we-are-at-address",
    ),
    pytest.param(
        "my email is sarah.k@gmail.com if you need it for the invoice",
        "pii",
        ("sarah.k", "gmail", "[email]"),
        False,
        id="pii-email",
    ),
    pytest.param(
        "you can call me on 07700 900123 im in the shop till 5",
        "pii",
        ("07700", "900123", "[phone]"),
        False,
        id="pii-phone",
    ),
    # sensitive: health
    pytest.param(
        "im going through chemo at the moment so go easy on the strong roasts",
        "sensitive",
        ("chemo",),
        True,
        id="sensitive-health-chemo",
    ),
    pytest.param(
        "i have really bad anxiety so phone calls are a no from me",
        "sensitive",
        ("anxiety",),
        True,
        id="sensitive-health-anxiety",
    ),
    pytest.param(
        "im diabetic so i always check the sugar in the treats",
        "sensitive",
        ("diabetic", "sugar"),
        True,
        id="sensitive-health-diabetic",
    ),
    pytest.param(
        "i use the gentle shampoo cause of my eczema",
        "sensitive",
        ("eczema",),
        True,
        id="sensitive-health-eczema",
    ),
    # sensitive: pregnancy
    pytest.param(
        "im pregnant so its decaf only for me till august",
        "sensitive",
        ("pregnant",),
        True,
        id="sensitive-pregnancy",
    ),
    # sensitive: religion
    pytest.param(
        "im muslim so i only buy halal treats for the shop dog",
        "sensitive",
        ("muslim", "halal"),
        True,
        id="sensitive-religion-muslim",
    ),
    pytest.param(
        "we're catholic and we go to mass every sunday so we collect flowers saturday",
        "sensitive",
        ("catholic", "mass"),
        True,
        id="sensitive-religion-catholic",
    ),
    # sensitive: politics
    pytest.param(
        "im a labour party member and i canvass most weekends",
        "sensitive",
        ("labour party", "canvass"),
        True,
        id="sensitive-politics",
    ),
    # sensitive: sexuality
    pytest.param(
        "im gay and i love the pride range you did last june",
        "sensitive",
        ("gay",),
        True,
        id="sensitive-sexuality",
    ),
    # sensitive: ethnicity
    pytest.param(
        "im nigerian so i like my food properly spicy",
        "sensitive",
        ("nigerian",),
        True,
        id="sensitive-ethnicity",
    ),
    # sensitive: union membership
    pytest.param(
        "im a union rep at the depot so i order the big coffee tins for the break room",
        "sensitive",
        ("union",),
        True,
        id="sensitive-union",
    ),
    # sensitive: money trouble / job loss
    pytest.param(
        "i lost my job last month so money is really tight right now",
        "sensitive",
        ("lost my job", "money is really tight"),
        True,
        id="sensitive-job-loss",
    ),
    pytest.param(
        "im in a lot of debt at the moment so i cant do the pricier bags",
        "sensitive",
        ("debt",),
        True,
        id="sensitive-debt",
    ),
    # sensitive: divorce / bereavement
    pytest.param(
        "im going through a divorce so i need the subscription in just my name",
        "sensitive",
        ("divorce",),
        True,
        id="sensitive-divorce",
    ),
    pytest.param(
        "i was widowed last year and i still buy the lilies every week",
        "sensitive",
        ("widowed",),
        True,
        id="sensitive-bereavement",
    ),
    # sensitive: criminal record
    pytest.param(
        "i have a criminal record so nobody would hire me, now i do dog walking",
        "sensitive",
        ("criminal record",),
        True,
        id="sensitive-criminal-record",
    ),
    # third party
    pytest.param(
        "my husband drinks oat milk lattes every morning",
        "third_party",
        ("husband", "oat milk"),
        True,
        id="third-party-husband",
    ),
    pytest.param(
        "my kids love the rainbow sprinkle cupcakes",
        "third_party",
        ("kids", "rainbow", "cupcakes"),
        True,
        id="third-party-kids",
    ),
    pytest.param(
        "my boss uses the card reader all day long",
        "third_party",
        ("boss", "card reader"),
        True,
        id="third-party-boss",
    ),
    pytest.param(
        "sarah runs the salon on saturdays",
        "third_party",
        ("sarah", "salon"),
        True,
        id="third-party-named-person",
    ),
    pytest.param(
        "my girlfriend has a golden retriever and a cockapoo",
        "third_party",
        ("girlfriend", "retriever", "cockapoo"),
        True,
        id="third-party-girlfriend",
    ),
    pytest.param(
        "my friends are all really into gravel bikes",
        "third_party",
        ("friends", "gravel"),
        True,
        id="third-party-friends",
    ),
    pytest.param(
        "i bought the harness for jake",
        "third_party",
        ("jake",),
        True,
        id="third-party-for-a-name",
    ),
    # question
    pytest.param(
        "should i get the 1kg bag or the 250g one",
        "question",
        ("1kg", "250g"),
        True,
        id="question-should-i",
    ),
    pytest.param(
        "am i on the monthly plan or the yearly one?",
        "question",
        ("monthly", "yearly"),
        True,
        id="question-am-i",
    ),
    pytest.param(
        "do we need a bigger cage for two rabbits?",
        "question",
        ("cage", "rabbits"),
        True,
        id="question-do-we",
    ),
    pytest.param(
        "can i use the purple shampoo on bleached hair",
        "question",
        ("purple shampoo", "bleached"),
        True,
        id="question-can-i",
    ),
    pytest.param(
        "have i ordered the medium harness or the large",
        "question",
        ("harness",),
        True,
        id="question-have-i",
    ),
    # hypothetical
    pytest.param(
        "if you ever do oat milk i'd switch in a heartbeat",
        "hypothetical",
        ("if you ever", "oat milk", "switch"),
        True,
        id="hypothetical-if-you-ever",
    ),
    pytest.param(
        "maybe ill get a second chair for the salon next year",
        "hypothetical",
        ("second chair",),
        True,
        id="hypothetical-maybe",
    ),
    pytest.param(
        "i wish i had a proper espresso machine at home",
        "hypothetical",
        ("espresso machine",),
        True,
        id="hypothetical-wish",
    ),
    pytest.param(
        "when i ever get a bigger flat ill get a cat",
        "hypothetical",
        ("cat", "bigger flat"),
        True,
        id="hypothetical-when-i-ever",
    ),
    pytest.param(
        "we might open a second shop in leeds",
        "hypothetical",
        ("second shop", "leeds"),
        True,
        id="hypothetical-might",
    ),
    pytest.param(
        "i would buy the cargo bike if it came in green",
        "hypothetical",
        ("cargo bike", "green"),
        True,
        id="hypothetical-would-if",
    ),
    pytest.param(
        "im not sure i like the new blend",
        "hypothetical",
        ("new blend",),
        True,
        id="hypothetical-not-sure",
    ),
    # negated
    pytest.param(
        "i dont have a dog, the food was a gift for my sister",
        "negated",
        ("dog",),
        True,
        id="negated-dont-have",
    ),
    pytest.param(
        "im not a hairdresser just buying for myself",
        "negated",
        ("hairdresser",),
        True,
        id="negated-not-a",
    ),
    pytest.param(
        "i never use the app",
        "negated",
        ("app",),
        True,
        id="negated-never",
    ),
    pytest.param(
        "i no longer ride road bikes",
        "negated",
        ("road bikes",),
        True,
        id="negated-no-longer",
    ),
    pytest.param(
        "we dont run a cafe its only a little kiosk at the market",
        "negated",
        ("cafe",),
        True,
        id="negated-dont-run",
    ),
]
COUNTED = [case for case in BLOCKED if case.values[3]]


@pytest.mark.parametrize(("raw", "reason", "blocked_words", "counted"), BLOCKED)
def test_blocked_words_never_reach_a_fact(
    fact_extractor: FactExtractor,
    raw: str,
    reason: str,
    blocked_words: tuple[str, ...],
    counted: bool,
) -> None:
    """No kept fact quotes or names what the gate must block."""
    text, result = extract(fact_extractor, raw)
    assert_spans(text, result)
    assert not leaks(result.facts, blocked_words), (result.facts, result.blocked)


@pytest.mark.parametrize(("raw", "reason", "blocked_words", "counted"), COUNTED)
def test_blocked_candidates_are_counted_by_reason(
    fact_extractor: FactExtractor,
    raw: str,
    reason: str,
    blocked_words: tuple[str, ...],
    counted: bool,
) -> None:
    """A clear candidate the gate blocks is counted under its reason."""
    _, result = extract(fact_extractor, raw)
    assert result.blocked[reason] >= 1, (result.facts, result.blocked)


KEPT = [
    # business
    pytest.param(
        "i run a little dog grooming salon in town", "business", "salon", id="business-salon"
    ),
    pytest.param("we own a bike repair shop", "business", "bike", id="business-bike-shop"),
    pytest.param("we run a cafe near the station", "business", "cafe", id="business-cafe"),
    pytest.param(
        "hiya i own a nail bar in the arcade", "business", "nail bar", id="business-nails"
    ),
    # chat's "ill" is "I'll" whatever the verb; "its" is "it's", a thing, not a person
    pytest.param("sounds good, ill pop in friday to try it", "plan", "pop in", id="plan-ill"),
    pytest.param(
        "i ride a synapse, its always felt a bit stretched out",
        "pain_point",
        "stretched",
        id="pain-its",
    ),
    pytest.param("we're all about the espresso", "preference", "espresso", id="pref-all-about"),
    # role
    pytest.param("im a barista at a small roastery", "role", "barista", id="role-barista"),
    pytest.param("im a dog groomer", "role", "groomer", id="role-groomer"),
    pytest.param("i work as a florist", "role", "florist", id="role-florist"),
    pytest.param("im the head mechanic at the shop", "role", "mechanic", id="role-mechanic"),
    # uses
    pytest.param("i use the aeropress every morning", "uses", "aeropress", id="uses-aeropress"),
    pytest.param("we use your argan shampoo in the salon", "uses", "shampoo", id="uses-shampoo"),
    pytest.param("i ride a specialized allez", "uses", "allez", id="uses-bike"),
    pytest.param("just got a gaggia classic", "uses", "gaggia", id="uses-just-got"),
    # preference
    pytest.param("im loving the ethiopian beans", "preference", "ethiopian", id="pref-beans"),
    pytest.param("i prefer oat milk in my flat white", "preference", "oat", id="pref-oat"),
    pytest.param("my fav is the lavender soap", "preference", "lavender", id="pref-fav"),
    pytest.param(
        "i love the peonies you had last week", "preference", "peonies", id="pref-peonies"
    ),
    # plan
    pytest.param("we're getting a puppy next week", "plan", "puppy", id="plan-puppy"),
    pytest.param("im opening a second salon in march", "plan", "salon", id="plan-salon"),
    pytest.param(
        "im planning to switch to the monthly subscription", "plan", "monthly", id="plan-switch"
    ),
    pytest.param("im doing a 100k sportive in september", "plan", "sportive", id="plan-sportive"),
    # pain point
    pytest.param(
        "the card reader keeps dropping the connection", "pain_point", "reader", id="pain-reader"
    ),
    pytest.param(
        "the grinder wont turn on since yesterday", "pain_point", "grinder", id="pain-wont"
    ),
    pytest.param("my chain keeps slipping on the big cog", "pain_point", "chain", id="pain-chain"),
    pytest.param(
        "the reader won't pair with my phone", "pain_point", "reader", id="pain-wont-pair"
    ),
    # interest
    pytest.param(
        "im looking for a good clipper for thick coats",
        "interest",
        "clipper",
        id="interest-clipper",
    ),
    pytest.param("i need a bigger grinder for the shop", "interest", "grinder", id="interest-need"),
    pytest.param(
        "we're interested in your wholesale beans", "interest", "wholesale", id="interest-wholesale"
    ),
    pytest.param("i want a helmet with a rear light", "interest", "helmet", id="interest-helmet"),
    # opt-out
    pytest.param(
        "please dont email me about grinders", "opt_out", "grinders", id="optout-grinders"
    ),
    pytest.param(
        "no more emails about subscriptions please", "opt_out", "subscriptions", id="optout-subs"
    ),
    pytest.param(
        "can you stop sending me the cat food promos", "opt_out", "cat food", id="optout-promos"
    ),
    pytest.param(
        "unsubscribe me from the e-bike emails pls", "opt_out", "e-bike", id="optout-unsubscribe"
    ),
    pytest.param(
        "Please unsubscribe me from your emails.", "opt_out", "your emails", id="optout-all-yours"
    ),
    pytest.param(
        "unsubscribe me from your emails about grinders",
        "opt_out",
        "grinders",
        id="optout-unsubscribe-about",
    ),
    pytest.param(
        "can you remove me from all of your mailing lists?",
        "opt_out",
        "mailing lists",
        id="optout-all-lists",
    ),
]


@pytest.mark.parametrize(("raw", "category", "keyword"), KEPT)
def test_facts_said_about_oneself_are_kept(
    fact_extractor: FactExtractor, raw: str, category: str, keyword: str
) -> None:
    """A plain first-person statement becomes a fact of its category, quoted verbatim."""
    text, result = extract(fact_extractor, raw)
    assert_spans(text, result)
    assert with_keyword(result, category, keyword), (result.facts, result.blocked)


def test_opt_out_value_is_the_topic(fact_extractor: FactExtractor) -> None:
    """An opt-out's value names the topic the customer does not want to hear about."""
    _, result = extract(fact_extractor, "please dont email me about grinders")
    assert [f.value for f in result.facts if f.category == "opt_out"] == ["grinders"]


# (message, kept category, kept keyword, blocked words, blocked reason)
MIXED = [
    pytest.param(
        "i run a bakery and since the chemo i cant taste much",
        "business",
        "bakery",
        ("chemo", "taste"),
        "sensitive",
        id="bakery-chemo",
    ),
    pytest.param(
        "we run a dog grooming salon, my wife does most of the cutting",
        "business",
        "salon",
        ("wife", "cutting"),
        "third_party",
        id="salon-wife",
    ),
    pytest.param(
        "im a barista but my boyfriend hates coffee lol",
        "role",
        "barista",
        ("boyfriend", "hates"),
        "third_party",
        id="barista-boyfriend",
    ),
    pytest.param(
        "i use the aeropress at home, should i get the fine grind?",
        "uses",
        "aeropress",
        ("fine grind", "should"),
        "question",
        id="aeropress-question",
    ),
    pytest.param(
        "we own a bike shop and if you ever do trade prices we'd stock your tyres",
        "business",
        "bike shop",
        ("if you ever", "trade prices", "tyres"),
        "hypothetical",
        id="bike-shop-if-ever",
    ),
    pytest.param(
        "i love the peonies but i dont like roses at all",
        "preference",
        "peonies",
        ("roses",),
        "negated",
        id="peonies-not-roses",
    ),
    pytest.param(
        "im a hairdresser and im pregnant so i have to be careful with the bleach",
        "role",
        "hairdresser",
        ("pregnant", "bleach"),
        "sensitive",
        id="hairdresser-pregnant",
    ),
    pytest.param(
        "the grinder keeps jamming and my boss blames me for it",
        "pain_point",
        "grinder",
        ("boss", "blames"),
        "third_party",
        id="grinder-boss",
    ),
    pytest.param(
        "we run a small pet shop and honestly we are drowning in debt",
        "business",
        "pet shop",
        ("debt", "drowning"),
        "sensitive",
        id="pet-shop-debt",
    ),
    pytest.param(
        "i run a cafe but money is tight",
        "business",
        "cafe",
        ("money", "tight"),
        "sensitive",
        id="cafe-money-tight",
    ),
    pytest.param(
        "i run a cafe and im broke",
        "business",
        "cafe",
        ("broke",),
        "sensitive",
        id="cafe-broke",
    ),
]


@pytest.mark.parametrize(("raw", "category", "keyword", "blocked_words", "reason"), MIXED)
def test_mixed_sentence_keeps_only_the_fact_clause(
    fact_extractor: FactExtractor,
    raw: str,
    category: str,
    keyword: str,
    blocked_words: tuple[str, ...],
    reason: str,
) -> None:
    """The kept fact's quote holds its own clause, never the blocked words beside it."""
    text, result = extract(fact_extractor, raw)
    assert_spans(text, result)
    assert not leaks(result.facts, blocked_words), (result.facts, result.blocked)
    assert with_keyword(result, category, keyword), (result.facts, result.blocked)
    assert result.blocked[reason] >= 1, (result.facts, result.blocked)


# (message, kept category, kept keyword, raw PII substrings)
WITH_PII = [
    pytest.param(
        "im a dog groomer, my email is jess.grooms@outlook.com for the invoice",
        "role",
        "groomer",
        ("jess.grooms", "outlook.com"),
        id="email",
    ),
    pytest.param(
        "we run a cafe on the corner, ring me on 0161 496 0000 after 3",
        "business",
        "cafe",
        ("0161", "496 0000"),
        id="phone",
    ),
    pytest.param(
        "i run a bike shop at 14 mill lane, leeds",
        "business",
        "bike shop",
        ("14 mill lane", "mill lane", "leeds"),
        id="address",
    ),
    pytest.param(
        "i own a nail bar and paid with the card ending 4242",
        "business",
        "nail bar",
        ("4242",),
        id="card-ending",
    ),
    pytest.param(
        "i love the lavender soap, my card number is 4000 0566 5566 5556 if you need it",
        "preference",
        "lavender",
        ("4000 0566", "5556"),
        id="card-number",
    ),
    pytest.param(
        "im a nail tech, jo@nails.co.uk or 07700 900456, the salon is at 3 high street, "
        "card ending 1881",
        "role",
        "nail tech",
        ("jo@nails", "07700", "900456", "3 high street", "1881"),
        id="everything",
    ),
]


@pytest.mark.parametrize(("raw", "category", "keyword", "secrets"), WITH_PII)
def test_pii_never_reaches_a_fact(
    fact_extractor: FactExtractor,
    raw: str,
    category: str,
    keyword: str,
    secrets: tuple[str, ...],
) -> None:
    """No quote or value holds raw PII or a redaction placeholder."""
    text, result = extract(fact_extractor, raw)
    assert_spans(text, result)
    for fact in result.facts:
        for said in (fact.quote.lower(), fact.value.lower()):
            assert not any(secret in said for secret in secrets), fact
            assert not any(p in said for p in PLACEHOLDERS.values()), fact


@pytest.mark.parametrize(("raw", "category", "keyword", "secrets"), WITH_PII)
def test_fact_beside_pii_is_kept(
    fact_extractor: FactExtractor,
    raw: str,
    category: str,
    keyword: str,
    secrets: tuple[str, ...],
) -> None:
    """The fact said next to PII is still kept, quoted without it."""
    _, result = extract(fact_extractor, raw)
    assert with_keyword(result, category, keyword), (result.facts, result.blocked)


# (message, blocked words): what someone else says the customer needs is not the customer's fact.
HEARSAY = [
    pytest.param("my boss says we need a bigger grinder", ("grinder",), id="boss-says"),
    pytest.param("we need a bigger grinder, my boss says", ("grinder",), id="boss-says-after"),
    pytest.param(
        "my wife thinks we should get the monthly beans subscription",
        ("subscription", "monthly"),
        id="wife-thinks",
    ),
    pytest.param("my mate reckons i need a new chain", ("chain",), id="mate-reckons"),
    pytest.param(
        "the vet said we need the grain free kibble", ("kibble", "grain free"), id="vet-said"
    ),
    pytest.param("our vet says we need the senior dog food", ("senior dog food",), id="vet-says"),
    pytest.param(
        "the groomer said we need the deshedding brush", ("deshedding",), id="groomer-said"
    ),
    pytest.param(
        "my hairdresser reckons i need the purple shampoo",
        ("purple shampoo",),
        id="hairdresser-reckons",
    ),
    pytest.param("my coach says i need a power meter", ("power meter",), id="coach-says"),
    pytest.param(
        "my business partner wants us to switch to your oat milk",
        ("oat milk", "switch"),
        id="partner-wants",
    ),
    pytest.param(
        "sarah told me i should try the keratin treatment", ("keratin",), id="sarah-told-me"
    ),
]


@pytest.mark.parametrize(("raw", "blocked_words"), HEARSAY)
def test_what_others_say_we_need_is_third_party(
    fact_extractor: FactExtractor, raw: str, blocked_words: tuple[str, ...]
) -> None:
    """Someone else's view of what the customer needs is blocked as third party."""
    text, result = extract(fact_extractor, raw)
    assert_spans(text, result)
    assert not leaks(result.facts, blocked_words), (result.facts, result.blocked)
    assert result.blocked["third_party"] >= 1, (result.facts, result.blocked)


# (message, category, keyword in the value)
REPEATED = [
    pytest.param(
        "i run a bakery. yeah like i said i run a bakery so we go through a lot of flour",
        "business",
        "bakery",
        id="business-twice",
    ),
    pytest.param(
        "i love the ethiopian beans, honestly i love the ethiopian beans so much",
        "preference",
        "ethiopian",
        id="preference-twice",
    ),
    pytest.param(
        "the card reader keeps dropping out. seriously the card reader keeps dropping out",
        "pain_point",
        "reader",
        id="pain-twice",
    ),
    pytest.param(
        "please dont email me about grinders. again, dont email me about grinders",
        "opt_out",
        "grinders",
        id="opt-out-twice",
    ),
]


@pytest.mark.parametrize(("raw", "category", "keyword"), REPEATED)
def test_a_fact_said_twice_is_kept_once(
    fact_extractor: FactExtractor, raw: str, category: str, keyword: str
) -> None:
    """The same fact repeated in one message is one fact."""
    text, result = extract(fact_extractor, raw)
    assert_spans(text, result)
    same = [f for f in result.facts if f.category == category and keyword in f.value.lower()]
    assert len(same) == 1, (result.facts, result.blocked)


@pytest.mark.parametrize(
    ("raw", "pain"),
    [
        ("it tastes like brown sugar and cherries in the aeropress", False),
        ("the last bag tastes bitter", True),
        ("the coffee smells burnt", True),
        ("the new grinder sounds lovely", False),
    ],
)
def test_a_sense_is_trouble_only_with_a_word_of_trouble(
    fact_extractor: FactExtractor, raw: str, pain: bool
) -> None:
    """How something tastes or smells is a pain point only when the word says so."""
    _, result = extract(fact_extractor, raw)
    assert any(f.category == "pain_point" for f in result.facts) is pain, result.facts


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("full service please, i want it done properly", None),
        ("i meant the front one", None),
        ("i dont like the red one", "negated"),
        ("we cant make it", "negated"),
        ("i won't be in", "negated"),
    ],
)
def test_sentences_not_parsed_are_negated_only_by_a_negation(
    sentence: str, reason: str | None
) -> None:
    """Counting by words: "want", "meant" and "front" end in "nt" but negate nothing."""
    assert blocked_without_parsing(sentence) == reason


THING_CATEGORIES = ("business", "role", "uses", "preference", "interest")


@pytest.mark.parametrize(
    "raw",
    [
        # a number word, a determiner, an indefinite, a pronoun: no thing named
        "I've got two",
        "i only got 6",
        "we got a few",
        "I want more",
        "need 4 of them",
        "I need something done about this",
        "I need the stuff I ordered!",
        "i want the item",
        # a measure without what it measures
        "I'll try a bag",
        "I'll grab a bag of each",
        # a word describing an anaphoric "one": which one is not said
        "I use the cone one",
        "i want the samsung one",
        "I got the 16gb one yesterday",
        "personally i love the black ones",
        "I'm after a new one",
        # a fragment: the parser lost the noun, or the quote cut it off
        "i bought a hi vis tabard",
        "I got a cheap, flimsy plastic set",
    ],
)
def test_a_value_that_names_no_thing_is_not_kept(fact_extractor: FactExtractor, raw: str) -> None:
    """A kept value is a thing a person would recognise; a candidate whose value is not one is
    dropped, and not counted as blocked (the gate did not block it: nothing was found)."""
    _, result = extract(fact_extractor, raw)
    assert [f for f in result.facts if f.category in THING_CATEGORIES] == []
    assert not result.blocked


@pytest.mark.parametrize(
    ("raw", "category", "value"),
    [
        ("I'm looking for something small", "interest", "something small"),
        ("just want something smooth", "interest", "something smooth"),
        ("I'll take a bag of the Colombian", "interest", "bag of colombian"),
        ("we own two barbershops in queens", "business", "two barbershops"),
        ("ive got 3 bikes in the house", "uses", "3 bikes"),
        ("we brew with a cone", "uses", "cone"),
        ("think youve got me mixed up, i run a tattoo shop lol", "business", "tattoo shop"),
    ],
)
def test_a_number_an_indefinite_or_a_measure_with_its_thing_is_kept(
    fact_extractor: FactExtractor, raw: str, category: str, value: str
) -> None:
    """What says what the thing is keeps the value: "something small", "a bag of the Colombian",
    "two barbershops"; a filler the parser took for the noun ("lol") does not lose the shop."""
    _, result = extract(fact_extractor, raw)
    assert [(f.category, f.value) for f in result.facts] == [(category, value)]


@pytest.mark.parametrize(
    "text",
    [
        "I'm type 1 diabetic and need to keep my pump stuff dry on the water",
        "we're fasting and need the order before sunset",
    ],
)
def test_what_the_customer_joins_to_something_sensitive_is_blocked_with_it(
    fact_extractor: FactExtractor, text: str
) -> None:
    result = fact_extractor.extract([text])[0]
    assert result.facts == []
    assert result.blocked["sensitive"] >= 1


def test_someone_elses_sensitive_clause_does_not_block_the_customers_own(
    fact_extractor: FactExtractor,
) -> None:
    result = fact_extractor.extract(["I run a bakery and my son has asthma"])[0]
    assert [(f.category, f.value) for f in result.facts] == [("business", "bakery")]
    assert "asthma" not in " ".join(f.quote for f in result.facts)
