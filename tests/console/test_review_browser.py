"""Reviewing in a real browser: the queue (filters, several at once, the keyboard), a draft
beside its evidence (edit, check, save, approve, reject) and the chat a quote comes from."""

import re

from playwright.sync_api import Page, expect

from engine.drafting.review import DraftRead, get_draft, list_drafts
from tests.console.conftest import Console
from tests.console.test_review_pages import plant_problem
from tests.console_helpers import MARKETER, screenshot, serious_violations, sign_in


def waiting_drafts(console: Console) -> list[DraftRead]:
    """The sample's drafts waiting for review with no open problem, newest first."""
    with console.db.read() as session:
        drafts = list_drafts(session, statuses=["pending_review"], limit=1000)
    return [d for d in reversed(drafts) if not d.problems]


def fits_a_phone(page: Page) -> None:
    """At 390 px the page scrolls only inside its tables, never sideways as a whole."""
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_queue_lists_drafts_and_approves_several(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    expect(page.get_by_role("heading", name="Review", level=1)).to_be_visible()
    expect(page.get_by_text("Keys: j/k move · Enter open · a approve · r reject")).to_be_visible()
    screenshot(page, "queue")
    assert serious_violations(page) == []
    fits_a_phone(page)

    first, second, flawed = waiting_drafts(console)[:3]
    plant_problem(console.db, flawed.id)  # as if someone else's edit had left a problem
    page.reload()
    expect(page.locator(f"#draft-{flawed.id}")).to_contain_text("1 problem")
    for draft in (first, second, flawed):
        page.get_by_label(f"Select draft {draft.id} for {draft.first_name}").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_text("Approved 2 drafts.")).to_be_visible()
    expect(page.get_by_text(f"#{flawed.id} has problems to fix first")).to_be_visible()
    with console.db.read() as session:
        for draft in (first, second):
            approved = get_draft(session, draft_id=draft.id)
            assert (approved.status, approved.reviewed_by) == ("approved", MARKETER.email)
    # Approved drafts leave the "waiting" view; the one with a problem stays.
    expect(page.locator(f"#draft-{first.id}")).to_have_count(0)
    expect(page.locator(f"#draft-{flawed.id}")).to_have_count(1)

    # The select-all box ticks every row of the page.
    page.get_by_label("Select all drafts on this page").check()
    boxes = page.locator('table.queue tbody input[name="draft"]')
    assert boxes.count() > 0
    for n in range(boxes.count()):
        expect(boxes.nth(n)).to_be_checked()


