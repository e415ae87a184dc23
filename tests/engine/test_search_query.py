"""How a marketer's question is reworded before it is embedded."""

import pytest

from engine.search import focus_query


@pytest.mark.parametrize(
    ("query", "focused"),
    [
        ("which customers are asking about refunds?", "refunds"),
        ("customers whose orders haven't shown up", "orders haven't shown up"),
        ("people who want their money back", "want my money back"),
        ("who says they're moving abroad", "says I'm moving abroad"),
        ("customers buying presents for themselves", "buying presents for myself"),
        ("grinder noise", "grinder noise"),  # nothing to reword
        ("customers", "customers"),  # framing alone is kept rather than left empty
    ],
)
def test_focus_query_speaks_as_the_customer(query: str, focused: str) -> None:
    assert focus_query(query) == focused
