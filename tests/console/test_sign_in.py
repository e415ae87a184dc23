"""Signing in to the console: the session cookie, CSRF, roles, expiry and the limit on
failed sign-ins."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from engine.db import Database
from engine.models import ConsoleSession, utcnow
from engine.runtime import Services
from engine.settings import Settings
from engine.users import disable_user
from tests.console_helpers import ADMIN, MARKETER, client_sign_in, form_token, post_sign_in


def _login(client: TestClient, email: str, password: str) -> tuple[int, str]:
    response = post_sign_in(client, email, password, next="/app/status")
    return response.status_code, response.text


def test_the_sign_in_form_has_labelled_fields(client: TestClient) -> None:
    page = client.get("/app/login")
    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert ">Sign in</button>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_root_and_console_pages_send_a_stranger_to_sign_in(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/app"
    for path in ("/app", "/app/status", "/app/search"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/app/login?next={path}"
    htmx = client.get("/app/status", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"] == "/app/login?next=/app/status"


def test_a_right_password_gives_an_httponly_lax_cookie_for_eight_hours(
    client: TestClient, people: None
) -> None:
    page = client.get("/app/login")
    response = client.post(
        "/app/login",
        data={
            "email": "  Marketer@Beanery.TEST ",
            "password": MARKETER.password,
            "login_token": form_token(page.text, "login_token"),
            "next": "/app/status",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/app/status"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("personalize_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test below


def test_the_cookie_is_secure_when_the_console_is_reached_over_https(
    settings: Settings, services: Services, people: None
) -> None:
    secure = settings.model_copy(update={"public_url": "https://shop.example"})
    app = create_app(secure, services=services, run_worker=False)
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/app/login")
        response = client.post(
            "/app/login",
            data={
                "email": ADMIN.email,
                "password": ADMIN.password,
                "login_token": form_token(page.text, "login_token"),
            },
            follow_redirects=False,
        )
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("personalize_session=")
    )
    assert "Secure" in cookie


def test_a_wrong_password_or_unknown_address_says_the_same(
    client: TestClient, people: None
) -> None:
    for email in (MARKETER.email, "nobody@beanery.test"):
        status, text = _login(client, email, "not the password at all")
        assert status == 401
        assert "Wrong email or password." in text
    assert "personalize_session" not in client.cookies


def test_an_offsite_next_is_ignored(client: TestClient, people: None) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/app//evil.example"):
        page = client.get("/app/login")
        response = client.post(
            "/app/login",
            data={
                "email": ADMIN.email,
                "password": ADMIN.password,
                "login_token": form_token(page.text, "login_token"),
                "next": target,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/app"


def test_a_sign_in_form_without_its_token_is_refused(client: TestClient, people: None) -> None:
    client.get("/app/login")
    response = client.post(
        "/app/login",
        data={"email": ADMIN.email, "password": ADMIN.password, "login_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "personalize_session" not in client.cookies


def test_failed_sign_ins_are_limited_per_account(client: TestClient, people: None) -> None:
    for _ in range(5):
        assert _login(client, MARKETER.email, "guess guess guess")[0] == 401
    # Even the right password waits now: the account is being guessed at.
    status, text = _login(client, MARKETER.email, MARKETER.password)
    assert status == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in text
    # Another account from the same address is not locked by it.
    assert _login(client, ADMIN.email, ADMIN.password)[0] == 303


def test_failed_sign_ins_are_limited_per_address(client: TestClient, people: None) -> None:
    for n in range(20):
        assert _login(client, f"guess{n}@beanery.test", "guess guess guess")[0] == 401
    assert _login(client, ADMIN.email, ADMIN.password)[0] == 429


def test_a_right_password_clears_the_accounts_count(client: TestClient, people: None) -> None:
    for _ in range(4):
        _login(client, MARKETER.email, "guess guess guess")
    assert _login(client, MARKETER.email, MARKETER.password)[0] == 303
    for _ in range(4):
        assert _login(client, MARKETER.email, "guess guess guess")[0] == 401


def test_signing_out_ends_the_session_for_that_cookie(client: TestClient, people: None) -> None:
    csrf = client_sign_in(client, MARKETER)
    cookie = client.cookies["personalize_session"]
    response = client.post("/app/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login"
    client.cookies.set("personalize_session", cookie)  # a copy kept by someone else
    assert client.get("/app", follow_redirects=False).status_code == 303


def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient, people: None, db: Database
) -> None:
    client_sign_in(client, MARKETER)
    response = client.post("/app/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert "Reload the page and try again." in response.text
    wrong = client.post("/app/logout", data={"csrf_token": "x" * 43}, follow_redirects=False)
    assert wrong.status_code == 403
    with db.read() as session:  # still signed in
        assert session.scalar(select(ConsoleSession.id)) is not None


def test_a_session_expires(client: TestClient, people: None, db: Database) -> None:
    client_sign_in(client, MARKETER)
    with db.write() as session:
        session.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.get("/app", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/app/login")


def test_a_tampered_cookie_opens_nothing(client: TestClient, people: None) -> None:
    client_sign_in(client, MARKETER)
    value = client.cookies["personalize_session"]
    client.cookies.clear()
    client.cookies.set("personalize_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/app", follow_redirects=False).status_code == 303


def test_disabling_a_person_ends_their_sessions(
    client: TestClient, people: None, db: Database
) -> None:
    client_sign_in(client, MARKETER)
    with db.write() as session:
        disable_user(session, email=MARKETER.email)
    assert client.get("/app", follow_redirects=False).status_code == 303
    assert _login(client, MARKETER.email, MARKETER.password)[0] == 401
