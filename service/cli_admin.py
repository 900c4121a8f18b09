"""`casedigest keys …` and `casedigest audit`: API keys and the audit trail from the terminal.

`register(app)` adds them to the main CLI. Like the rest of the CLI, library errors become one
line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Annotated, Optional

import typer

from indexing.errors import CasedigestError
from indexing.core.search import SearchService
from service import auth
from service.settings import get_settings

keys_app = typer.Typer(no_args_is_help=True, help="API keys for writes (and for reads when CASEDIGEST_READS_REQUIRE_KEY is on).")


def _fail(message: str) -> None:
    typer.echo(f"casedigest: {message}", err=True)
    raise typer.Exit(1)


def _open() -> AbstractContextManager[SearchService]:
    # Imported here, not at the top: service.cli imports this module to register it.
    from service.cli import _search_service

    return _search_service(get_settings())


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="who the key is for; names its writes in the audit trail")],
    role: Annotated[str, typer.Option("--role", help="librarian (writes) or admin (writes and audit)")],
) -> None:
    """Create a key and print its secret once: only a hash of it is stored."""
    try:
        with _open() as service:
            secret = auth.create_key(service.engine, name, role)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    typer.echo(secret)
    typer.echo(
        f"casedigest: key {name!r} ({role}) created. Store the secret above now: "
        "it is not stored and cannot be shown again.",
        err=True,
    )


@keys_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False) -> None:
    """Every key with its role, creation and revocation time (never the secrets or their hashes)."""
    try:
        with _open() as service:
            keys = auth.list_keys(service.engine)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    rows = [{"name": k.name, "role": k.role, "created": k.created_at, "revoked": k.revoked_at} for k in keys]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no keys; create one with: casedigest keys create --name NAME --role librarian", err=True)
        return
    width = max(len(r["name"] or "") for r in rows)
    for row in rows:
        typer.echo(f"{row['name']:<{width}}  {row['role']:<9}  created {row['created']}"
                   + (f"  revoked {row['revoked']}" if row["revoked"] else ""))


@keys_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="name of the key to revoke")]) -> None:
    """Revoke a key at once; requests carrying it are refused from now on."""
    try:
        with _open() as service:
            auth.revoke_key(service.engine, name)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    typer.echo(f"key {name!r} revoked")


def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="entries to show")] = 50,
    record_id: Annotated[Optional[str], typer.Option("--id", help="only this record's entries")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines with full hashes")] = False,
) -> None:
    """The audit trail, newest first: who changed which record, and its content hash before and after."""
    try:
        with _open() as service:
            entries = service.engine.audit(limit=limit, record_id=record_id)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    for entry in entries:
        if as_json:
            typer.echo(json.dumps(asdict(entry), ensure_ascii=False))
        else:
            before = (entry.hash_before or "-")[:12]
            after = (entry.hash_after or "-")[:12]
            typer.echo(f"{entry.time}  {entry.key_name}  {entry.action:<6}  {entry.record_id}  {before} → {after}")


def register(app: typer.Typer) -> None:
    """Add `keys create|list|revoke` and `audit` to the CLI."""
    app.add_typer(keys_app, name="keys")
    app.command("audit")(audit)
