"""Hole 4: policies drive behaviour or are refused.

``PUT /api/policies/faces.threshold`` with -1e308 used to return 200 while candidates kept using
0.45: nothing read the table. Now the value is bounded (the deployment's floor to 1), a refusal
is one line naming the range and is audited, and a value in range changes what the face matcher
decides, through the same reads the faces stage makes (and the lists bucket mirrors).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from api_support import Env

from vigil.store.policies import FACE_THRESHOLD
from vigil.workers.faces_stage import active_threshold
from vigil.workers.scale_lists import desired_lists

URL = f"/api/policies/{FACE_THRESHOLD}"


def _probe_scoring(env: Env, subject: str, score: float) -> np.ndarray:
    """A unit probe whose cosine similarity with ``subject``'s reference is ``score``."""
    gallery = env.store.faces.gallery("sface", 128)
    # (subjects, 128): the scores of each basis vector are the references' coordinates.
    ref = np.stack([gallery.scores(e) for e in np.eye(128, dtype=np.float32)], axis=1)
    subjects = sorted(gallery.subject_ids)
    r = ref[subjects.index(subject)]
    r = r / np.linalg.norm(r)
    other = np.random.default_rng(3).normal(size=128).astype(np.float32)
    other -= other.dot(r) * r
    other /= np.linalg.norm(other)
    return (score * r + np.sqrt(1 - score**2) * other).astype(np.float32)


def _decides(env: Env, probe: np.ndarray) -> str | None:
    """What the faces stage decides for ``probe`` now: the subject it raises a candidate for."""
    threshold = active_threshold(env.store, env.ctx.config, "sface").threshold
    match = env.store.faces.gallery("sface", 128).match(probe, threshold, datetime.now(UTC))
    return None if match is None else match.subject_id


def test_a_threshold_set_through_the_api_changes_the_candidate_decision(env: Env) -> None:
    sup = env.as_role("supervisor")
    probe = _probe_scoring(env, "subject-1", 0.6)
    assert active_threshold(env.store, env.ctx.config, "sface").source == "calibration"  # cal-1 at 0.40
    assert _decides(env, probe) == "subject-1"

    r = env.client.put(URL, json={"value": 0.7, "reason": "too many false alerts at gate 3"}, headers=sup)
    assert r.status_code == 200, r.text
    in_force = active_threshold(env.store, env.ctx.config, "sface")
    assert (in_force.threshold, in_force.source, in_force.false_match_rate) == (0.7, "policy", None)
    assert _decides(env, probe) is None
    (change,) = env.store.governance.audit.list(action="policy.change")
    assert change.object_id == FACE_THRESHOLD and change.actor == "supervisor-a"
    assert (change.detail["old"], change.detail["new"], change.detail["below_floor"]) == (0.4, 0.7, False)
    # Scale-out workers read the same policy from the lists bucket.
    mirrored = desired_lists(env.store)
    assert any(k.startswith("policy.") and b'"v": 0.7' in v for k, v in mirrored.items())

    r = env.client.put(URL, json={"value": 0.55, "reason": "back to a calibrated-like level"}, headers=sup)
    assert r.status_code == 200 and _decides(env, probe) == "subject-1"
    state = env.client.get("/api/faces/calibrations/active", headers=sup).json()
    assert state["threshold"] == 0.55 and state["source"] == "policy"

    # A calibration activated afterwards is the newer change, so it is in force again.
    r = env.client.post("/api/faces/calibrations/cal-0/activate", json={"reason": "recalibrated"}, headers=sup)
    assert r.status_code == 200, r.text
    assert active_threshold(env.store, env.ctx.config, "sface").threshold == 0.42
    changes = env.store.governance.audit.list(action="policy.change")
    assert [c.detail["new"] for c in changes] == [0.7, 0.55, 0.42]
    assert changes[-1].detail["old"] == 0.55 and changes[-1].detail["old_source"] == "policy"


def test_out_of_bounds_and_unknown_policies_are_refused_in_one_line_and_audited(env: Env) -> None:
    sup = env.as_role("supervisor")
    for value in (-1e308, 0.1, 1.5, "low", True):
        r = env.client.put(URL, json={"value": value, "reason": "more recall for event X"}, headers=sup)
        assert r.status_code == 422 and r.json()["error"] == "policy_violation", (value, r.text)
        message = r.json()["message"]
        assert "faces.threshold must be a number from 0.300 (this deployment's floor) to 1.000" in message, message
        assert "\n" not in message
    r = env.client.put("/api/policies/alerts.note", json={"value": "x", "reason": "testing a key"}, headers=sup)
    assert r.status_code == 422 and "unknown policy 'alerts.note'" in r.json()["message"]
    assert "faces.threshold" in r.json()["message"]

    assert env.client.get("/api/policies", headers=sup).json() == []
    assert env.store.governance.audit.list(action="policy.change") == []
    refused = env.store.governance.audit.list(action="policy.refused")
    assert [r.object_id for r in refused] == [FACE_THRESHOLD] * 5 + ["alerts.note"]
    assert refused[0].detail["value"] == -1e308 and "from 0.300" in refused[0].detail["refusal"]
    assert refused[0].actor == "supervisor-a" and refused[0].reason == "more recall for event X"
    assert active_threshold(env.store, env.ctx.config, "sface").threshold == 0.40
