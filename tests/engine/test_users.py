"""Console users: Argon2id passwords, one account per mailbox, roles, disabling."""

import json

import pytest
from typer.testing import CliRunner

from cli.app import app
from engine.db import Database
from engine.errors import ConflictError, InvalidInput, NotFoundError
from engine.models import User
from engine.settings import Settings
from engine.users import authenticate, create_user, disable_user, list_users

PASSWORD = "correct horse battery"


def test_a_user_signs_in_with_their_password_only(db: Database) -> None:
    with db.write() as session:
        made = create_user(session, email=" Ana@Shop.example ", password=PASSWORD, role="admin")
    assert (made.email, made.role) == ("ana@shop.example", "admin")
    with db.write() as session:
        stored = session.get_one(User, made.id)
        assert (
            stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
        )
        assert authenticate(session, email="ANA@shop.example", password=PASSWORD) == made
        assert authenticate(session, email="ana@shop.example", password=PASSWORD + "!") is None
        assert authenticate(session, email="nobody@shop.example", password=PASSWORD) is None
        assert authenticate(session, email="not an address", password=PASSWORD) is None


def test_one_account_per_mailbox_a_known_role_and_a_long_password(db: Database) -> None:
    with db.write() as session:
        create_user(session, email="ana@shop.example", password=PASSWORD, role="marketer")
    with db.write() as session, pytest.raises(ConflictError):
        create_user(session, email="ANA@shop.example", password=PASSWORD, role="marketer")
    with db.write() as session, pytest.raises(InvalidInput) as role:
        create_user(session, email="bo@shop.example", password=PASSWORD, role="owner")
    with db.write() as session, pytest.raises(InvalidInput) as short:
        create_user(session, email="bo@shop.example", password="short", role="marketer")
    assert (role.value.field, short.value.field) == ("role", "password")


def test_a_disabled_user_cannot_sign_in_and_stays_listed(db: Database) -> None:
    with db.write() as session:
        create_user(session, email="ana@shop.example", password=PASSWORD, role="marketer")
    with db.write() as session:
        disabled = disable_user(session, email="ana@shop.example")
    assert disabled.disabled_at is not None
    with db.write() as session:
        assert authenticate(session, email="ana@shop.example", password=PASSWORD) is None
        assert [u.email for u in list_users(session)] == ["ana@shop.example"]
    with db.write() as session, pytest.raises(NotFoundError):
        disable_user(session, email="nobody@shop.example")


def test_the_users_commands(settings: Settings) -> None:
    env = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["users", "create", "ana@shop.example", "--role", "admin", "--password-stdin", "--json"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["role"] == "admin"
    prompted = runner.invoke(
        app, ["users", "create", "bo@shop.example"], input=f"{PASSWORD}\n{PASSWORD}\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output
    short = runner.invoke(
        app, ["users", "create", "cy@shop.example", "--password-stdin"], input="short\n", env=env
    )
    assert short.exit_code == 2 and "password" in short.stderr
    assert runner.invoke(app, ["users", "disable", "bo@shop.example"], env=env).exit_code == 0
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"], env=env).stdout)
    assert [(u["email"], u["role"], u["disabled_at"] is not None) for u in listed] == [
        ("ana@shop.example", "admin", False),
        ("bo@shop.example", "marketer", True),
    ]
    assert "password_hash" not in listed[0]