def test_the_filters_narrow_the_queue(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    page.get_by_label("Kind").select_option(label="Win-back")
    page.get_by_label("Status").select_option(label="All")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*kind=win_back.*"))
    kinds = page.locator("table.queue tbody tr td:nth-child(3)").all_inner_texts()
    assert kinds and set(kinds) == {"Win-back"}


def test_the_keyboard_moves_and_approves_the_current_row(console: Console, page: Page) -> None:
    sign_in(page, console.url, MARKETER)
    page.get_by_label("Status").select_option(label="Waiting for review")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*status=pending_review.*"))
    rows = page.locator("table.queue tbody tr")
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "false")
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    draft_id = int(rows.nth(0).get_attribute("data-draft") or 0)
    page.keyboard.press("a")
    approved_row = page.locator(f"#draft-{draft_id}")
    expect(approved_row.get_by_text("Approved", exact=True)).to_be_visible()
    expect(
        page.get_by_role("status").filter(has_text=f"Draft #{draft_id} approved.")
    ).to_have_count(1)
    expect(rows.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    with console.db.read() as session:
        draft = get_draft(session, draft_id=draft_id)
    assert (draft.status, draft.reviewed_by) == ("approved", MARKETER.email)

    # r asks why; the reason given is recorded, and the current row moves on.
    next_id = int(rows.nth(1).get_attribute("data-draft") or 0)
    page.once("dialog", lambda dialog: dialog.accept("Not our tone"))
    page.keyboard.press("r")
    expect(page.locator(f"#draft-{next_id}").get_by_text("Rejected", exact=True)).to_be_visible()
    with console.db.read() as session:
        assert get_draft(session, draft_id=next_id).reject_reason == "Not our tone"
    expect(rows.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))

    # Typing in a field is typing, not a command.
    page.get_by_label("Kind").focus()
    page.keyboard.press("j")
    expect(rows.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(rows.nth(3)).not_to_have_class(re.compile(r"\bcurrent\b"))


def test_edit_check_save_and_approve_a_draft(console: Console, page: Page) -> None:
    draft = waiting_drafts(console)[0]
    sign_in(page, console.url, MARKETER)
    page.get_by_role("link", name=re.compile(rf"^#{draft.id}\b")).click()
    page.wait_for_url(f"**/app/drafts/{draft.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Draft #{draft.id}")
    screenshot(page, "draft")
    assert serious_violations(page) == []
    fits_a_phone(page)

    body = page.get_by_label("Body")
    expect(body).to_be_hidden()
    page.get_by_role("button", name="Edit").click()
    expect(body).to_be_visible()
    body.fill(draft.body + "\n\nPS: write to me at ana@example.com")
    page.get_by_role("button", name="Check").click()
    result = page.locator("#check-result")
    expect(result).to_contain_text("holds personal data (email)")
    screenshot(page, "draft-edit-problem")
    with console.db.read() as session:
        assert get_draft(session, draft_id=draft.id).body == draft.body  # nothing saved

    body.fill(draft.body + "\n\nPS: we roast on Tuesdays.")
    page.get_by_role("button", name="Check").click()
    expect(result).to_contain_text("No problems found")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your changes are saved.")).to_be_visible()
    expect(page.locator(".email-body")).to_contain_text("we roast on Tuesdays")

    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("You approved this draft.")).to_be_visible()
    history = page.locator("table.history")
    expect(history.locator("tr", has_text="Approved")).to_contain_text(MARKETER.email)
    expect(history.locator("tr", has_text="Edited")).to_contain_text("Changed: Body")
    expect(history.locator("tr", has_text="Edited")).to_contain_text(MARKETER.email)


def test_reject_a_draft_with_a_reason(console: Console, page: Page) -> None:
    draft = waiting_drafts(console)[-1]
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/drafts/{draft.id}")
    page.get_by_label("Reason").fill("We already wrote to her this week")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_text("You rejected this draft.")).to_be_visible()
    expect(page.locator("table.history")).to_contain_text(
        "Reason: We already wrote to her this week"
    )
    with console.db.read() as session:
        rejected = get_draft(session, draft_id=draft.id)
    assert (rejected.status, rejected.reviewed_by) == ("rejected", MARKETER.email)


def test_a_quote_opens_its_chat_with_the_agent_turns_greyed(console: Console, page: Page) -> None:
    with console.db.read() as session:
        drafts = list_drafts(session, statuses=None, limit=1000)
    quoted = next(d for d in drafts if any(e.facts for e in d.evidence))
    fact = next(f for e in quoted.evidence for f in e.facts)
    sign_in(page, console.url, MARKETER)
    page.goto(f"{console.url}/app/drafts/{quoted.id}")
    expect(page.locator(".email-body mark").first).to_be_visible()
    page.get_by_role("link", name=f"“{fact.quote}”").first.click()
    page.wait_for_url(re.compile(r".*/app/conversations/.*highlight=.*"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chat with")
    highlighted = page.locator("#highlighted")
    expect(highlighted).to_be_in_viewport()
    expect(highlighted).to_contain_text("Quoted in the draft")
    expect(highlighted.locator(".text")).to_contain_text(fact.quote)
    staff = page.locator(".turn.staff")
    assert staff.count() > 0
    expect(staff.first).to_have_css("color", "rgb(87, 96, 106)")
    expect(page.locator(".turn.customer").first).to_have_css("color", "rgb(29, 35, 41)")
    screenshot(page, "conversation")
    assert serious_violations(page) == []
    fits_a_phone(page)
