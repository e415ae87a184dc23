"""Where a customer or their business is: a town, region or neighbourhood they state about
themselves is kept as a `location`; a street address, someone else's town, a plan to move, a
question or a denial never is."""

import pytest

from engine.facts.extract import FactExtractor

KEPT = [
    ("I'm in Winnipeg", "winnipeg"),
    ("we just moved to Tacoma", "tacoma"),
    ("we're in las cruces", "las cruces"),
    ("we are located in Alamo Heights", "alamo heights"),
    ("we're based in Leeds and I run a florist", "leeds"),
]
NOT_KEPT = [
    "I'm in a hurry",
    "i'm in the middle of a refit",
    "I'm in charge of ordering",
    "I'm in love with the dark roast",
    "we live in fur lol",
    "my daughter lives in Leeds",
    "we're moving to Tacoma next month",
    "we're not in Canada",
    "if we move to Denver we'd need more",
    "are you in London?",
    "I live at [address]",
]


@pytest.mark.parametrize(("text", "place"), KEPT)
def test_a_place_the_customer_says_they_are_is_kept(
    fact_extractor: FactExtractor, text: str, place: str
) -> None:
    facts = fact_extractor.extract([text])[0].facts
    assert ("location", place) in [(f.category, f.value) for f in facts]


@pytest.mark.parametrize("text", NOT_KEPT)
def test_no_location_from_idioms_other_people_plans_questions_or_addresses(
    fact_extractor: FactExtractor, text: str
) -> None:
    facts = fact_extractor.extract([text])[0].facts
    assert [f for f in facts if f.category == "location"] == []


def test_a_street_address_is_blocked_as_personal_data(fact_extractor: FactExtractor) -> None:
    result = fact_extractor.extract(["we're in Leeds, deliver to [address] please"])[0]
    assert [(f.category, f.value) for f in result.facts] == [("location", "leeds")]
    assert result.blocked["pii"] == 1
