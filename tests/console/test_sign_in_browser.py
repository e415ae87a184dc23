"""Signing in and out in a real browser."""

from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import update

from engine.models import ConsoleSession, utcnow
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


def test_a_form_sent_without_its_csrf_token_is_refused(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/trends")
    # A form on another site cannot know the token: take it out of the page's form, then send.
    form = page.locator("form", has=page.get_by_role("button", name="Add tracker"))
    form.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    form.get_by_label("Name").fill("forged_tracker")
    form.get_by_label("Example phrases").fill("do you ship to canada")
    form.get_by_role("button", name="Add tracker").click()
    expect(page.get_by_role("alert")).to_contain_text("Reload the page and try again.")
    page.goto(f"{console.url}/app/trends")
    expect(page.get_by_text("forged_tracker")).to_have_count(0)


def test_a_session_expires(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/status")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    with console.db.write() as session:
        session.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    page.reload()
    page.wait_for_url("**/app/login?next=/app/status")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
