"""``vigil serve``, ``vigil users …``, ``vigil tokens …``, ``vigil audit verify|export`` and ``vigil retention run``."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.audit import os_account
from vigil.cli.identity import cli_actor, saved_token, signed_in
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.config import VigilConfig
from vigil.core.errors import InputError, PolicyError, VigilError
from vigil.governance.roles import ROLES, check_role
from vigil.governance.witness import export_witness, verify_store
from vigil.services import oversight, retention, users
from vigil.services.context import Services
from vigil.store.facade import Store
from vigil.store.integrity import quick_check

if TYPE_CHECKING:
    from vigil.workers.live_frames import FrameSource

console = Console()
err_console = Console(stderr=True)
users_app = typer.Typer(help="Local users: argon2id passwords, roles and camera scopes.")
audit_app = typer.Typer(help="The hash-chained, signed audit log.")
checkpoint_app = typer.Typer(help="Signed checkpoints of the audit log, for an auditor's witness file.")
audit_app.add_typer(checkpoint_app, name="checkpoint")
retention_app = typer.Typer(help="Delete what the retention policy no longer allows to keep.")
tokens_app = typer.Typer(help="API tokens: list and revoke (make one with `vigil login` or in the web UI).")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Serve the REST API and the operator UI (OpenAPI at /docs, health at /healthz)."""
    serve_deployment(resolve_config(config, data_dir), host, port)


def serve_deployment(cfg: VigilConfig, host: str, port: int, *, first_admin: bool = False) -> None:
    """Serve the API and UI for ``cfg``; with ``first_admin``, create an admin user if none exists
    and print its one-time password (``vigil demo --serve``)."""
    import uvicorn

    from vigil.api import ApiContext
    from vigil.server import create_app, server_config

    integrity = quick_check(cfg.store_url)
    if integrity is not None and not integrity.ok:
        # Serve anyway, so what is intact can still be read and audited; but say so first.
        err_console.print(f"warning: {integrity.summary()}", highlight=False, soft_wrap=True)
    with Store.open(cfg.store_url) as store:
        if first_admin:
            _ensure_first_admin(cfg, store)
        app = create_app(ApiContext.build(cfg, store))
        console.print(f"Vigil on http://{host}:{port}  (sign in at /, API docs at /docs, health at /healthz)")
        uvicorn.Server(server_config(app, host, port)).run()


