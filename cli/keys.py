"""API keys: `keys create`, `keys list` and `keys revoke`."""

from typing import Annotated, Any

import typer
from rich.table import Table

from cli.base import JsonFlag, console, err_console, open_home, print_json
from engine.apikeys import SCOPES, create_key, list_keys, revoke_key

keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")


@keys_app.command("create")
def keys_create(
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; repeatable.")
    ],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    with open_home() as home, home.db.write() as session:
        identity, plaintext = create_key(session, name=name, scopes=scope)
    if as_json:
        print_json({"id": identity.id, "name": name, "scopes": sorted(scope), "key": plaintext})
        return
    console.print(f"[bold]{plaintext}[/]", highlight=False)
    err_console.print(
        f"key {identity.id} ({name}) with scopes {', '.join(sorted(set(scope)))}: "
        "store it now, it is not shown again."
    )


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List API keys (prefixes and scopes only; secrets are never stored)."""
    with open_home() as home, home.db.read() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": k.id,
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes.split(","),
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in list_keys(session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "prefix", "scopes", "created", "revoked", title="API keys")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["name"],
            row["prefix"],
            ",".join(row["scopes"]),
            row["created_at"][:19],
            (row["revoked_at"] or "")[:19],
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (keys list).")],
) -> None:
    """Revoke a key; a running server stops accepting it within seconds."""
    with open_home() as home, home.db.write() as session:
        revoke_key(session, prefix=prefix)
    console.print(f"revoked key {prefix}")
