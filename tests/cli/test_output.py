"""How the command line prints reports."""

from rich.console import Console

from cli.output import print_fact_eval


def test_fact_eval_prints_phrase_and_word_leaks_apart() -> None:
    """A word leak is listed under its own count, with the phrase it came from, and does not
    turn the phrase-leak verdict red."""
    out = Console(record=True, width=200)
    print_fact_eval(
        out,
        {
            "transcripts": 1,
            "customers": 1,
            "leaks": 0,
            "leaked": [],
            "word_leaks": 1,
            "word_leaked": [
                {
                    "word": "mosque",
                    "found": "mosque",
                    "text": "getting to the mosque",
                    "reason": "sensitive",
                    "customer": "c1",
                    "field": "facts[0].quote",
                }
            ],
            "recall": 1.0,
            "found": 1,
            "allowed": 1,
            "recall_by_category": {},
            "forbidden_by_reason": {},
            "blocked_by_reason": {},
        },
    )
    text = out.export_text()
    assert "0 leaks; recall of allowed facts 1.000 (1/1)" in text
    assert "1 word leaks" in text
    assert "'mosque' of 'getting to the mosque', as 'mosque' in c1.facts[0].quote" in text
