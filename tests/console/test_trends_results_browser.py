"""Trends and results in a real browser: the weekly chart drawn by Vega-Lite, a tracker added
through the form, the report's interval chart drawn; screenshots, axe, and the phone width."""

import random
import re
from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from cli.demo import DEMO_AS_OF
from engine.db import Database
from engine.models import Customer, EmailEvent, EmailSend, FlowEntry, Order
from tests.console.conftest import Console
from tests.console_helpers import MARKETER, screenshot, serious_violations, sign_in
from tests.measure_rows import draft_row

ENTERED = DEMO_AS_OF - timedelta(days=10)


def seed_campaign(db: Database, *, kind: str, arms: dict[str, tuple[int, float]]) -> None:
    """A campaign step already sent: per arm, how many customers and the share who bought
    within two days; every emailed one delivered (simulated events, as the demo's month)."""
    rng = random.Random(kind)
    with db.write() as session:
        for arm, (size, buying) in arms.items():
            for n in range(size):
                customer_id = f"seed-{kind}-{arm}-{n}"
                session.add(Customer(id=customer_id, marketing_consent=True))
                session.flush()
                draft = None
                if arm != "holdout":
                    draft = draft_row(customer_id, kind=kind)
                    session.add(draft)
                    session.flush()
                    session.add_all(_sent(draft.id, customer_id, rng))
                session.add(
                    FlowEntry(
                        customer_id=customer_id,
                        kind=kind,
                        step="d0",
                        anchor="seed",
                        arm=arm,
                        draft_id=draft.id if draft else None,
                        entered_at=ENTERED,
                    )
                )
                if n < size * buying:
                    session.add(
                        Order(
                            id=f"order-{customer_id}",
                            customer_id=customer_id,
                            placed_at=ENTERED + timedelta(days=2),
                            currency="USD",
                            total=Decimal(rng.choice(["24.00", "38.50", "61.00"])),
                            status="placed",
                        )
                    )


def _sent(draft_id: int, customer_id: str, rng: random.Random) -> list[object]:
    """The send of one email, its delivery, and now and then a click."""
    rows: list[object] = [
        EmailSend(
            draft_id=draft_id,
            customer_id=customer_id,
            message_id=f"<{customer_id}@seed>",
            transport="test",
            state="sent",
            sent_at=ENTERED,
        ),
        EmailEvent(
            provider="simulated",
            event_id=f"d-{customer_id}",
            event="delivered",
            draft_id=draft_id,
            customer_id=customer_id,
            occurred_at=ENTERED + timedelta(minutes=5),
            simulated=True,
        ),
    ]
    if rng.random() < 0.2:
        rows.append(
            EmailEvent(
                provider="simulated",
                event_id=f"c-{customer_id}",
                event="clicked",
                draft_id=draft_id,
                customer_id=customer_id,
                occurred_at=ENTERED + timedelta(days=1),
                simulated=True,
            )
        )
    return rows


def fits_the_phone(page: Page) -> bool:
    """Whether the page, loaded 390 px wide, scrolls sideways only inside its tables (once
    its charts are drawn)."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    charts = page.locator("[data-vega-spec]")
    expect(page.locator('[data-chart-ready="yes"]')).to_have_count(charts.count())
    fits: bool = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    return fits


def test_trends_draw_the_weekly_chart_and_a_tracker_is_added(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/trends?as_of=2026-11-20")
    expect(page.get_by_role("heading", level=1, name="Trends")).to_be_visible()
    chart = page.locator('[data-vega-spec="customers-spec"][data-chart-ready="yes"]')
    expect(chart.locator("svg")).to_be_visible()
    expect(
        page.locator('[data-vega-spec="messages-spec"][data-chart-ready="yes"] svg')
    ).to_be_visible()
    table = page.get_by_role("table", name="Customers / messages per intent and week")
    expect(table.get_by_role("row").nth(1)).to_be_visible()  # intents under the header row
    screenshot(page, "trends")
    assert serious_violations(page) == []
    assert fits_the_phone(page)

    page.get_by_label("Name").fill("Grinder noise")
    page.get_by_label("Example phrases").fill("my grinder got really loud\nthe burrs squeak")
    page.get_by_label("Description").fill("Grinders that started making noise")
    page.get_by_role("button", name="Add tracker").click()
    trackers = page.locator("#trackers")
    expect(trackers.get_by_role("status")).to_contain_text("Tracker “grinder_noise” added")
    expect(trackers.get_by_role("heading", name="grinder_noise")).to_be_visible()
    expect(trackers.get_by_text("Grinders that started making noise")).to_be_visible()
    expect(page).to_have_url(re.compile(r"as_of=2026-11-20"))

    # The same name again: refused, and said next to the field.
    page.get_by_label("Name").fill("grinder_noise")
    page.get_by_label("Example phrases").fill("so loud")
    page.get_by_role("button", name="Add tracker").click()
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#tracker-name-error")).to_have_text(
        "There is already an intent or a tracker with this name."
    )
    assert serious_violations(page) == []


def test_results_draw_the_lifts_with_their_intervals(console: Console, page: Page) -> None:
    seed_campaign(
        console.db,
        kind="welcome",
        arms={"personal": (80, 0.3), "generic": (80, 0.15), "holdout": (80, 0.05)},
    )
    seed_campaign(console.db, kind="win_back", arms={"personal": (12, 0.25), "holdout": (12, 0.2)})
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/results")
    expect(page.get_by_role("heading", level=1, name=re.compile("Results"))).to_be_visible()
    conversion = page.locator('[data-vega-spec="conversion-spec"][data-chart-ready="yes"]')
    expect(conversion.locator("svg")).to_be_visible()
    expect(
        page.locator('[data-vega-spec="revenue-spec"][data-chart-ready="yes"] svg')
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Welcome, day 0")).to_be_visible()
    expect(page.get_by_role("heading", name="Win-back, day 0")).to_be_visible()
    lifts = page.get_by_role("table", name="The personal email against the other groups")
    expect(lifts.get_by_text("need more data").first).to_be_visible()
    expect(lifts.get_by_text("better").first).to_be_visible()
    expect(page.get_by_text("Simulated", exact=True)).to_be_visible()
    screenshot(page, "results")
    assert serious_violations(page) == []
    assert fits_the_phone(page)

    # The sample business's campaign steps are drafted, not sent: listed apart, in one line each.
    waiting = page.get_by_role("region", name="Drafted, not sent yet")
    expect(waiting.get_by_role("listitem").first).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("After a purchase"))).to_have_count(0)

    # The day the seeded steps were entered: theirs only.
    page.get_by_label("From", exact=True).fill("2026-11-10")
    page.get_by_label("To", exact=True).fill("2026-11-10")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"since=2026-11-10&until=2026-11-10"))
    expect(page.get_by_role("heading", name="Welcome, day 0")).to_be_visible()
    expect(page.get_by_role("region", name="Drafted, not sent yet")).to_have_count(0)
    page.get_by_label("From", exact=True).fill("2026-11-11")
    page.get_by_label("To", exact=True).fill("2026-11-12")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Nothing in this period")).to_be_visible()
