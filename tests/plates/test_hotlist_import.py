"""Hole 15: a hotlist CSV's duplicate row is a bad row, named with its line and the first line
it duplicates; ``partial`` skips it instead of aborting, and nothing is half-written without it.
Through the hotlist service on a real SQLite store, with an authenticated actor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.config import VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.core.errors import BadRowsError
from vigil.governance.auth import principal_of
from vigil.services import Actor, Services, hotlist
from vigil.store import Store


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    cfg = VigilConfig(
        data_dir=tmp_path / "data",
        governance=GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
    )
    with Store.open(f"sqlite:///{tmp_path / 'v.db'}") as store:
        yield Services.build(cfg, store)


@pytest.fixture
def supervisor(services: Services) -> Actor:
    user = services.auth.add_user("sam", "correct horse battery", "supervisor", None, actor="test")
    token, _ = services.auth.issue_token(principal_of(user, "session"), "test", 1)
    return services.auth.token(token)


def _csv(*rows: str) -> bytes:
    return ("plate,legal_basis,authorised_by,expires_at,note\n" + "".join(r + "\n" for r in rows)).encode()


EXPIRY = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
WITH_DUPLICATE = _csv(
    f"AB12CDE,Stolen report SV-1,Insp. Rao,{EXPIRY},blue van",
    f"KL55ABC,Stolen report SV-2,Insp. Rao,{EXPIRY},",
    f"ab-12 cde,Stolen report SV-3,Insp. Rao,{EXPIRY},same van again",
)


def test_a_duplicate_row_is_named_with_the_line_it_duplicates_and_nothing_is_written(
    services: Services, supervisor: Actor
) -> None:
    with pytest.raises(BadRowsError) as refused:
        hotlist.import_csv(services, supervisor, WITH_DUPLICATE, source="stolen.csv", partial=False)
    assert refused.value.rows == [(4, "plate AB12CDE duplicates line 2")]
    assert "line 4: plate AB12CDE duplicates line 2" in str(refused.value) and "nothing imported" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert services.store.plates.list_entries() == []
    assert services.store.governance.audit.list(action="hotlist.import") == []


def test_partial_imports_the_first_and_skips_the_duplicate(services: Services, supervisor: Actor) -> None:
    result = hotlist.import_csv(services, supervisor, WITH_DUPLICATE, source="stolen.csv", partial=True)
    assert [e.plate for e in result.imported] == ["AB12CDE", "KL55ABC"]
    assert result.imported[0].note == "blue van" and result.imported[0].entered_by == "sam"
    assert [(b.line, b.problem) for b in result.skipped] == [(4, "plate AB12CDE duplicates line 2")]
    audit = services.store.governance.audit
    assert {r.object_id for r in audit.list(action="hotlist.import")} == {e.entry_id for e in result.imported}
    (skipped,) = audit.list(action="hotlist.import_skipped")
    assert skipped.detail["rows"] == [4] and skipped.actor == "sam"

    # The same file again: every plate is listed already, so every row is a bad row by name.
    again = hotlist.import_csv(services, supervisor, WITH_DUPLICATE, source="stolen.csv", partial=True)
    assert again.imported == []
    assert [b.line for b in again.skipped] == [2, 3, 4]
    assert "on the hotlist already" in again.skipped[0].problem
    assert len(services.store.plates.list_entries()) == 2


def test_a_row_spanning_lines_is_numbered_by_its_first_line(services: Services, supervisor: Actor) -> None:
    data = _csv(
        f'AB12CDE,"Stolen report\nSV-1",Insp. Rao,{EXPIRY},',
        f"AB12CDE,Stolen report SV-2,Insp. Rao,{EXPIRY},",
    )
    with pytest.raises(BadRowsError) as refused:
        hotlist.import_csv(services, supervisor, data, source="x.csv", partial=False)
    assert refused.value.rows == [(4, "plate AB12CDE duplicates line 2")]
