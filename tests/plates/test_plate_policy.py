"""Hole 4 for plates: the ``plates.min_confidence`` policy drives the plates stage's decision.

Set through the policy service (the API, web and CLI doors call it), it raises the bar a voted
read must clear before it is matched against the hotlist; a value below the deployment's own
``plates.min_confidence`` is refused with the allowed range and the refusal is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config import VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.config.plates import PlatesConfig
from vigil.core.detections import Detections
from vigil.core.errors import PolicyError
from vigil.core.frame import Frame
from vigil.events import CandidateRaised
from vigil.governance.auth import principal_of
from vigil.plates.ctc import TextLine
from vigil.plates.hotlist import HotlistPlate
from vigil.plates.ocr import Quad
from vigil.plates.reader import PlateReader
from vigil.services import Actor, Services, policy
from vigil.store import Store
from vigil.store.policies import PLATE_MIN_CONFIDENCE
from vigil.workers.plates_stage import PlatesStage, plate_min_confidence
from vigil.workers.stages import StageInput

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class SureOCR:
    """Reads ABC1234 at 0.9 on every crop; finds no text lines."""

    def recognise(self, image: np.ndarray) -> TextLine:
        return TextLine("ABC1234", 0.9)

    def detect_lines(self, image: np.ndarray) -> list[Quad]:
        return []


def _inp(i: int) -> StageInput:
    img = np.full((240, 320, 3), 90, np.uint8)
    cv2.rectangle(img, (60, 60), (260, 200), (40, 40, 160), -1)
    cv2.rectangle(img, (120, 160), (200, 185), (255, 255, 255), -1)
    cv2.putText(img, "ABC1234", (124, 180), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 2)
    frame = Frame("gate", i, i * 0.5, T0 + timedelta(seconds=i * 0.5), img)
    tracked = Detections(
        xyxy=np.array([[60, 60, 260, 200]], np.float32),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([2]),
        tracker_id=np.array([1]),
    )
    names = ("person", "bicycle", "car", *(f"c{k}" for k in range(3, 80)))
    return StageInput(frame, tracked, ("gate-r-1",), names, ())


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    cfg = VigilConfig(
        data_dir=tmp_path / "data",
        plates=PlatesConfig(enabled=True, min_sharpness=0.0, min_vehicle_px=10, min_confidence=0.6),
        governance=GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
    )
    with Store.open(f"sqlite:///{tmp_path / 'v.db'}") as store:
        yield Services.build(cfg, store)


@pytest.fixture
def supervisor(services: Services) -> Actor:
    user = services.auth.add_user("sam", "correct horse battery", "supervisor", None, actor="test")
    token, _ = services.auth.issue_token(principal_of(user, "session"), "test", 1)
    return services.auth.token(token)


def _hits(services: Services) -> list[CandidateRaised]:
    """What the stage decides for one car read at 0.9, with the policy in force as wired."""
    cfg = services.config.plates
    stage = PlatesStage(
        "gate", cfg, PlateReader(SureOCR()), lambda: [HotlistPlate("e1", "ABC1234")], None,
        lambda: plate_min_confidence(services.store, cfg),
    )  # fmt: skip
    events = [e for i in range(8) for e in stage.process(_inp(i))] + stage.finish()
    return [e for e in events if isinstance(e, CandidateRaised)]


def test_the_plate_confidence_policy_changes_the_stage_decision(services: Services, supervisor: Actor) -> None:
    assert len(_hits(services)) == 1  # 0.9 clears the deployment's 0.6

    policy.set_policy(services, supervisor, PLATE_MIN_CONFIDENCE, 0.95, "too many misreads at the gate")
    assert _hits(services) == []
    (change,) = services.store.governance.audit.list(action="policy.change")
    assert (change.object_id, change.actor, change.detail["old"], change.detail["new"]) == (
        PLATE_MIN_CONFIDENCE, "sam", 0.6, 0.95,
    )  # fmt: skip

    policy.set_policy(services, supervisor, PLATE_MIN_CONFIDENCE, 0.85, "gate camera refocused")
    assert len(_hits(services)) == 1


def test_a_laxer_bar_than_the_deployments_is_refused_and_recorded(services: Services, supervisor: Actor) -> None:
    with pytest.raises(PolicyError) as refused:
        policy.set_policy(services, supervisor, PLATE_MIN_CONFIDENCE, 0.2, "read more plates")
    assert str(refused.value) == (
        "plates.min_confidence must be a number from 0.600 (this deployment's plates.min_confidence) to 1.000; got 0.2"
    )
    assert services.store.governance.policies.get(PLATE_MIN_CONFIDENCE) is None
    (record,) = services.store.governance.audit.list(action="policy.refused")
    assert record.object_id == PLATE_MIN_CONFIDENCE and record.detail["value"] == 0.2
    assert len(_hits(services)) == 1
