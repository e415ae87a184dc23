"""Attribution: each purchase credited once, to the last email clicked within the click window,
else the last delivered within the delivered window; the windows' edges count, a machine's
click does not, and cancelled orders never do."""

from datetime import datetime, timedelta
from itertools import count

from sqlalchemy import select

from engine.db import Database
from engine.measure.attribution import attribute_orders
from engine.models import Attribution
from tests.builders import AS_OF, customer
from tests.measure_rows import add_draft, add_event, add_order

_ids = count(1)


def attributions(db: Database) -> dict[str, tuple[int, str, datetime]]:
    with db.read() as session:
        return {
            a.order_id: (a.draft_id, a.rule, a.touched_at)
            for a in session.scalars(select(Attribution))
        }


def attribute(db: Database) -> int:
    with db.write() as session:
        return attribute_orders(session, click_days=5, delivered_days=1)


def test_a_click_exactly_at_the_window_edge_counts_and_just_outside_does_not(
    db: Database,
) -> None:
    for c in ("edge", "out", "now"):
        customer(db, c)
    edge, out, now = add_draft(db, "edge"), add_draft(db, "out"), add_draft(db, "now")
    add_event(db, edge, "edge", "clicked", AS_OF - timedelta(days=5))
    add_order(db, "o-edge", "edge", AS_OF)
    add_event(db, out, "out", "clicked", AS_OF - timedelta(days=5, seconds=1))
    add_order(db, "o-out", "out", AS_OF)
    # A click at the very moment of the order counts; one a second after does not.
    add_event(db, now, "now", "clicked", AS_OF)
    add_event(db, now, "now", "clicked", AS_OF + timedelta(seconds=1))
    add_order(db, "o-now", "now", AS_OF)
    assert attribute(db) == 2
    assert attributions(db) == {
        "o-edge": (edge, "click", AS_OF - timedelta(days=5)),
        "o-now": (now, "click", AS_OF),
    }


def test_the_delivered_window_is_a_day_with_its_edges(db: Database) -> None:
    for c in ("edge", "out"):
        customer(db, c)
    edge, out = add_draft(db, "edge"), add_draft(db, "out")
    add_event(db, edge, "edge", "delivered", AS_OF - timedelta(days=1))
    add_order(db, "o-edge", "edge", AS_OF)
    add_event(db, out, "out", "delivered", AS_OF - timedelta(days=1, seconds=1))
    add_order(db, "o-out", "out", AS_OF)
    assert attribute(db) == 1
    assert attributions(db) == {"o-edge": (edge, "delivered", AS_OF - timedelta(days=1))}


def test_a_click_beats_a_later_delivery_and_the_last_click_wins(db: Database) -> None:
    customer(db, "c")
    first, second, third = (
        add_draft(db, "c"),
        add_draft(db, "c", step="d3"),
        add_draft(db, "c", step="d7"),
    )
    add_event(db, first, "c", "clicked", AS_OF - timedelta(days=3))
    add_event(db, second, "c", "clicked", AS_OF - timedelta(days=2))
    # A later delivery (and a later machine click) do not take the credit from the click.
    add_event(db, third, "c", "delivered", AS_OF - timedelta(hours=1))
    add_event(db, third, "c", "clicked", AS_OF - timedelta(hours=1), machine=True)
    add_order(db, "o", "c", AS_OF)
    assert attribute(db) == 1
    assert attributions(db) == {"o": (second, "click", AS_OF - timedelta(days=2))}


def test_no_touch_no_attribution_and_cancelled_or_buyerless_orders_never(db: Database) -> None:
    customer(db, "c")
    draft = add_draft(db, "c")
    # An order before any email, a cancelled one after a click, and one with no buyer.
    add_order(db, "before", "c", AS_OF - timedelta(days=10))
    add_event(db, draft, "c", "delivered", AS_OF - timedelta(days=2))
    add_event(db, draft, "c", "clicked", AS_OF - timedelta(days=2))
    add_order(db, "cancelled", "c", AS_OF, status="cancelled")
    add_order(db, "guest", None, AS_OF)
    # A machine click alone is no touch.
    customer(db, "scanned")
    scanned = add_draft(db, "scanned")
    add_event(db, scanned, "scanned", "clicked", AS_OF - timedelta(hours=1), machine=True)
    add_order(db, "scanned-order", "scanned", AS_OF)
    assert attribute(db) == 0
    assert attributions(db) == {}


def test_two_orders_after_one_email_are_both_credited_once(db: Database) -> None:
    customer(db, "c")
    draft = add_draft(db, "c")
    add_event(db, draft, "c", "clicked", AS_OF - timedelta(days=1))
    add_order(db, "o1", "c", AS_OF)
    add_order(db, "o2", "c", AS_OF + timedelta(days=1))
    assert attribute(db) == 2
    found = attributions(db)
    assert found == {
        "o1": (draft, "click", AS_OF - timedelta(days=1)),
        "o2": (draft, "click", AS_OF - timedelta(days=1)),
    }
    # Idempotent: a second run adds nothing and changes nothing, even after a new click.
    other = add_draft(db, "c", step="d3")
    add_event(db, other, "c", "clicked", AS_OF - timedelta(hours=1))
    assert attribute(db) == 0
    assert attributions(db) == found


def test_an_order_untouched_today_is_credited_when_a_late_event_arrives(db: Database) -> None:
    customer(db, "c")
    draft = add_draft(db, "c")
    add_order(db, "o", "c", AS_OF)
    assert attribute(db) == 0
    add_event(db, draft, "c", "delivered", AS_OF - timedelta(hours=3))
    assert attribute(db) == 1
    assert attributions(db) == {"o": (draft, "delivered", AS_OF - timedelta(hours=3))}