@contextmanager
def serving(cfg: VigilConfig, host: str, port: int, frames: FrameSource) -> Iterator[None]:
    """The API and UI on a thread of this process while the body runs (``vigil run --serve``):
    the cameras analysed here feed the live view through ``frames``.

    Raises:
        VigilError: the server did not start within 15 s (the port is taken, for example).
    """
    import uvicorn

    from vigil.api import ApiContext
    from vigil.server import create_app, server_config

    with Store.open(cfg.store_url) as store:
        server = uvicorn.Server(server_config(create_app(ApiContext.build(cfg, store, frames=frames)), host, port))
        thread = threading.Thread(target=server.run, name="vigil-serve", daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            server.should_exit = True
            raise VigilError(f"--serve: the server did not start on {host}:{port} (is the port in use?)")
        err_console.print(f"Vigil on http://{host}:{port} (live view at /live)", highlight=False)
        try:
            yield
        finally:
            server.should_exit = True  # after the cameras: the watch records are closed on its way out
            thread.join(15)


def _ensure_first_admin(cfg: VigilConfig, store: Store) -> None:
    services = Services.build(cfg, store)
    if not users.needs_bootstrap(services):
        console.print("an admin user exists already (sign in as an admin to manage users)")
        return
    secret = secrets.token_urlsafe(15)
    users.bootstrap_admin(services, "admin", secret, os_user=os_account())
    console.print(f"first admin login: user [bold]admin[/], password [bold]{secret}[/] (shown once)")


@users_app.command("add")
def users_add(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(ROLES)}."),
    camera: list[str] = typer.Option([], "--camera", help="Limit to these cameras (repeat); default: all."),
    password: str | None = typer.Option(
        None, "--password", envvar="VIGIL_NEW_PASSWORD", help="Default: a random one, printed once."
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add a user, as a signed-in admin. On a deployment with no admin yet, the first admin is
    added without signing in (recorded as system:bootstrap with your OS account)."""
    cfg = resolve_config(config, data_dir)
    secret = password or secrets.token_urlsafe(15)
    with Store.for_config(cfg) as store:
        services = Services.build(cfg, store)
        if role == "admin" and not camera and users.needs_bootstrap(services) and saved_token(cfg) is None:
            users.bootstrap_admin(services, username, secret, os_user=os_account())
        else:
            users.add_user(services, cli_actor(services), username, secret, role, tuple(camera) or None)
    console.print(f"user {username} ({role}) added" + ("" if password else f"; password: {secret}"))


@users_app.command("list")
def users_list(
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Every user, role and camera scope (admins)."""
    with signed_in(config, data_dir) as (services, actor):
        listed = users.list_users(services, actor)
    if as_json:
        print(json.dumps([u.model_dump(mode="json") for u in listed]))
        return
    table = Table("user", "role", "cameras", "disabled")
    for u in listed:
        table.add_row(u.username, u.role, ", ".join(u.cameras or ["all"]), str(u.disabled))
    console.print(table)


@users_app.command("set-role")
def users_set_role(
    username: str = typer.Argument(...),
    role: str = typer.Argument(..., help=f"One of {', '.join(ROLES)}."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Change a user's role (admins)."""
    check_role(role)
    with signed_in(config, data_dir) as (services, actor):
        users.update_user(services, actor, username, role=role)
    console.print(f"user {username} is now {role}")


@users_app.command("disable")
def users_disable(
    username: str = typer.Argument(...),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Disable a user (admins): their sessions end and their tokens stop working."""
    with signed_in(config, data_dir) as (services, actor):
        users.update_user(services, actor, username, disabled=True)
    console.print(f"user {username} is disabled")


@tokens_app.command("list")
def tokens_list(
    user: str | None = typer.Option(None, "--user", help="Another user's tokens (admins); '*' for everyone's."),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Your API tokens (never their secrets): when made, when they expire, whether revoked."""
    with signed_in(config, data_dir) as (services, actor):
        listed = users.list_tokens(services, actor, username=user)
    if as_json:
        print(json.dumps([t.model_dump(mode="json") for t in listed]))
        return
    table = Table("id", "user", "name", "created", "expires", "state")
    table.columns[0].no_wrap = True
    for t in listed:
        state = "active" if t.active else ("revoked" if t.revoked_at else "expired")
        table.add_row(
            t.token_id, t.username, t.name, f"{t.created_at:%Y-%m-%d %H:%M}", f"{t.expires_at:%Y-%m-%d %H:%M}", state
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: str = typer.Argument(..., help="The token's id (see `vigil tokens list`)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Revoke an API token (yours, or anyone's as an admin); it stops working at once."""
    with signed_in(config, data_dir) as (services, actor):
        revoked = users.revoke_token(services, actor, token_id)
    console.print(f"token {revoked.token_id} ({revoked.username}, {revoked.name}) revoked", highlight=False)


@audit_app.command("verify")
def audit_verify(
    witness: Path | None = typer.Option(
        None,
        "--witness",
        help="A witness file from `vigil audit checkpoint export` (the auditor's copy).",
        dir_okay=False,
    ),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Prove the log intact (exit 0), or name the first record edited, forged, deleted or reordered,
    or the records cut from the end (exit 2). An empty log is a failure."""
    cfg = resolve_config(config, data_dir)
    with Store.for_config(cfg) as store:
        verdict = verify_store(store, witness)
    if as_json:
        print(
            json.dumps(
                {
                    "ok": verdict.ok,
                    "records": verdict.records,
                    "head_hash": verdict.head_hash,
                    "first_bad_seq": verdict.first_bad_seq,
                    "missing": list(verdict.missing) if verdict.missing else None,
                    "unsigned_prefix": verdict.unsigned_prefix,
                    "checked_against": list(verdict.checkpoints_checked),
                    "problem": verdict.problem,
                }
            )
        )
    elif verdict.ok:
        against = f"; matches {', '.join(verdict.checkpoints_checked)}" if verdict.checkpoints_checked else ""
        legacy = f"; records 1..{verdict.unsigned_prefix} predate signing" if verdict.unsigned_prefix else ""
        console.print(
            f"audit log intact: {verdict.records} records, signed, head {verdict.head_hash}{against}{legacy}",
            highlight=False,
        )
    else:
        where = f" at record {verdict.first_bad_seq}" if verdict.first_bad_seq else ""
        console.print(f"[bold red]audit log broken[/]{where}: {verdict.problem}", highlight=False)
    if not verdict.ok:
        raise typer.Exit(2)


def _when(value: str | None, what: str) -> datetime | None:
    """An ISO 8601 time from the command line (UTC where it names no zone)."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{what}: not an ISO 8601 time ({value!r}); e.g. 2026-12-06 or 2026-12-06T14:00Z") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@audit_app.command("export")
def audit_export(
    csv_out: Path = typer.Option(..., "--csv", help="Where to write the CSV ('-': standard output).", dir_okay=False),
    by: str | None = typer.Option(None, "--actor", help="Only this actor's records."),
    action: str | None = typer.Option(None, "--action", help="Only this action (e.g. media.view_unredacted)."),
    object_id: str | None = typer.Option(None, "--object", help="Only records about this object id."),
    since: str | None = typer.Option(None, "--since", help="From this time (ISO 8601; UTC unless it says)."),
    until: str | None = typer.Option(None, "--until", help="Until this time (ISO 8601; UTC unless it says)."),
    force: bool = typer.Option(False, "--force", help="Replace --csv if it exists."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """The filtered audit log as CSV, newest first, every record (routine ones too): the same
    export as the web UI's "Download CSV" (``services.oversight.audit_csv``), recorded as
    ``audit.export`` with the filters. Needs a signed-in account with ``audit.read``."""
    to_stdout = str(csv_out) == "-"
    if not to_stdout and csv_out.exists() and not force:
        raise InputError(f"{csv_out} exists; choose another --csv or add --force")
    if not to_stdout and not csv_out.parent.is_dir():
        raise InputError(f"{csv_out.parent} is not a folder; create it or choose another --csv")
    start, end = _when(since, "--since"), _when(until, "--until")
    with signed_in(config, data_dir) as (services, actor):
        text, count = oversight.audit_csv(
            services, actor, by=by, action=action, object_id=object_id, since=start, until=end
        )
    if to_stdout:
        print(text, end="")
        return
    csv_out.write_text(text, encoding="utf-8")
    err_console.print(f"wrote {csv_out}: {count} records", highlight=False)


@checkpoint_app.command("export")
def audit_checkpoint_export(
    out: Path = typer.Option(
        ..., "--out", help="The witness file to create or add to (keep it away from Vigil).", dir_okay=False
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Verify the log, then add a signed checkpoint of its newest record and the public key to a
    witness file the auditor keeps; `vigil audit verify --witness FILE` checks the log against it."""
    cfg = resolve_config(config, data_dir)
    with Store.for_config(cfg) as store:
        if store.audit_signer is None:
            raise PolicyError("this store has no audit signing key; set VIGIL_AUDIT_KEY_FILE")
        checkpoint = export_witness(store.audit_signer, store.governance.audit, out)
    console.print(
        f"witness {out}: checkpoint of record {checkpoint.seq} (hash {checkpoint.hash}), key {checkpoint.key_id}",
        highlight=False,
    )


@retention_app.command("run")
def retention_run(
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Delete what policy no longer allows to keep: expired events, tracks, snapshots, candidates, non-hit
    plate reads, expired watchlist and hotlist entries (legal holds are kept); audited by count."""
    cfg = resolve_config(config, data_dir)
    with Store.open(cfg.store_url) as store:
        report = retention.run(cfg, store)
    if as_json:
        print(json.dumps({"deleted": report.counts, "missing_files": report.missing_files}))
        return
    console.print("deleted: " + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
    root.add_typer(users_app, name="users")
    root.add_typer(tokens_app, name="tokens")
    root.add_typer(audit_app, name="audit")
    root.add_typer(retention_app, name="retention")
