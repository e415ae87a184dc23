"""Reading an erasure's audit row back (the console's confirmation after forgetting someone):
what went and who did it, and never whose it was."""

from engine.customers.erasure import forget_customer, get_erasure
from engine.runtime import Services
from tests.builders import chat, customer, fact, order


def test_the_audit_row_of_an_erasure_reads_back_what_went_and_names_nobody(
    services: Services,
) -> None:
    db = services.db
    customer(db, "gone-42", first_name="Marisol")
    chat(db, "gone-42", days_ago=3)
    fact(db, "gone-42", "business", "small bakery", "I run a small bakery")
    order(db, "o-1", "gone-42", days_ago=5)
    report = forget_customer(
        db=db, store=services.store, customer_id="gone-42", actor="owner (console)"
    )
    with db.read() as session:
        read = get_erasure(session, erasure_id=report.audit_id)
    assert read is not None
    assert read.id == report.audit_id
    assert read.actor == "owner (console)"
    assert read.removed == report.removed
    assert read.removed["customers"] == 1
    assert read.removed["facts"] == 1
    assert read.removed["orders"] == 1
    assert read.at.tzinfo is not None
    assert "gone-42" not in repr(read) and "Marisol" not in repr(read)


def test_an_unknown_erasure_reads_as_none(services: Services) -> None:
    with services.db.read() as session:
        assert get_erasure(session, erasure_id=999_999) is None
