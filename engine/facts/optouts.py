"""Opt-outs: "please don't email me about grinders". Found by patterns in any customer sentence
(the wording is too varied and too important to leave to the parser), and used to keep a topic
out of everything a drafter sees."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

_CONTACT = (
    r"(?:e-?mail(?:ing|s)?|send(?:ing)?|mail(?:ing)?|messag(?:e|ing)|text(?:ing)?|"
    r"contact(?:ing)?|spam(?:ming)?|bother(?:ing)?|notify(?:ing)?|market(?:ing)?\s+to)"
)
_MAIL_NOUNS = (
    r"(?:e-?mails?|offers?|stuff|things|promos?|promotions?|newsletters?|info|deals|ads|"
    r"marketing|mail|messages|updates|texts|spam|advertising|adverts)"
)
_STOP = r"(?:don'?t|do not|dont|stop|quit|no need to|never|not)"
# The topic: up to five words, ending before punctuation or a word that starts a new thought.
_TOPIC = r"(?P<topic>[\w'&/-]+(?:\s+[\w'&/-]+){0,4})"
_TOPIC_THEN_MAIL = r"(?P<topic>[\w'&/-]+(?:\s+[\w'&/-]+){0,4}?)\s+" + _MAIL_NOUNS + r"\b"
PATTERNS: tuple[re.Pattern[str], ...] = (
    # "please don't email me about grinders", "stop sending me offers on subscriptions"
    re.compile(
        r"(?i)\b" + _STOP + r"\s+" + _CONTACT + r"(?:\s+(?:me|us))?(?:\s+(?:any\s?more|again|any))?"
        r"(?:\s+(?:more\s+)?" + _MAIL_NOUNS + r")?(?:\s+(?:any\s?more|again))?\s+"
        r"(?:about|on|for|re|regarding|with|of)\s+" + _TOPIC
    ),
    # "no more emails about subscriptions"
    re.compile(
        r"(?i)\bno\s+(?:more|further)?\s*"
        + _MAIL_NOUNS
        + r"\s+(?:about|on|for|re|regarding|with|of)\s+"
        + _TOPIC
    ),
    # "I don't want to hear about e-bikes", "we don't need any more emails about kids' bikes"
    re.compile(
        r"(?i)\b(?:i|we)\s+(?:don'?t|do not|dont)\s+(?:want|need|wish)\s+(?:to\s+(?:hear|get|"
        r"receive|be\s+(?:e-?mailed|sent|contacted))\s+)?(?:any\s?more\s+|more\s+|any\s+)?(?:"
        + _MAIL_NOUNS
        + r"\s+)?(?:any\s?more\s+)?(?:about|on|regarding|re|for)\s+"
        + _TOPIC
    ),
    # "unsubscribe me from the wholesale emails", "take me off the e-bike list"
    re.compile(
        r"(?i)\b(?:unsubscribe|remove|take)\s+(?:me|us)\s+(?:from|off)\s+(?:the\s+|your\s+|all\s+)?"
        r"(?P<topic>[\w'&/-]+(?:\s+[\w'&/-]+){0,4}?)\s*(?:e-?mails?|list|newsletters?|"
        r"mailing list|updates|promos)\b"
    ),
    # "unsubscribe me from your emails about grinders", "remove me from the list for decaf"
    re.compile(
        r"(?i)\b(?:unsubscribe|remove|take)\s+(?:me|us)\s+(?:from|off)\s+(?:the\s+|your\s+|all\s+|"
        r"any\s+)?(?:e-?mails?|list|newsletters?|mailing list|updates|promos|messages)\s+"
        r"(?:about|on|for|regarding|re)\s+" + _TOPIC
    ),
    # "take me off the marketing list for the sale stuff"
    re.compile(
        r"(?i)\b(?:unsubscribe|remove|take)\s+(?:me|us)\s+(?:from|off)\s+(?:the\s+|your\s+)?"
        r"(?:marketing|mailing|email|e-mail)\s+list\s+(?:for|about|on)\s+" + _TOPIC
    ),
    # "not interested in hearing about subscriptions"
    re.compile(
        r"(?i)\bnot\s+interested\s+in\s+(?:hearing|getting|receiving|any\s?more|more)\s+"
        r"(?:" + _MAIL_NOUNS + r"\s+)?(?:about|on|regarding)?\s*" + _TOPIC
    ),
    # "stop sending me the pos hardware emails"
    re.compile(
        r"(?i)\b" + _STOP + r"\s+send(?:ing)?\s+(?:me|us)\s+(?:any\s?more\s+|more\s+)?(?:the\s+|"
        r"your\s+|any\s+|those\s+|these\s+|all\s+(?:the\s+|those\s+)?)?" + _TOPIC_THEN_MAIL
    ),
    # "no more decaf promos", "stop the wholesale emails"
    re.compile(r"(?i)\bno\s+(?:more|further)\s+" + _TOPIC_THEN_MAIL),
    re.compile(
        r"(?i)\b(?:stop|quit)\s+(?:the|those|these|your|all\s+the|all\s+those|all)\s+"
        + _TOPIC_THEN_MAIL
    ),
)
# "stop emailing me", "unsubscribe me": no topic, so all marketing email.
EVERYTHING = re.compile(
    r"(?i)\b(?:" + _STOP + r"\s+(?:e-?mail(?:ing)?|spamming|contacting)\s+(?:me|us)"
    r"(?:\s+(?:any\s?more|again))?(?=\s*(?:please|pls|thanks|[.!,]|$))|unsubscribe\s+(?:me|us)\b"
    r"(?!\s+from)|take\s+(?:me|us)\s+off\s+(?:your|the)\s+(?:mailing\s+)?list"
    # "unsubscribe me from your emails", "remove me from all of your mailing lists"
    r"|(?:unsubscribe|remove|take)\s+(?:me|us)\s+(?:from|off)\s+(?:all\s+(?:of\s+)?)?"
    r"(?:your|the|these|those|any)?\s*(?:marketing\s+|promotional\s+)?(?:e-?mails?|"
    r"mailing\s+lists?|lists?|newsletters?|promos?|marketing)\b"
    r"(?=\s*(?:please|pls|thanks|[.!,?]|$)))"
)
ALL_MARKETING = "all marketing email"
# Words that end a topic: the start of another thought ("about grinders we don't drink...").
_TOPIC_ENDS = frozenset(
    """
    i im i'm we we're were our my you your they it its it's as because since cause cos coz so
    but and or though thanks thank please pls plz thx ta cheers now anymore any more again ever
    for until till from if when which that this lol haha x xx ok okay not just
    """.split()
)
_LEADING = frozenset({"the", "your", "any", "all", "those", "these", "more", "new", "other"})
_MAIL_WORD = re.compile(r"(?i)^" + _MAIL_NOUNS + r"$")


@dataclass(frozen=True)
class FoundOptOut:
    """A topic the customer asked not to hear about, and where they said so."""

    topic: str
    start: int
    end: int
    rule: str


def clean_topic(topic: str) -> str:
    """The topic's own words: "the grinder emails please" -> "grinder"."""
    words: list[str] = []
    for word in topic.split():
        bare = word.strip("'\"").lower()
        if bare in _TOPIC_ENDS:
            break
        words.append(bare)
    while words and words[0] in _LEADING:
        words.pop(0)
    while words and _MAIL_WORD.match(words[-1]):
        words.pop()
    return " ".join(words[:4])


