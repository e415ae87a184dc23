"""People who sign in to the console: `users create`, `users list` and `users disable`."""

import sys
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from cli.base import JsonFlag, console, open_home, print_json
from engine.models import ROLES
from engine.users import create_user, disable_user, list_users

users_app = typer.Typer(no_args_is_help=True, help="Create, list and disable console users.")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The address they sign in with.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "marketer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a person who signs in to the console; the password is asked for (twice) unless
    given on standard input."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_home() as home, home.db.write() as session:
        user = create_user(session, email=email, password=password, role=role)
    if as_json:
        print_json(asdict(user))
        return
    console.print(f"user {user.email} ({user.role}) created")


@users_app.command("list")
def users_list(as_json: JsonFlag = False) -> None:
    """Everyone who can (or could) sign in, with their role."""
    with open_home() as home, home.db.read() as session:
        users = list_users(session)
    if as_json:
        print_json([asdict(user) for user in users])
        return
    table = Table("email", "role", "created", "disabled")
    for user in users:
        disabled = f"{user.disabled_at:%Y-%m-%d}" if user.disabled_at else ""
        table.add_row(user.email, user.role, f"{user.created_at:%Y-%m-%d}", disabled)
    console.print(table)


@users_app.command("disable")
def users_disable(email: str, as_json: JsonFlag = False) -> None:
    """Stop a person signing in; what they did stays in the audit trail."""
    with open_home() as home, home.db.write() as session:
        user = disable_user(session, email=email)
    if as_json:
        print_json(asdict(user))
        return
    console.print(f"user {user.email} disabled")
