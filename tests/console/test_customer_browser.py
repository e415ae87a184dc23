"""Searching for customers and working on one customer's page in a real browser, over the
sample coffee shop: open a customer from a search, unsubscribe them, and forget them (an admin
only, after typing their id)."""

import re
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import Dialog, Page, expect

from engine.customers.context import build_context
from engine.drafting.review import list_drafts
from engine.errors import NotFoundError
from engine.models import REVIEWABLE
from tests.console.conftest import Console
from tests.console_helpers import ADMIN, MARKETER, screenshot, serious_violations, sign_in

QUESTION = "grinder noise"


def search(page: Page, url: str, question: str) -> None:
    """Ask the search page a question as a person would."""
    page.goto(f"{url}/app/search")
    page.get_by_label("Customers asking about").fill(question)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/app/search\?q=.*"))


def href(customer_id: str) -> str:
    """A customer's page, the id encoded whole."""
    return f"/app/customers/{quote(customer_id, safe='')}"


def first_result(page: Page) -> str:
    """The customer id of the best match on a results page."""
    link = page.locator("ol.results > li").first.get_by_role("link").first
    target = link.get_attribute("href")
    assert target and target.startswith("/app/customers/")
    return unquote(target.removeprefix("/app/customers/"))


def accept(dialog: Dialog) -> None:
    dialog.accept()


def test_search_then_open_a_customer_with_their_facts_and_quotes(
    console: Console, page: Page
) -> None:
    sign_in(page, console.url, MARKETER)
    search(page, console.url, QUESTION)
    results = page.locator("ol.results > li")
    expect(results.first).to_be_visible()
    expect(results.first.locator("blockquote").first).to_contain_text("grinder", ignore_case=True)
    screenshot(page, "search")
    assert serious_violations(page) == []

    customer_id = first_result(page)
    results.first.get_by_role("heading", level=3).get_by_role("link").click()
    page.wait_for_url(f"**{href(customer_id)}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(customer_id)
    with console.db.read() as session:
        context = build_context(session, customer_id=customer_id)
    # The sample's best match for a noisy grinder told the shop about themselves too.
    assert context.facts
    facts = page.get_by_role("region", name="What they told us about themselves")
    expect(facts.locator("blockquote").first).to_have_text(f"“{context.facts[0].quote}”")
    expect(facts).to_contain_text(context.facts[0].value)
    expect(page.get_by_role("region", name="Orders")).to_be_visible()
    expect(page.get_by_role("region", name="Marketing email")).to_be_visible()
    screenshot(page, "customer")
    assert serious_violations(page) == []


def test_a_customer_page_with_facts_opt_outs_and_blocked_statements(
    console: Console, page: Page
) -> None:
    # cus_004 told the shop how they brew, and asked for no grinder emails.
    sign_in(page, console.url, ADMIN)
    page.goto(f"{console.url}/app/customers/cus_004")
    with console.db.read() as session:
        context = build_context(session, customer_id="cus_004")
    assert context.facts and context.opt_outs
    facts = page.get_by_role("region", name="What they told us about themselves")
    for fact in context.facts:
        expect(facts.get_by_text(f"“{fact.quote}”").first).to_be_visible()
    expect(facts).to_contain_text("Asked not to hear about")
    expect(facts).to_contain_text(context.opt_outs[0].topic)
    screenshot(page, "customer-admin")
    assert serious_violations(page) == []


def test_the_search_page_on_a_phone_does_not_scroll_sideways(console: Console, page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, console.url, MARKETER)
    search(page, console.url, QUESTION)
    expect(page.locator("ol.results > li").first).to_be_visible()
    customer_id = first_result(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"{console.url}{href(customer_id)}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "customer-phone")


def test_a_marketer_cannot_forget_a_customer(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/customers/cus_004")
    expect(page.get_by_role("heading", level=1)).to_contain_text("cus_004")
    expect(page.get_by_role("button", name="Forget this customer")).to_have_count(0)
    expect(page.get_by_label("Type the customer id")).to_have_count(0)
    # A hand-made POST, with the session's valid CSRF token, is refused all the same.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    response = page.request.post(
        f"{console.url}/app/customers/cus_004/forget",
        form={"csrf_token": token, "confirm_id": "cus_004"},
    )
    assert response.status == 403
    assert "Only an admin" in response.text()
    with console.db.read() as session:
        assert build_context(session, customer_id="cus_004").customer_id == "cus_004"
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("cus_004")


def test_an_admin_forgets_a_customer_after_typing_their_id(console: Console, page: Page) -> None:
    sign_in(page, console.url, ADMIN)
    search(page, console.url, QUESTION)
    customer_id = first_result(page)
    page.goto(f"{console.url}{href(customer_id)}")
    forget = page.get_by_role("button", name="Forget this customer")
    # A wrong id first: nothing is erased.
    page.get_by_label("Type the customer id").fill(f"{customer_id}x")
    forget.click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was erased")
    with console.db.read() as session:
        assert build_context(session, customer_id=customer_id)
    page.get_by_label("Type the customer id").fill(customer_id)
    page.get_by_role("button", name="Forget this customer").click()
    page.wait_for_url(re.compile(r".*/app/search\?erased=\d+$"))
    expect(page.get_by_role("status")).to_contain_text("The customer was forgotten")
    expect(page.get_by_role("status")).to_contain_text("1 customer record")
    with console.db.read() as session, pytest.raises(NotFoundError):
        build_context(session, customer_id=customer_id)
    missing = page.goto(f"{console.url}{href(customer_id)}")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("alert")).to_contain_text("There is no customer with this id")
    search(page, console.url, QUESTION)
    expect(page.locator("ol.results > li").first).to_be_visible()
    assert first_result(page) != customer_id
    assert page.locator(f'a[href="{href(customer_id)}"]').count() == 0


def test_unsubscribe_from_the_customer_page(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    with console.db.read() as session:
        customer_id = list_drafts(session, statuses=REVIEWABLE, limit=1)[0].customer_id
        waiting = len(list_drafts(session, customer_id=customer_id, statuses=REVIEWABLE))
    page.goto(f"{console.url}{href(customer_id)}")
    consent = page.get_by_role("region", name="Marketing email")
    expect(consent).to_contain_text("May be emailed")
    page.once("dialog", accept)  # the "are you sure?" question
    consent.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_url(re.compile(r".*\?withdrawn=\d+$"))
    expect(page.get_by_role("status")).to_contain_text("marketing consent is withdrawn")
    word = "draft" if waiting == 1 else "drafts"
    expect(page.get_by_role("status")).to_contain_text(f"{waiting} {word} waiting for review")
    expect(consent).to_contain_text("Not emailed")
    expect(consent.get_by_role("button", name="Unsubscribe")).to_have_count(0)
    with console.db.read() as session:
        assert not build_context(session, customer_id=customer_id).consent.marketing_consent
        assert list_drafts(session, customer_id=customer_id, statuses=REVIEWABLE) == []


def test_each_example_question_finds_someone_in_the_sample(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/search")
    examples = page.get_by_role("region", name="Ask in your own words").get_by_role("link")
    expect(examples).to_have_count(3)
    assert serious_violations(page) == []
    for text in examples.all_text_contents():
        page.goto(f"{console.url}/app/search")
        page.get_by_role("link", name=text, exact=True).click()
        expect(page.get_by_label("Customers asking about")).to_have_value(text)
        expect(page.locator("ol.results > li").first).to_be_visible()
