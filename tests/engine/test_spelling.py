"""Spelling: the word list with British spellings and the engine's own words, names as customers
write them, and corrections of a fact's misspelt words only to words the customer wrote or the
catalog holds, never a guess."""

import subprocess
import sys
from collections.abc import Sequence

import pytest

from engine.facts.spelling import (
    FactSpeller,
    correction,
    known,
    unknown_words,
    words,
    written_as_names,
)


@pytest.mark.parametrize(
    "word",
    # English, British spellings and plurals the list lacks, and the engine's own lexicon
    ["beginner", "colour", "favourite", "organised", "centre", "tyres", "cafe", "coworking"],
)
def test_english_words_are_known(word: str) -> None:
    assert known(word)


@pytest.mark.parametrize("word", ["begginer", "replacemnt", "gaggia", "aeropress", "teh"])
def test_misspellings_and_names_are_not_in_the_word_list(word: str) -> None:
    assert not known(word)


def test_words_are_the_letters_a_spell_checker_can_judge() -> None:
    assert words("We're using a hi-vis V60, 128gb, the customer's AeroPress!") == [
        "we're",
        "using",
        "a",
        "hi",
        "vis",
        "the",
        "customer",
        "aeropress",
    ]
    assert unknown_words("a Gaggia and a begginer's guide", vouched={"gaggia"}) == ["begginer"]


def test_names_are_words_written_capitalised_inside_a_sentence_or_in_mixed_case() -> None:
    names = written_as_names(
        [
            "just got a Gaggia. Baratza Encore next",  # "Baratza" starts a sentence
            "Cannondale arrived today",  # the first word of a message: not telling
            "my iPhone and the AeroPress",
            "I NEED THE BIALETTI NOW",  # shouting, not a name
        ]
    )
    assert names == {"gaggia", "encore", "iphone", "aeropress"}


def test_a_correction_is_the_one_word_of_the_pool_a_typo_away() -> None:
    assert correction("begginer", ["beginner", "begin", "finger"]) == "beginner"
    assert correction("aeropres", ["aeropress", "grinder"]) == "aeropress"
    # No guesses: nothing close, two as close, a short word, a new first letter.
    assert correction("begginer", ["grinder"]) is None
    assert correction("cafee", ["cafes", "caffe"]) is None
    assert correction("fone", ["fine", "phone"]) is None
    assert correction("reiver", ["never"]) is None
    # Chat's dropped apostrophe is that contraction, not a neighbour ("want").
    assert correction("wasnt", ["want", "wasn't"]) == "wasn't"
    assert correction("wasnt", ["want"]) is None


def speller(*texts: str, catalog: Sequence[str] = ()) -> FactSpeller:
    return FactSpeller(catalog=lambda: frozenset(catalog), own_texts=lambda: list(texts))


def test_a_misspelt_fact_word_is_corrected_from_the_customers_other_words() -> None:
    mine = speller("im a total begginer", "which one is best for a beginner?")
    assert mine.value("total begginer", quote="im a total begginer") == ("total beginner", [])


def test_a_misspelt_fact_word_is_corrected_to_the_catalogs_word() -> None:
    mine = speller("i use an aeropres go", catalog=["aeropress", "go", "gear"])
    assert mine.value("aeropres go", quote="i use an aeropres go") == ("aeropress go", [])


def test_a_misspelt_word_nothing_corrects_is_reported() -> None:
    mine = speller("im a total begginer")
    assert mine.value("total begginer", quote="im a total begginer") == (
        "total begginer",
        ["begginer"],
    )


def test_a_correction_never_brings_in_someone_else_or_a_sensitive_word() -> None:
    # The correct spellings are the customer's own words, said where the gate blocked them.
    mine = speller("i'm diabetic", "my husband loves it", "i'm a diabetik", "we got a husbnd")
    assert mine.value("diabetik", quote="i'm a diabetik") == ("diabetik", ["diabetik"])
    assert mine.value("husbnd", quote="we got a husbnd") == ("husbnd", ["husbnd"])


def test_brand_names_are_names_when_written_as_names_or_sold_not_otherwise() -> None:
    """A brand is not a typo when the customer capitalised it, or the catalog has it; a word in
    lower case that nothing vouches for is left in doubt (and out of emails)."""
    mine = speller(
        "just got a Gaggia",
        "we love our baratza encore",
        "we use a bialetti every day",
        "I've got the Moka Express",
        "the moka pot leaks",
        catalog=["baratza", "encore", "grinders"],
    )
    assert mine.value("gaggia", quote="just got a Gaggia") == ("gaggia", [])
    assert mine.value("baratza encore", quote="we love our baratza encore") == (
        "baratza encore",
        [],
    )
    # Capitalised in another message: the customer knows it as a name.
    assert mine.value("moka pot", quote="the moka pot leaks") == ("moka pot", [])
    assert mine.value("bialetti", quote="we use a bialetti every day") == ("bialetti", ["bialetti"])
    # The first word of a sentence tells nothing: capitalised anyway.
    first = speller("Gaggia arrived broken")
    assert first.value("gaggia", quote="Gaggia arrived broken") == ("gaggia", ["gaggia"])


def test_english_values_read_nothing_more() -> None:
    """A value of English words needs neither the catalog nor the customer's messages."""

    def unread() -> frozenset[str]:
        raise AssertionError("read")

    quiet = FactSpeller(catalog=unread, own_texts=lambda: list(unread()))
    assert quiet.value("small bakery", quote="I run a small bakery") == ("small bakery", [])


def test_the_word_list_loads_on_first_use_not_on_import() -> None:
    """The light CLI commands import the context module; the word list (0.2 s) waits."""
    code = (
        "import sys, engine.customers.context, engine.drafting.grounding; "
        "print('spellchecker' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