# Every opt-out pattern needs one of these words; most sentences have none.
_CONTACT_WORDS = re.compile(
    r"(?i)mail|send|messag|text|contact|spam|bother|notif|newsletter|promo|offer|unsubscribe|"
    r"list|hear|marketing|update|deal|ads|advert|stuff|things|info"
)


def find_opt_outs(text: str) -> list[FoundOptOut]:
    """Opt-outs said in a piece of customer text, with the span of the words that say them."""
    found: list[FoundOptOut] = []
    if not _CONTACT_WORDS.search(text):
        return found
    for pattern in PATTERNS:
        for match in pattern.finditer(text):
            topic = clean_topic(match.group("topic"))
            if not topic or _MAIL_WORD.match(topic):
                continue
            end = match.start("topic") + _topic_length(match.group("topic"), topic)
            if match.end() > match.end("topic"):  # "no more decaf promos": keep "promos"
                end = match.end()
            if any(o.start <= match.start() < o.end for o in found):
                continue
            found.append(
                FoundOptOut(topic, match.start(), max(end, match.start() + 1), "opt_out.topic")
            )
    if not found:
        for match in EVERYTHING.finditer(text):
            found.append(FoundOptOut(ALL_MARKETING, match.start(), match.end(), "opt_out.all"))
    return sorted(found, key=lambda o: o.start)


def _topic_length(raw: str, topic: str) -> int:
    """How far into the raw topic text its cleaned words reach."""
    last = topic.split()[-1]
    position = raw.lower().find(last)
    return position + len(last) if position >= 0 else len(raw)


def topic_words(topic: str) -> set[str]:
    """A topic's words, singular: "espresso machines" -> {"espresso", "machine"}."""
    return {_singular(word) for word in re.findall(r"[a-z0-9]+", topic.lower()) if len(word) > 2}


def mentions(text: str, topics: Iterable[str]) -> str | None:
    """The first opted-out topic a text mentions (all of the topic's words), if any."""
    words = topic_words(text)
    for topic in topics:
        if topic == ALL_MARKETING:
            continue
        wanted = topic_words(topic)
        if wanted and wanted <= words:
            return topic
    return None


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word
