"""Signing in and out in a real browser."""

from playwright.sync_api import Page, expect

from tests.console.conftest import Console
from tests.console_helpers import MARKETER, screenshot, serious_violations, sign_in


def test_a_person_signs_in_and_out(console: Console, page: Page) -> None:
    page.goto(f"{console.url}/app/login")
    screenshot(page, "login")
    assert serious_violations(page) == []
    sign_in(page, console.url, MARKETER)
    expect(page.get_by_text(MARKETER.email)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/app/login")
    page.goto(f"{console.url}/app")
    page.wait_for_url("**/app/login?next=/app")
