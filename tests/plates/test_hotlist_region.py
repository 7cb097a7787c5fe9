"""Hotlist entries naming a plate region: checked against the known regions at every door of the
hotlist service, and a hit on a read from another region flagged ``other_region`` on its
candidate, decided on real reads of real US plates by the installed recogniser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from vigil.config import VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.config.plates import PlatesConfig
from vigil.core.detections import Detections
from vigil.core.errors import BadRowsError, InputError
from vigil.core.frame import Frame
from vigil.events import CandidateRaised
from vigil.events.plates import PlateReadEvent
from vigil.governance.auth import principal_of
from vigil.plates.eval import load_labels, read_image
from vigil.plates.hotlist import HotlistPlate, ReadOrigin, other_region
from vigil.services import Actor, Services, hotlist
from vigil.services.hotlist import HotlistEntryIn
from vigil.store import Store
from vigil.workers.plates_stage import PlatesStage, build_plate_reader
from vigil.workers.stages import StageInput

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
EXPIRY = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    cfg = VigilConfig(
        data_dir=tmp_path / "data",
        governance=GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
        plates=PlatesConfig(formats={"xx": ("LLDLDL",)}, regions=("us", "xx")),
    )
    with Store.open(f"sqlite:///{tmp_path / 'v.db'}") as store:
        yield Services.build(cfg, store)


@pytest.fixture
def supervisor(services: Services) -> Actor:
    user = services.auth.add_user("sam", "correct horse battery", "supervisor", None, actor="test")
    token, _ = services.auth.issue_token(principal_of(user, "session"), "test", 1)
    return services.auth.token(token)


def _entry(plate: str, region: str | None) -> HotlistEntryIn:
    return HotlistEntryIn(plate, "Stolen report SV-1", "Insp. Rao", EXPIRY, None, region)


def test_an_entry_names_a_known_region_in_any_case_or_none(services: Services, supervisor: Actor) -> None:
    uk = hotlist.add(services, supervisor, _entry("AB12CDE", " UK "))
    own = hotlist.add(services, supervisor, _entry("KL5N2A", "xx"))  # the deployment's own plates.formats
    anywhere = hotlist.add(services, supervisor, _entry("7ABC123", ""))
    assert (uk.region, own.region, anywhere.region) == ("uk", "xx", None)
    listed = {e.plate: e.region for e in services.store.plates.active_plates()}
    assert listed == {"AB12CDE": "uk", "KL5N2A": "xx", "7ABC123": None}
    (record,) = [r for r in services.store.governance.audit.list(action="hotlist.add") if r.object_id == uk.entry_id]
    assert record.detail["region"] == "uk"


def test_an_unknown_region_is_one_line_naming_the_known_ones_and_nothing_is_written(
    services: Services, supervisor: Actor
) -> None:
    with pytest.raises(InputError) as refused:
        hotlist.add(services, supervisor, _entry("AB12CDE", "England"))
    message = str(refused.value)
    assert "\n" not in message and "'England'" in message
    assert "br, eu, hk, uk, us, xx" in message  # the built-in grammars and the deployment's own
    assert services.store.plates.list_entries() == []


def test_an_import_names_the_row_with_an_unknown_region(services: Services, supervisor: Actor) -> None:
    data = (
        "plate,legal_basis,authorised_by,expires_at,region\n"
        f"AB12CDE,Stolen report SV-1,Insp. Rao,{EXPIRY},uk\n"
        f"KL55ABC,Stolen report SV-2,Insp. Rao,{EXPIRY},mars\n"
        f"7ABC123,Stolen report SV-3,Insp. Rao,{EXPIRY},\n"
    ).encode()
    with pytest.raises(BadRowsError) as refused:
        hotlist.import_csv(services, supervisor, data, source="stolen.csv", partial=False)
    ((line, problem),) = refused.value.rows
    assert line == 3 and problem.startswith("plate region 'mars' is not known; use one of br, eu")
    assert services.store.plates.list_entries() == []
    result = hotlist.import_csv(services, supervisor, data, source="stolen.csv", partial=True)
    assert [(e.plate, e.region) for e in result.imported] == [("AB12CDE", "uk"), ("7ABC123", None)]
    assert [b.line for b in result.skipped] == [3]


def _origin(country: str | None, confidence: float, region: str | None, strict: bool) -> ReadOrigin:
    return ReadOrigin(country, confidence, region, strict, ("us", "uk"))


def test_what_says_a_read_is_from_another_region() -> None:
    us_read = _origin("United States", 0.98, "us", False)
    assert other_region("us", us_read) is None
    assert other_region("uk", us_read) == "read as a plate of United States (region us; country 0.98), listed for uk"
    # A country no built-in grammar describes is another region than any of them.
    japan = _origin("Japan", 0.9, None, False)
    assert other_region("us", japan) == "read as a plate of Japan (no built-in region; country 0.90), listed for us"
    # An unsure country says nothing; a loose US fit says nothing either.
    assert other_region("uk", _origin("United States", 0.4, "us", False)) is None
    # A strict fit of an enabled region speaks where the head is unsure or absent.
    assert other_region("uk", _origin(None, 0.0, "us", True)) == (
        "read fits a us layout, not uk, the region it is listed for"
    )
    assert other_region("uk", _origin(None, 0.0, "uk", True)) is None
    # ... but only if the listed region is one the read could have fitted.
    assert other_region("eu", _origin(None, 0.0, "us", True)) is None
    # A sure country whose grammar the kept read was not fitted to (PP-OCR's second opinion was
    # kept, fitted to the deployment's regions) is not taken as where the plate is from.
    assert other_region("us", _origin("Brazil", 0.7, "us", True)) is None


# -- on real reads ---------------------------------------------------------------------------------


def _frame(i: int, image: np.ndarray) -> Frame:
    return Frame("gate", i, i * 0.5, T0 + timedelta(seconds=i * 0.5), image)


def _candidates(stage: PlatesStage, inputs: list[StageInput]) -> tuple[dict[str, CandidateRaised], PlateReadEvent]:
    events: list[object] = []
    for inp in inputs:
        events.extend(stage.process(inp))
    events.extend(stage.finish())
    (read,) = [e for e in events if isinstance(e, PlateReadEvent)]
    return {e.list_entry_id: e for e in events if isinstance(e, CandidateRaised)}, read


LISTED = [HotlistPlate("us-entry", "5UVR090", "us"), HotlistPlate("uk-entry", "5UVR090", "uk")]
LISTED += [HotlistPlate("any-entry", "5UVR090")]


@pytest.fixture(scope="module")
def car12(shared_data: Path) -> np.ndarray:
    """A real street photo of a car with a California plate, 5UVR090."""
    _, items = load_labels(shared_data / "plates" / "us")
    (item,) = [i for i in items if i.image.name == "car12.jpg"]
    assert item.plate == "5UVR090"
    return read_image(item.image)


def test_a_real_us_plate_hits_a_uk_entry_flagged_and_a_us_one_not(
    installed_models_dir: Path, car12: np.ndarray
) -> None:
    image = car12
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, frame_scan_s=0.5, reads_per_track=2, threads=1)
    stage = PlatesStage("gate", cfg, build_plate_reader(cfg, installed_models_dir), lambda: LISTED, None)
    none = Detections(
        xyxy=np.zeros((0, 4), np.float32),
        confidence=np.zeros(0, np.float32),
        class_id=np.zeros(0, np.int64),
        tracker_id=np.zeros(0, np.int64),
    )
    names = tuple(f"c{k}" for k in range(80))
    cands, read = _candidates(stage, [StageInput(_frame(i, image), none, (), names, ()) for i in range(2)])
    # The recogniser's region head is sure the plate is from the United States.
    assert (read.plate, read.country, read.region) == ("5UVR090", "United States", "us")
    assert read.country_confidence is not None and read.country_confidence >= 0.9
    assert set(cands) == {"us-entry", "uk-entry", "any-entry"}  # a foreign-looking read still hits
    assert cands["us-entry"].flags == cands["any-entry"].flags == ()
    assert cands["uk-entry"].flags == ("other_region",)
    assert cands["uk-entry"].detail is not None
    assert cands["uk-entry"].detail.startswith("read as a plate of United States (region us; country ")
