"""The voice guide and status pages in a real browser: reading the guide and its samples'
verdicts, a failed save and a good one, the status counts, and both on a phone."""

import re

from playwright.sync_api import Page, ViewportSize, expect
from sqlalchemy import func, select

from engine.drafting.voice import current_voice
from engine.models import Customer
from tests.console.conftest import Console
from tests.console_helpers import MARKETER, screenshot, serious_violations, sign_in

PHONE: ViewportSize = {"width": 390, "height": 844}


def no_page_scroll(page: Page) -> bool:
    """Whether the page fits the window's width (tables may scroll inside their wrapper)."""
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_the_voice_guide_is_read_and_edited(console: Console, page: Page) -> None:
    with console.db.read() as session:
        before = current_voice(session)
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/voice")
    expect(page.get_by_role("heading", level=1)).to_have_text("Voice guide")
    expect(page.get_by_text(f"Version {before.version}", exact=True)).to_be_visible()
    samples = page.locator("article.sample")
    expect(samples).to_have_count(len(before.samples))
    expect(samples.first.get_by_text("Passes the voice checks")).to_be_visible()
    screenshot(page, "voice")
    assert serious_violations(page) == []

    # A business name left empty: the field is named and nothing is saved.
    page.get_by_label("Business name").fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nothing was saved")
    expect(alert).to_contain_text("Business name is empty or too short.")
    expect(page.get_by_label("Business name")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []
    with console.db.read() as session:
        assert current_voice(session).version == before.version

    # Fixed, with a new sample that breaks the voice: saved, and the verdict says so.
    page.get_by_label("Business name").fill("Kettle & Crumb Roasters")
    page.get_by_label("Sample email 5").fill(
        "Hi Mo,\n\nWe are delighted to tell you the decaf is back!!\n\nPriya"
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Saved. Version {(before.version or 0) + 1} is in use"
    )
    expect(page.get_by_role("status")).to_contain_text("1 of its sample emails break")
    fifth = page.locator("article.sample").nth(4)
    expect(fifth.get_by_text("Breaks the voice checks")).to_be_visible()
    expect(fifth).to_contain_text("Uses the banned phrase 'delighted'")
    expect(fifth).to_contain_text("2 exclamation marks")
    expect(page.locator("#guide dl.facts").first).to_contain_text("Kettle & Crumb Roasters")
    with console.db.read() as session:
        after = current_voice(session)
    assert after.business == "Kettle & Crumb Roasters"
    assert len(after.samples) == len(before.samples) + 1

    page.set_viewport_size(PHONE)
    page.reload()
    assert no_page_scroll(page)


def test_the_status_page_shows_the_counts(console: Console, page: Page) -> None:
    with console.db.read() as session:
        customers = session.scalar(select(func.count()).select_from(Customer))
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/status")
    expect(page.get_by_role("heading", level=1)).to_have_text("Status")
    expect(page.locator("#count-customers td")).to_have_text(f"{customers:,}")
    # The sample's chats are all processed, and its drafts wait for review.
    expect(page.get_by_text("All caught up")).to_be_visible()
    expect(page.locator("#drafts-pending_review td")).not_to_have_text("0")
    expect(page.get_by_role("heading", name="Sending")).to_be_visible()
    expect(page.get_by_text("Sending is off")).to_be_visible()
    expect(page.get_by_role("link", name="Status")).to_have_attribute("aria-current", "page")
    screenshot(page, "status")
    assert serious_violations(page) == []
    page.set_viewport_size(PHONE)
    page.reload()
    assert no_page_scroll(page)
    assert re.search(r"\d", page.locator("#messages-processed td").inner_text())
