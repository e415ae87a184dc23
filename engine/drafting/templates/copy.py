"""The versioned template copy: released copy is never edited; a change is a v2 alongside."""

from dataclasses import dataclass

from engine.models import DraftKind

VERSION = "v1"
# The steps of each sequence, days after its anchor (signup, order, last activity).
STEPS: dict[DraftKind, tuple[str, ...]] = {
    "welcome": ("d0", "d3", "d7", "d14"),
    "post_purchase": ("d1", "d3", "d14", "d30"),
    "win_back": ("d90",),
}


@dataclass(frozen=True)
class StepTemplate:
    """One released email of a sequence: what leads it, and the copy that does not depend on the
    customer. Never edited once released; a change is a new version alongside."""

    id: str
    kind: DraftKind
    step: str
    # The personalized lines this step prefers, most wanted first; the first one it can write
    # names the variant.
    priority: tuple[str, ...]
    openers: tuple[str, ...]
    # Said when nothing about the customer fits.
    basics: tuple[str, ...]
    closings: tuple[str, ...]
    # Subject lines (after "Name, " when the name is known), tried in order until one fits.
    subjects: tuple[str, ...]
    preheaders: tuple[str, ...]


def template_id(kind: str, step: str) -> str:
    """The versioned id of a sequence step's template: "welcome.d0.v1"."""
    return f"{kind}.{step}.{VERSION}"


def _ranked(keys: str) -> tuple[str, ...]:
    return tuple(keys.split())


def _template(kind: DraftKind, step: str, **copy: tuple[str, ...]) -> StepTemplate:
    return StepTemplate(id=template_id(kind, step), kind=kind, step=step, **copy)


TEMPLATES: dict[str, StepTemplate] = {
    t.id: t
    for t in (
        _template(
            "welcome",
            "d0",
            priority=_ranked("setup delivery plans business picks gear role milestone thanks"),
            openers=(
                "Thanks for signing up with {biz}. We're glad you're here.",
                "Thanks for joining us at {biz}. It's good to have you with us.",
            ),
            basics=(
                "If you're not sure where to start, reply with what you're looking for and "
                "we'll point you the right way.",
            ),
            closings=(
                "Questions? Just reply to this email and we'll help.",
                "If you ever need a hand, just reply. We read every email.",
            ),
            subjects=("welcome to {biz}", "welcome"),
            preheaders=(
                "A quick hello from {biz}, and how to get help fast.",
                "Hello from {biz}. Here's how to get help when you need it.",
            ),
        ),
        _template(
            "welcome",
            "d3",
            priority=_ranked("picks gear plans business setup delivery role milestone thanks"),
            openers=(
                "A few days in, here's a quick pointer or two from {biz}.",
                "Here's a short note to help you find your way around {biz}.",
            ),
            basics=(
                "If you're not sure where to start, reply with what you're after and we'll "
                "suggest something.",
            ),
            closings=(
                "That's all for now. Reply any time if you need something.",
                "Any questions? Just reply and we'll help.",
            ),
            subjects=("a couple of pointers", "a quick pointer"),
            preheaders=(
                "Not sure where to start? We'll point you the right way.",
                "A few pointers to help you find your way around.",
            ),
        ),
        _template(
            "welcome",
            "d7",
            priority=_ranked("setup gear delivery picks plans business role milestone thanks"),
            openers=(
                "You've been with us a week now, so here's how to get help when you need it.",
                "A week in, here's the quickest way to get help from {biz}.",
            ),
            basics=(
                "The fastest way to get an answer is to reply to this email with your question.",
            ),
            closings=("We're here when you need us.", "Talk soon."),
            subjects=("help is one reply away", "need a hand?"),
            preheaders=(
                "The quickest way to get an answer from {biz}.",
                "Got a question? A reply is all it takes.",
            ),
        ),
        _template(
            "welcome",
            "d14",
            priority=_ranked("plans business milestone role picks gear setup delivery thanks"),
            openers=(
                "Here's the last of our welcome notes, so we'll keep it short.",
                "This is the last note in our welcome series, and it's a short one.",
            ),
            basics=(
                "If there's something you'd like us to stock, or a question we haven't "
                "answered, just reply.",
            ),
            closings=("Thanks for being here.", "Thanks for reading, and talk soon."),
            subjects=("one last welcome note", "one last note"),
            preheaders=(
                "The last of our welcome notes, and a short one.",
                "One more note from {biz}, then we'll leave you be.",
            ),
        ),
        _template(
            "post_purchase",
            "d1",
            priority=_ranked("delivery setup thanks business gear picks plans role milestone"),
            openers=(
                "Thanks for your order, and for choosing {biz}.",
                "Thanks for your order. It means a lot to a shop like ours.",
            ),
            basics=(
                "If anything's not right when it arrives, reply to this email and we'll sort it.",
            ),
            closings=("Enjoy, and talk soon.", "Talk soon."),
            subjects=("thanks for your order", "thank you"),
            preheaders=("A quick thank-you from {biz}.", "Thank you, from all of us at {biz}."),
        ),
        _template(
            "post_purchase",
            "d3",
            priority=_ranked("setup gear picks delivery business thanks plans role milestone"),
            openers=(
                "A few days on from your order, here's a quick check-in.",
                "Your order has had a few days to settle in, so here's a quick check-in.",
            ),
            basics=(
                "If you'd like tips on anything you ordered, reply and we'll share what we know.",
            ),
            closings=("Enjoy.", "Talk soon."),
            subjects=("getting the most from your order", "a quick check-in"),
            preheaders=(
                "Help getting the most from your order.",
                "Questions about your order? We're one reply away.",
            ),
        ),
        _template(
            "post_purchase",
            "d14",
            priority=_ranked("picks thanks business gear setup plans delivery role milestone"),
            openers=(
                "How are you getting on with your order?",
                "It's been a couple of weeks since your order, so here's a quick check-in.",
            ),
            basics=("If there's anything you'd change about your order, just reply and tell us.",),
            closings=("Thanks for shopping with us.", "Talk soon."),
            subjects=("how's it going?", "a quick check-in"),
            preheaders=(
                "A quick check-in from {biz}.",
                "Two weeks on: how's everything working out?",
            ),
        ),
        _template(
            "post_purchase",
            "d30",
            priority=_ranked("plans picks business milestone gear thanks setup delivery role"),
            openers=(
                "It's been about a month since your order, so here's a quick check-in.",
                "A month on from your order, here's a short note from {biz}.",
            ),
            basics=("If you'd like to order again, just reply and we'll make it easy.",),
            closings=("Thanks for being a customer.", "Talk soon."),
            subjects=("a quick check-in", "checking in"),
            preheaders=(
                "A month on, a quick note from {biz}.",
                "Running low? Ordering again takes one reply.",
            ),
        ),
        _template(
            "win_back",
            "d90",
            priority=_ranked("picks setup delivery plans business thanks milestone gear role"),
            openers=(
                "It's been a while, so here's a quick hello from {biz}.",
                "We haven't heard from you in a while, so here's a quick hello.",
            ),
            basics=(
                "If something put you off last time, we'd like to hear it. Just reply and tell us.",
            ),
            closings=(
                "Either way, we're here if you need us.",
                "Hope to hear from you soon.",
            ),
            subjects=("it's been a while", "been a while"),
            preheaders=(
                "A quick hello from {biz}.",
                "Just a quick hello, nothing more, from {biz}.",
            ),
        ),
    )
}
