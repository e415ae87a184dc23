"""Signing in to the console from a test (a browser, or a TestClient), screenshots, and the
accessibility check."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[1]
# Every page the browser tests visit is photographed here (not committed); `make screenshots`
# copies the ones the README shows into docs/console/.
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE = Path(__file__).parent / "console" / "vendor" / "axe.min.js"


@dataclass(frozen=True)
class Person:
    """Someone who signs in to the console."""

    email: str
    password: str
    role: str


ADMIN = Person("owner@beanery.test", "correct horse battery", "admin")
MARKETER = Person("marketer@beanery.test", "staple paper clip 42", "marketer")


def sign_in(page: Page, url: str, person: Person) -> None:
    """Sign in through the form, as a person would, and land on the review queue."""
    page.goto(f"{url}/app/login")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/app(\?.*)?$|.*/app/(?!login).*"))


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as build/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """The axe-core violations of serious or critical impact on the page as it stands."""
    # Evaluated through the browser's debugging protocol: the console's script policy rightly
    # refuses an injected <script>, and the test must not weaken it.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def form_token(html: str, name: str = "csrf_token") -> str:
    """The value of a hidden form field in a page."""
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


def post_sign_in(client: TestClient, email: str, password: str, *, next: str = "/app") -> Response:
    """Post the sign-in form as a browser would (with the form's own token)."""
    page = client.get("/app/login")
    return client.post(
        "/app/login",
        data={
            "email": email,
            "password": password,
            "login_token": form_token(page.text, "login_token"),
            "next": next,
        },
        follow_redirects=False,
    )


def client_sign_in(client: TestClient, person: Person) -> str:
    """Sign a TestClient in through the form; the session's CSRF token."""
    response = post_sign_in(client, person.email, person.password)
    assert response.status_code == 303, response.text
    queue = client.get("/app")
    assert queue.status_code == 200, queue.text
    return form_token(queue.text)
