"""Who the command line records: the ``--by`` name checked, or the operating-system account."""

from __future__ import annotations

import pytest

from vigil.cli.audit import CliAuditor, need_reason, os_account, person
from vigil.core.errors import InputError


def test_a_named_person_is_recorded_as_a_cli_actor_beside_the_os_account() -> None:
    entry = CliAuditor.of("  PC Lee ").entry("hotlist.list", object_type="hotlist", results=3)
    assert entry.actor == "cli:PC Lee"
    assert entry.detail == {"via": "cli", "os_user": os_account(), "results": 3}


def test_without_a_name_the_os_account_is_the_actor() -> None:
    assert CliAuditor.of(None).actor == f"cli:{os_account()}"
    assert CliAuditor.of("   ").actor == f"cli:{os_account()}"


@pytest.mark.parametrize(("name", "why"), [("", "at least 2"), ("x", "at least 2"), ("y" * 101, "at most 100")])
def test_a_name_too_short_or_too_long_for_the_audit_log_is_refused(name: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        person(name)
    if name.strip():
        with pytest.raises(InputError, match=why):
            CliAuditor.of(name)


def test_a_reason_follows_the_deployments_minimum() -> None:
    assert need_reason("  incident 42 ", 5, "a plate search") == "incident 42"
    with pytest.raises(InputError, match="a plate search needs --reason"):
        need_reason("abc", 5, "a plate search")
