"""Every page of the menu, in a real browser: reachable from the menu, no accessibility
violation of serious or critical impact, and no sideways scrolling on a phone."""

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from api.console.pages import MENU
from tests.console.conftest import Console
from tests.console_helpers import ADMIN, serious_violations, sign_in

PHONE: ViewportSize = {"width": 390, "height": 844}


def test_the_menu_reaches_every_page(console: Console, page: Page) -> None:
    sign_in(page, console.url, ADMIN)
    for href, label in MENU:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()
        page.wait_for_url(f"{console.url}{href}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        # The menu marks where you are, for screen readers too.
        current = page.get_by_role("navigation", name="Main").locator('[aria-current="page"]')
        expect(current).to_have_text(label)


@pytest.mark.parametrize(("href", "label"), MENU)
def test_each_page_is_accessible_and_fits_a_phone(
    console: Console, browser: Browser, href: str, label: str
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    sign_in(page, console.url, ADMIN)
    page.goto(f"{console.url}{href}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert serious_violations(page) == [], label
    overflow = page.evaluate(
        "() => document.scrollingElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{label} scrolls sideways by {overflow}px on a phone"
    context.close()
