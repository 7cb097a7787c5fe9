"""The face watchlist from the command line leaves the API's audit trail: the same actions, object
types and detail keys, as the signed-in account with ``via: cli`` (the watchlist service behind
both); changes audited in their transaction, refusals writing nothing, and ``vigil audit verify``
still proving the chain intact. (The demo and ``calibrate`` still name people with ``--by``.)

Real components: the ``vigil`` typer app (in process, on a temporary data dir), the real face
models and SQLite store, and the public-domain portrait the demo enrols.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from vigil.cli.audit import os_account
from vigil.cli.faces_cmd import DEMO_SUBJECT, enrol_subject, run_faces_demo
from vigil.cli.main import app
from vigil.config import VigilConfig
from vigil.core.accountability import Authorisation
from vigil.core.clock import utcnow
from vigil.core.errors import AccessDeniedError, AuthenticationError, InputError, NotFoundError, ReasonRequiredError
from vigil.events.candidates import CandidateRaised
from vigil.governance.auth import AuthService, principal_of
from vigil.store.audit import AuditRecord
from vigil.store.facade import Store
from vigil.store.faces import CalibrationRecord

REPO = Path(__file__).resolve().parents[2]
PORTRAIT = REPO / "samples" / "faces" / "astronaut.jpg"
LEGAL_BASIS = "WARRANT-42 test"
runner = CliRunner()

Vigil = Callable[..., Result]
SETUP = 6
"""Audit records the ``tokens`` fixture writes: three accounts and their tokens."""


@pytest.fixture
def cfg(tmp_path: Path, installed_models_dir: Path) -> VigilConfig:
    return VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir)


@pytest.fixture
def tokens(cfg: VigilConfig) -> dict[str, str]:
    """API tokens of the people in these tests, as ``vigil login`` would leave them."""
    out: dict[str, str] = {}
    with Store.for_config(cfg) as store:
        auth = AuthService(store.governance, cfg.governance.auth)
        for name, role in (("olu", "supervisor"), ("ann", "operator"), ("sam", "supervisor")):
            user = auth.add_user(name, "correct horse battery", role, None, actor="test")
            out[name] = auth.issue_token(principal_of(user, "session"), "test", 1)[0]
        assert len(store.governance.audit.list(limit=100)) == SETUP  # each account and token is recorded
    return out


@pytest.fixture
def vigil(cfg: VigilConfig, tokens: dict[str, str]) -> Vigil:
    """``vigil ARGS… --data-dir DATA`` in process, signed in as ``as_`` (default olu); the
    exception (if any) is on the result."""

    def invoke(*args: str, as_: str | None = "olu") -> Result:
        token = "" if as_ is None else tokens[as_]
        return runner.invoke(app, [*args, "--data-dir", str(cfg.data_dir)], env={"VIGIL_TOKEN": token})

    return invoke


def _audit(cfg: VigilConfig, action: str | None = None) -> list[AuditRecord]:
    with Store.open(cfg.store_url) as store:
        return store.governance.audit.list(action=action, limit=1000)


def _one_line_error(result: Result, kind: type[Exception], text: str) -> str:
    assert result.exit_code != 0
    assert isinstance(result.exception, kind), result.output
    message = str(result.exception)
    assert "\n" not in message and text in message, message
    return message


def _intact(vigil: Vigil) -> int:
    result = vigil("audit", "verify", "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout.strip().splitlines()[-1])
    assert verdict["ok"] is True and verdict["first_bad_seq"] is None
    return int(verdict["records"])


def _add(vigil: Vigil, subject_id: str, as_: str | None = "olu", days: int = 30) -> Result:
    expires = (datetime.now(UTC) + timedelta(days=days)).date().isoformat()
    return vigil(
        "watchlist", "add", subject_id, "--name", "Eileen", "--image", str(PORTRAIT),
        "--provenance", "NASA, public domain", "--legal-basis", LEGAL_BASIS,
        "--authorised-by", "Sam Supervisor", "--expires", expires, as_=as_,
    )  # fmt: skip


def _cli(record: AuditRecord, name: str) -> None:
    """The record was written from the command line by ``name`` (``cli:<name>``: a typed name)."""
    assert record.actor == f"cli:{name}"
    assert record.detail["via"] == "cli" and record.detail["os_user"] == os_account()


def _signed(record: AuditRecord, username: str) -> None:
    """The record was written from the command line by the account ``username``."""
    assert record.actor == username
    assert record.detail["via"] == "cli" and record.detail["os_user"] == os_account()[:100]


def test_enrolment_is_audited_with_it(cfg: VigilConfig, vigil: Vigil) -> None:
    refused = _add(vigil, "s-1", as_=None)
    _one_line_error(refused, AuthenticationError, "sign in first")
    denied = _add(vigil, "s-1", as_="ann")  # an operator may not enrol: refused, and that is recorded
    _one_line_error(denied, AccessDeniedError, "may not watchlist.manage")
    assert _audit(cfg, "watchlist.enrol") == []
    [attempt] = _audit(cfg, "access.denied")
    _signed(attempt, "ann")
    assert attempt.detail["attempted"] == "watchlist.manage" and attempt.object_id == "s-1"

    result = _add(vigil, "s-1")
    assert result.exit_code == 0, result.output
    with Store.open(cfg.store_url) as store:
        subject = store.faces.get("s-1")
    assert subject.enrolled_by == "olu"
    [record] = _audit(cfg, "watchlist.enrol")
    _signed(record, "olu")
    assert (record.object_type, record.object_id, record.reason) == ("face_subject", "s-1", LEGAL_BASIS)
    assert record.detail["authorised_by"] == "Sam Supervisor"
    assert record.detail["expires_at"] == subject.expires_at.isoformat()
    assert record.detail["reference_images"] == 1
    assert record.detail["provenance"] == ["NASA, public domain"]
    assert _intact(vigil) == SETUP + 2


def test_reads_of_the_watchlist_are_audited(cfg: VigilConfig, vigil: Vigil) -> None:
    assert _add(vigil, "s-1").exit_code == 0

    listed = vigil("watchlist", "list", "--json", as_="ann")
    assert listed.exit_code == 0, listed.output
    assert [s["subject_id"] for s in json.loads(listed.stdout)] == ["s-1"]
    [named] = _audit(cfg, "watchlist.list")
    _signed(named, "ann")
    assert named.object_type == "watchlist" and named.detail["results"] == 1

    shown = vigil("watchlist", "show", "s-1", as_="ann")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["subject_id"] == "s-1"
    _one_line_error(vigil("watchlist", "show", "nobody", as_="ann"), NotFoundError, "nobody")
    [view] = _audit(cfg, "watchlist.view")  # the failed read is not recorded as a view
    _signed(view, "ann")
    assert (view.object_type, view.object_id) == ("face_subject", "s-1")

    _one_line_error(vigil("watchlist", "list", as_=None), AuthenticationError, "sign in first")
    assert len(_audit(cfg, "watchlist.list")) == 1  # the refused list wrote nothing


def test_a_timeline_needs_an_account_and_a_reason_and_is_audited(cfg: VigilConfig, vigil: Vigil) -> None:
    assert _add(vigil, "s-1").exit_code == 0
    _one_line_error(
        vigil("subject", "timeline", "s-1", "--reason", "case 17", as_=None), AuthenticationError, "sign in first"
    )

    def signed(*args: str) -> Result:
        return vigil(*args, as_="ann")

    _one_line_error(signed("subject", "timeline", "s-1"), ReasonRequiredError, "a subject timeline needs a reason")
    assert _audit(cfg, "subject.timeline") == []
    timeline = signed("subject", "timeline", "s-1", "--json", "--reason", "case 17 review")
    assert timeline.exit_code == 0, timeline.output
    assert json.loads(timeline.stdout) == []
    [followed] = _audit(cfg, "subject.timeline")
    assert followed.actor == "ann" and followed.detail["via"] == "cli" and followed.detail["os_user"] == os_account()
    assert (followed.object_type, followed.object_id) == ("face_subject", "s-1")
    assert followed.reason == "case 17 review" and followed.detail["results"] == 0


def test_removal_needs_a_sign_in_and_a_reason_and_is_audited_with_it(cfg: VigilConfig, vigil: Vigil) -> None:
    assert _add(vigil, "s-1").exit_code == 0
    with Store.open(cfg.store_url) as store:
        image = cfg.data_dir / "media" / store.faces.get("s-1").references[0].media_path
    assert image.is_file()

    for args, who, kind, text in [
        ([], "sam", InputError, "removing a watchlist entry needs a reason (at least 5 characters)"),
        (["--reason", "gone"], "sam", InputError, "needs a reason (at least 5 characters)"),
        (["--reason", "case closed"], None, AuthenticationError, "sign in first"),
    ]:
        _one_line_error(vigil("watchlist", "remove", "s-1", *args, as_=who), kind, text)
        with Store.open(cfg.store_url) as store:
            assert store.faces.get("s-1").subject_id == "s-1"  # nothing removed
        assert image.is_file()
        assert _audit(cfg, "watchlist.remove") == []

    result = vigil("watchlist", "remove", "s-1", "--reason", "  case closed ", as_="sam")
    assert result.exit_code == 0, result.output
    with Store.open(cfg.store_url) as store, pytest.raises(NotFoundError):
        store.faces.get("s-1")
    assert not image.exists()
    [record] = _audit(cfg, "watchlist.remove")
    _signed(record, "sam")
    assert (record.object_type, record.object_id, record.reason) == ("face_subject", "s-1", "case closed")
    assert record.detail["reference_images"] == 1 and "expires_at" in record.detail
    assert _intact(vigil) == SETUP + 2


def test_purge_of_expired_entries_is_audited_per_subject(cfg: VigilConfig, vigil: Vigil) -> None:
    then = utcnow() - timedelta(days=10)
    with Store.open(cfg.store_url) as store:  # enrolled in the past, expired a day ago
        for sid in ("old-1", "old-2"):
            enrol_subject(
                cfg, store, subject_id=sid, display_name="Old", images=[PORTRAIT], provenance=["NASA, public domain"],
                authorisation=Authorisation(LEGAL_BASIS, "Sam Supervisor", "Olu Operator", then + timedelta(days=9)),
                now=then,
            )  # fmt: skip
    assert _add(vigil, "current").exit_code == 0

    _one_line_error(vigil("watchlist", "purge-expired", as_=None), AuthenticationError, "sign in first")
    with Store.open(cfg.store_url) as store:
        assert store.faces.count() == 3
    assert _audit(cfg, "watchlist.purge_expired") == []

    result = vigil("watchlist", "purge-expired", "--reason", "weekly purge", as_="sam")
    assert result.exit_code == 0, result.output
    assert "purged 2 expired subject(s)" in result.stdout
    with Store.open(cfg.store_url) as store:
        assert [s.subject_id for s in store.faces.list()] == ["current"]
    records = _audit(cfg, "watchlist.purge_expired")
    assert sorted(r.object_id or "" for r in records) == ["old-1", "old-2"]
    for record in records:
        _signed(record, "sam")
        assert record.object_type == "face_subject" and record.reason == "weekly purge"
        assert record.detail["reference_images"] == 1

    assert vigil("watchlist", "purge-expired", as_="sam").exit_code == 0  # nothing left to purge
    assert len(_audit(cfg, "watchlist.purge_expired")) == 2
    assert _intact(vigil) == SETUP + 3  # the enrolment of "current" and the two purges


def _small_labelled_set(shared_data: Path, root: Path) -> Path:
    """Two images of each of three identities of the deepface set (DIR/<identity>/<image>)."""
    source = shared_data / "faces" / "deepface" / "identities"
    for identity in sorted(p for p in source.iterdir() if p.is_dir())[:3]:
        (root / identity.name).mkdir(parents=True)
        for image in sorted(identity.iterdir())[:2]:
            shutil.copy(image, root / identity.name / image.name)
    return root


def test_threshold_change_is_audited_as_a_policy_change(
    cfg: VigilConfig, vigil: Vigil, shared_data: Path, tmp_path: Path
) -> None:
    labelled = _small_labelled_set(shared_data, tmp_path / "labelled")
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    previous = CalibrationRecord(
        calibration_id="cal-0", created_at=utcnow() - timedelta(days=1), dataset="earlier", embedder="sface",
        n_images=10, n_no_face=0, n_genuine=5, n_impostor=40, eer=0.1, target_fmr=1e-2, measured_fmr=0.01,
        threshold=0.55, tar=0.9, set_by="Earlier Person", supervisor=None, active=True,
    )  # fmt: skip
    with Store.open(cfg.store_url) as store:
        store.faces.set_calibration(previous, floor=cfg.faces.threshold_floor)
    args = ["calibrate", str(labelled), "--json", "--report", str(tmp_path / "report"), "--set-threshold-fmr", "1e-2"]

    _one_line_error(vigil(*args, "--reason", "new", as_="sam"), InputError, "a threshold change needs")
    _one_line_error(vigil(*args, "--reason", "quarterly recalibration", as_=None), AuthenticationError, "sign in")
    _one_line_error(vigil(*args, "--reason", "quarterly recalibration", as_="ann"), AccessDeniedError, "calibration")
    assert _audit(cfg, "policy.change") == []
    result = vigil(*args, "--reason", "quarterly recalibration", as_="sam")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    with Store.open(cfg.store_url) as store:
        active = store.faces.active_calibration()
    assert active is not None and active.calibration_id == out["calibration_id"] and active.set_by == "sam"
    [record] = _audit(cfg, "policy.change")
    _signed(record, "sam")
    assert (record.object_type, record.object_id) == ("policy", "faces.threshold")
    assert record.reason == "quarterly recalibration"
    assert record.detail["old"] == 0.55 and record.detail["new"] == active.threshold
    assert record.detail["calibration"] == active.calibration_id
    assert record.detail["target_fmr"] == 1e-2 and record.detail["measured_fmr"] == active.measured_fmr
    assert record.detail["below_floor"] == (active.threshold < cfg.faces.threshold_floor)
    assert record.detail["supervisor"] == ("sam" if record.detail["below_floor"] else None)
    assert _intact(vigil) == SETUP + 2  # the operator's refused attempt, and the change


def test_demo_enrolment_and_replacement_are_audited(cfg: VigilConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the demo reads samples/ relative to the repository
    analysed: list[Path] = []

    def no_analysis(clip: Path, features: frozenset[str]) -> None:  # no video analysis: no candidate
        analysed.append(clip)

    run_faces_demo(cfg, no_analysis)
    run_faces_demo(cfg, no_analysis)  # the second run replaces the first run's entry
    assert len(analysed) == 2
    enrolments = _audit(cfg, "watchlist.enrol")
    [removal] = _audit(cfg, "watchlist.remove")
    assert [r.object_id for r in enrolments] == [DEMO_SUBJECT, DEMO_SUBJECT]
    for record in [*enrolments, removal]:
        # The scripted job, beside the OS account that ran it: not an invented person's name.
        assert record.actor == "system:demo"
        assert record.detail["via"] == "cli" and record.detail["os_user"] == os_account()
    assert removal.reason and "demo" in removal.reason


def test_the_demo_leaves_the_decision_to_signed_in_people(
    cfg: VigilConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hole 2: the demo used to confirm its candidate as "Demo Reviewer", a typed name. Now it
    decides nothing: the candidate waits for accounts to confirm it."""
    monkeypatch.chdir(REPO)
    raised: list[str] = []

    def raise_a_candidate(clip: Path, features: frozenset[str]) -> None:  # stands in for the analysis
        event = CandidateRaised(
            camera_id="constructed-watchlist", occurred_at=utcnow(), kind="face", list_entry_id=DEMO_SUBJECT,
            score=0.9, threshold=0.45,
        )  # fmt: skip
        with Store.open(cfg.store_url) as store:
            store.events.add_many([event])
        raised.append(event.event_id)

    run_faces_demo(cfg, raise_a_candidate)
    assert _audit(cfg, "candidate.decide") == []
    with Store.open(cfg.store_url) as store:
        assert store.candidates.get(raised[0]).status == "pending"
    out = " ".join(capsys.readouterr().out.split())
    assert f"vigil candidates confirm {raised[0]}" in out and "2 different account(s)" in out


@pytest.mark.slow
def test_refused_removal_is_one_line_from_the_real_command(
    cfg: VigilConfig, vigil: Vigil, tokens: dict[str, str]
) -> None:
    """The ``vigil`` process itself: one ``error:`` line, exit status 1, nothing removed or audited."""
    assert _add(vigil, "s-1").exit_code == 0
    env = dict(os.environ, VIGIL_DATA_DIR=str(cfg.data_dir), VIGIL_MODELS_DIR=str(cfg.models_dir))
    for token, args in ((tokens["sam"], []), ("", ["--reason", "case closed"])):
        proc = subprocess.run(
            [sys.executable, "-m", "vigil.cli.main", "watchlist", "remove", "s-1", *args],
            capture_output=True, text=True, env={**env, "VIGIL_TOKEN": token}, timeout=120, check=False,
        )  # fmt: skip
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    with Store.open(cfg.store_url) as store:
        assert store.faces.count() == 1
    assert _audit(cfg, "watchlist.remove") == []
    assert _intact(vigil) == SETUP + 1
