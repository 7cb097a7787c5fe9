"""The users-and-tokens service's own rules, on a real SQLite store: the first admin is made only
while there is none, the last active admin cannot be demoted or disabled, a disabled account's
tokens stop working, and only a password-proven principal mints tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from vigil.config import VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.config.root import StoreConfig
from vigil.core.errors import AccessDeniedError, AuthenticationError, PolicyError
from vigil.governance.auth import principal_of
from vigil.services import Services, users
from vigil.services.actor import Actor
from vigil.store import Store

PASSWORD = "correct horse battery"


@pytest.fixture
def services(tmp_path: Path, db_url: str) -> Iterator[Services]:
    """On SQLite, and on PostgreSQL (``-m postgres``) as the other governance tests."""
    cfg = VigilConfig(
        data_dir=tmp_path / "data",
        store=StoreConfig(url=db_url),
        governance=GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
    )
    with Store.for_config(cfg) as store:
        yield Services.build(cfg, store)


def _actor(services: Services, username: str, via: str = "session") -> Actor:
    user = services.store.governance.users.by_username(username)
    assert user is not None
    return principal_of(user, via)


def test_bootstrap_only_while_there_is_no_admin(services: Services) -> None:
    assert users.needs_bootstrap(services)
    made = users.bootstrap_admin(services, "root", PASSWORD, os_user="ops")
    assert (made.username, made.role) == ("root", "admin")
    with pytest.raises(PolicyError, match="an admin account exists already"):
        users.bootstrap_admin(services, "mallory", PASSWORD, os_user="ops")
    [record] = services.store.governance.audit.list(action="user.create")
    assert (record.actor, record.detail["os_user"], record.detail["bootstrap"]) == ("system:bootstrap", "ops", True)


def test_the_last_admin_stays(services: Services) -> None:
    users.bootstrap_admin(services, "root", PASSWORD, os_user="ops")
    root = _actor(services, "root")
    for change in ({"role": "viewer"}, {"disabled": True}):
        with pytest.raises(PolicyError, match="root is the last active admin"):
            users.update_user(services, root, "root", **change)  # type: ignore[arg-type]
    users.add_user(services, root, "second", PASSWORD, "admin", None)
    assert users.update_user(services, root, "root", role="viewer").role == "viewer"


def test_a_disabled_account_and_its_tokens_stop_at_once(services: Services) -> None:
    users.bootstrap_admin(services, "root", PASSWORD, os_user="ops")
    root = _actor(services, "root")
    users.add_user(services, root, "olu", PASSWORD, "operator", ("cam-a",))
    issued = users.create_token(services, _actor(services, "olu"), "laptop", 1)
    assert services.auth.token(issued.token).username == "olu"
    users.update_user(services, root, "olu", disabled=True)
    with pytest.raises(AuthenticationError, match="disabled"):
        services.auth.token(issued.token)


def test_only_a_password_proven_principal_mints_tokens(services: Services) -> None:
    users.bootstrap_admin(services, "root", PASSWORD, os_user="ops")
    session = _actor(services, "root")
    issued = users.create_token(services, session, "ci", 1)
    for via in ("token", "cli"):
        with pytest.raises(AccessDeniedError, match="an API token cannot create tokens"):
            users.create_token(services, replace(session, via=via), "more", 1)
    with pytest.raises(PolicyError, match="between 0 and 90 days"):
        users.create_token(services, session, "forever", 365)
    names = [t.name for t in users.list_tokens(services, session)]
    assert names == [issued.name]
    denied = services.store.governance.audit.list(action="access.denied")
    assert [(r.actor, r.detail["attempted"], r.detail["code"]) for r in denied] == [
        ("root", "token.create", "token_mints_token"),
        ("root", "token.create", "token_mints_token"),
    ]
