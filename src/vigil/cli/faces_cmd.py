"""``vigil watchlist …``, ``vigil calibrate`` and ``vigil subject timeline``: the face watchlist.

The functions ``enrol_subject`` and ``run_calibration`` are the Python API behind the commands
(the REST API will call the same ones).

Every command writes the same audit record as the API does for the same use (same action names,
object types and detail keys, so the transparency report and audit filters count both), as
``cli:<name>`` with ``via: cli`` (:mod:`vigil.cli.audit`): a change in the transaction that makes
it, a read once it has been made.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from vigil.cli.audit import CliAuditor, need_reason
from vigil.cli.identity import signed_in
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.config import VigilConfig
from vigil.core.accountability import Authorisation
from vigil.core.clock import utcnow
from vigil.core.errors import InputError, NotFoundError
from vigil.core.ids import new_id
from vigil.core.instants import parse_typed_instant
from vigil.faces import IMAGE_SUFFIXES, FacePipeline, ImageFolderScan, read_image, scan_images
from vigil.governance.use_records import SubjectEnrolled, SubjectRemoved
from vigil.recognise import CalibrationResult, calibrate, fmr_key, operating_point
from vigil.services import policy, watchlist
from vigil.services import timeline as subject_timeline
from vigil.services.watchlist import Enrolment, ReferenceImage
from vigil.store.facade import Store
from vigil.store.faces import CalibrationRecord, SubjectRecord
from vigil.workers.faces_stage import load_face_pipeline
from vigil.workers.wiring import open_data_dir

watchlist_app = typer.Typer(help="The face watchlist: enrolled subjects only, each with a legal basis and an expiry.")
subject_app = typer.Typer(help="What is known about one watchlist subject.")
console = Console()
err = Console(stderr=True)


# -- Python API ------------------------------------------------------------------------------


def enrol_subject(
    cfg: VigilConfig,
    store: Store,
    *,
    subject_id: str,
    display_name: str,
    images: Sequence[Path],
    provenance: Sequence[str],
    authorisation: Authorisation,
    pipeline: FacePipeline | None = None,
    now: datetime | None = None,
    on_written: Callable[[Session, SubjectRecord], None] | None = None,
) -> SubjectRecord:
    """Enrol with an authorisation made already (the demo, test set-ups): the watchlist
    service's rules and write (:func:`vigil.services.watchlist.write_enrolment`). People enrol
    through ``vigil watchlist add``, signed in.

    Raises:
        PolicyError, InputError, ConflictError: one line naming the rule, image or id.
    """
    return watchlist.write_enrolment(
        cfg,
        store,
        open_data_dir(cfg),
        subject_id=subject_id,
        display_name=display_name,
        authorisation=authorisation,
        images=[ReferenceImage(p.name, p) for p in images],
        provenance=provenance,
        pipeline=pipeline,
        now=now,
        on_written=on_written,
    )


def _identity_images(root: Path) -> dict[str, list[Path]]:
    if not root.is_dir():
        raise InputError(f"{root}: not a directory (expected DIR/<identity>/<image>)")
    out: dict[str, list[Path]] = {}
    unreadable: list[Path] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        scan = scan_images(sub)
        unreadable.extend(scan.unreadable)
        if scan.readable:
            out[sub.name] = scan.readable
    if not out and unreadable:
        found = ImageFolderScan([], unreadable).formats_found()
        raise InputError(
            f"{root}: identity folders hold {len(unreadable)} files but none is an image OpenCV reads "
            f"(found {found}; readable: {' '.join(IMAGE_SUFFIXES)})"
        )
    if not out:
        raise InputError(f"{root}: no identity folders with images (expected DIR/<identity>/<image>)")
    if len(out) < 2:
        raise InputError(f"{root}: only one identity ({next(iter(out))}); calibration needs at least two")
    return out


def embed_largest_face(pipe: FacePipeline, path: Path) -> NDArray[np.float32] | None:
    """The embedding of the largest usable face in an image, or None when there is none."""
    image = read_image(path, pipe.cfg.max_image_megapixels)
    usable = [r for r in pipe.analyse(image, "photo") if r.embedding is not None]
    if not usable:
        return None
    best = max(usable, key=lambda r: (r.box[2] - r.box[0]) * (r.box[3] - r.box[1]))
    return best.embedding


def run_calibration(root: Path, pipe: FacePipeline) -> CalibrationResult:
    """Embed every image under ``root`` (LFW layout) and score all genuine and impostor pairs.

    Raises:
        InputError: not a directory, empty, a single identity, or too few faces found.
    """
    folders = _identity_images(root)
    embeddings: dict[str, list[NDArray[np.float32]]] = {}
    n_images = n_no_face = 0
    for identity, files in folders.items():
        for path in files:
            n_images += 1
            try:
                emb = embed_largest_face(pipe, path)
            except InputError as exc:
                err.print(f"skipped: {exc}", highlight=False)
                emb = None
            if emb is None:
                n_no_face += 1
            else:
                embeddings.setdefault(identity, []).append(emb)
    return calibrate(embeddings, embedder=pipe.embedder.name, n_images=n_images, n_no_face=n_no_face)


# -- commands --------------------------------------------------------------------------------


@watchlist_app.command("add")
def add(
    subject_id: str = typer.Argument(..., help="Stable id of the subject (e.g. a case reference)."),
    name: str = typer.Option(..., "--name", help="Display name shown to reviewers."),
    image: list[Path] = typer.Option(..., "--image", help="Reference image (repeat for several)."),
    provenance: list[str] = typer.Option(
        ..., "--provenance", help="Where each image came from (one, or one per image)."
    ),
    legal_basis: str = typer.Option("", "--legal-basis", help="Legal basis or authorisation reference."),
    authorised_by: str = typer.Option("", "--authorised-by", help="Who authorised the entry."),
    expires: str = typer.Option(..., "--expires", help="Expiry date (YYYY-MM-DD, UTC end of day) or ISO date-time."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Enrol a subject as the signed-in user (``vigil login``): every image must show exactly one
    usable face, or nothing is enrolled. The enrolment and its audit record (``watchlist.enrol``)
    are one transaction."""
    enrolment = Enrolment(subject_id, name, legal_basis, authorised_by, expires, tuple(provenance))
    with signed_in(config, data_dir) as (services, actor):
        record = watchlist.enrol(services, actor, enrolment, [ReferenceImage(p.name, p) for p in image])
        state = watchlist.state(services)
    fmr = (
        f"calibrated false-match rate {state.false_match_rate:.2e} per comparison"
        if state.false_match_rate is not None
        else "no calibrated false-match rate at this threshold"
    )
    console.print(
        f"enrolled {record.subject_id} ({record.display_name}) with {len(record.references)} image(s), "
        f"expires {record.expires_at:%Y-%m-%d}; watchlist {state.size}/{state.cap} subjects, {fmr} "
        f"(false alerts grow with watchlist size)",
        highlight=False,
    )


def _subject_dict(s: SubjectRecord, now: datetime) -> dict[str, object]:
    return {
        "subject_id": s.subject_id,
        "display_name": s.display_name,
        "legal_basis": s.legal_basis,
        "authorised_by": s.authorised_by,
        "enrolled_by": s.enrolled_by,
        "enrolled_at": s.enrolled_at.isoformat(),
        "expires_at": s.expires_at.isoformat(),
        "expired": s.expired(now),
        "references": [
            {"media": r.media_path, "provenance": r.provenance, "source": r.source_name, "face_px": round(r.face_px)}
            for r in s.references
        ],
    }


@watchlist_app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Every subject, with its expiry and who authorised it (audited: ``watchlist.list``)."""
    now = utcnow()
    with signed_in(config, data_dir) as (services, actor):
        subjects = watchlist.subjects(services, actor).items
        cap = services.config.faces.watchlist_cap
    if as_json:
        print(json.dumps([_subject_dict(s, now) for s in subjects]))
        return
    table = Table("subject", "name", "images", "legal basis", "authorised by", "enrolled by", "expires", "state")
    for s in subjects:
        table.add_row(
            s.subject_id,
            s.display_name,
            str(len(s.references)),
            s.legal_basis,
            s.authorised_by,
            s.enrolled_by,
            f"{s.expires_at:%Y-%m-%d}",
            "expired (not matched)" if s.expired(now) else "active",
        )
    console.print(table)
    console.print(f"{len(subjects)}/{cap} subjects")


@watchlist_app.command("show")
def show(
    subject_id: str = typer.Argument(...),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Everything recorded about one subject, as JSON (no embeddings; audited: ``watchlist.view``)."""
    with signed_in(config, data_dir) as (services, actor):
        record = watchlist.show(services, actor, subject_id)
    print(json.dumps(_subject_dict(record, utcnow()), indent=2))


@watchlist_app.command("remove")
def remove(
    subject_id: str = typer.Argument(...),
    reason: str | None = typer.Option(None, "--reason", help="Why it is removed (required; audited)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Remove a subject with its reference images and embeddings, as the signed-in user. The
    removal and its audit record (``watchlist.remove``, with the reason) are one transaction."""
    with signed_in(config, data_dir) as (services, actor):
        record = watchlist.remove(services, actor, subject_id, reason)
    console.print(f"removed {record.subject_id} and {len(record.references)} reference image(s)")


@watchlist_app.command("purge-expired")
def purge_expired(
    reason: str | None = typer.Option(None, "--reason", help="Why (optional; recorded with each removal)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Delete every expired subject's images and embeddings, as the signed-in user (each removal
    audited with it: ``watchlist.purge_expired``)."""
    with signed_in(config, data_dir) as (services, actor):
        purged = watchlist.purge_expired(services, actor, reason)
    ids = purged.subject_ids
    console.print(f"purged {len(ids)} expired subject(s){': ' + ', '.join(ids) if ids else ''}")


def calibrate_cmd(
    directory: Path = typer.Argument(..., help="DIR/<identity>/<image> (the LFW layout)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (last line of stdout)."),
    report: Path | None = typer.Option(None, "--report", help="Report directory (default <data_dir>/reports/…)."),
    set_threshold_fmr: float | None = typer.Option(
        None, "--set-threshold-fmr", min=1e-6, max=0.5, help="Make the threshold at this FMR the active one."
    ),
    reason: str | None = typer.Option(
        None, "--reason", help="Why the threshold changes (required with --set-threshold-fmr; recorded)."
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Measure genuine/impostor scores on a labelled set; optionally set the deployment threshold
    as the signed-in account (a policy change: the new calibration and its ``policy.change`` record
    of ``faces.threshold`` are one transaction; below the floor only a supervisor may)."""
    cfg = resolve_config(config, data_dir)
    if set_threshold_fmr is not None:
        # Who may change the threshold, and why, is settled before minutes of measuring.
        need_reason(reason, cfg.governance.min_reason_chars, "a threshold change")
        with signed_in(config, data_dir) as (services, actor):
            services.recorder(actor).allow(policy.CALIBRATE, object_type="calibration")
    pipe = load_face_pipeline(cfg)
    result = run_calibration(directory, pipe)
    calibration_id = new_id()
    out_dir = report or cfg.data_dir / "reports" / f"calibration-{calibration_id}"
    from vigil.recognise.report import write_report  # matplotlib: only calibration draws plots

    files = write_report(result, out_dir, str(directory))
    payload = result.to_json_dict()
    payload["report"] = [str(f) for f in files]
    if set_threshold_fmr is not None:
        key = fmr_key(set_threshold_fmr)
        point = result.points.get(key)
        if point is None:
            point = operating_point(result.scores, set_threshold_fmr)
        record = CalibrationRecord(
            calibration_id=calibration_id,
            created_at=utcnow(),
            dataset=str(directory.resolve()),
            embedder=result.embedder,
            n_images=result.n_images,
            n_no_face=result.n_no_face,
            n_genuine=result.n_genuine,
            n_impostor=result.n_impostor,
            eer=result.eer,
            target_fmr=set_threshold_fmr,
            measured_fmr=point.measured_fmr,
            threshold=point.threshold,
            tar=point.tar,
            set_by="",
            supervisor=None,
            active=True,
        )
        with signed_in(config, data_dir) as (services, actor):
            policy.set_calibrated_threshold(services, actor, record, reason)
        payload["calibration_id"] = calibration_id
        payload["active_threshold"] = round(point.threshold, 6)
        if not point.supported:
            err.print(
                f"warning: {result.n_impostor} impostor pairs cannot support an FMR of {set_threshold_fmr:g} "
                f"on their own (needs >= {round(10 / set_threshold_fmr):,}); calibrate on a larger set",
                highlight=False,
            )
    if not as_json:
        table = Table("target FMR", "threshold", "TAR", "measured FMR", "genuine pairs", "impostor pairs", "supported")
        for k, p in result.points.items():
            table.add_row(
                k, f"{p.threshold:.4f}", f"{p.tar:.4f}", f"{p.measured_fmr:.2e}", str(p.n_genuine),
                str(p.n_impostor), "yes" if p.supported else "no",
            )  # fmt: skip
        console.print(table)
        console.print(
            f"{result.n_images} images, {result.n_no_face} without a usable face; EER {result.eer:.4f}; "
            f"report in {out_dir}",
            highlight=False,
        )
    print(json.dumps(payload))


@subject_app.command("timeline")
def timeline(
    subject_id: str = typer.Argument(...),
    reason: str | None = typer.Option(
        None, "--reason", help="Why you follow this subject across cameras (required; audited)."
    ),
    camera: str | None = typer.Option(None, "--camera", help="Only this camera (required if your scope is limited)."),
    since: str | None = typer.Option(None, "--since", help="ISO date-time (UTC if no zone)."),
    until: str | None = typer.Option(None, "--until", help="ISO date-time (UTC if no zone)."),
    limit: int = typer.Option(1000, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Confirmed and pending sightings of a subject across cameras, oldest first. It follows one
    person, so it needs a signed-in account allowed to (``vigil login``) and a reason, and is
    audited (``subject.timeline``) as the API's and the web UI's are."""
    start = None if since is None else parse_typed_instant(since, "--since")
    end = None if until is None else parse_typed_instant(until, "--until")
    with signed_in(config, data_dir) as (services, actor):
        found = subject_timeline.timeline(
            services, actor, subject_id, reason=reason, camera_id=camera, since=start, until=end, limit=limit
        )
    records = found.sightings
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "candidate_id": c.candidate_id,
                        "camera_id": c.camera_id,
                        "occurred_at": c.occurred_at.isoformat(),
                        "status": c.status,
                        "score": c.score,
                        "flags": list(c.flags),
                    }
                    for c in records
                ]
            )
        )
        return
    if not records:
        console.print(f"no pending or confirmed sightings of {subject_id}")
        return
    table = Table("when (UTC)", "camera", "status", "score", "flags", "candidate")
    for c in records:
        table.add_row(
            f"{c.occurred_at:%Y-%m-%d %H:%M:%S}",
            c.camera_id,
            c.status,
            f"{c.score:.3f}",
            ", ".join(c.flags),
            c.candidate_id,
        )
    console.print(table)
    if found.truncated:
        console.print(f"more than {limit} sightings: narrow --since/--until or raise --limit")


def register(root: typer.Typer) -> None:
    """Add this feature's commands (sub-apps or commands) to the ``vigil`` app."""
    root.add_typer(watchlist_app, name="watchlist")
    root.add_typer(subject_app, name="subject")
    root.command("calibrate")(calibrate_cmd)


# -- demo ------------------------------------------------------------------------------------

DEMO_PORTRAIT = Path("samples/faces/astronaut.jpg")
DEMO_SUBJECT = "demo-astronaut"
DEMO_JOB = "demo"


def compose_demo_clip(portrait: Path, background: Path, out: Path, *, frames: int = 60, side_px: int = 260) -> Path:
    """A CONSTRUCTED clip: ``portrait`` slid across the first ``frames`` frames of a real clip.

    Raises:
        InputError: the portrait or the background cannot be read.
    """
    image = read_image(portrait, 50)
    face = cv2.resize(image, (side_px, side_px), interpolation=cv2.INTER_AREA)
    try:
        with av.open(str(background)) as src:
            backdrop = [f.to_ndarray(format="bgr24") for _, f in zip(range(frames), src.decode(video=0), strict=False)]
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"{background}: cannot read the demo background clip ({exc})") from exc
    if not backdrop:
        raise InputError(f"{background}: no frames")
    h, w = backdrop[0].shape[:2]
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i, frame in enumerate(backdrop):
            x = int(40 + i * (w - side_px - 80) / len(backdrop))
            canvas = frame.copy()
            canvas[h - side_px : h, x : x + side_px] = face
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="bgr24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


def run_faces_demo(cfg: VigilConfig, analyze: Callable[[Path, frozenset[str]], object]) -> None:
    """Enrol the public-domain portrait, analyse a constructed clip, show the candidate it raises
    (people confirm it, signed in as their own accounts)."""
    say = console.print
    say(
        "\n[bold]Face watchlist demo[/] (constructed clip: a public-domain NASA portrait over a real CC BY street clip)"
    )
    clip = compose_demo_clip(
        DEMO_PORTRAIT, Path("samples/people.mp4"), cfg.data_dir / "demo" / "constructed-watchlist.mp4"
    )
    expires = utcnow() + timedelta(days=min(30.0, cfg.faces.max_expiry_days))
    # The demo's changes are audited like anyone's, as the scripted job they are (no invented person).
    auditor = CliAuditor.job(DEMO_JOB)
    with Store.open(cfg.store_url) as store:
        with contextlib.suppress(NotFoundError):  # a previous demo run
            store.faces.remove(
                DEMO_SUBJECT,
                open_data_dir(cfg),
                on_written=SubjectRemoved(auditor, "watchlist.remove", "demo: replacing the previous demo run's entry"),
            )
        record = enrol_subject(
            cfg,
            store,
            subject_id=DEMO_SUBJECT,
            display_name="Eileen Collins (NASA portrait, demo)",
            images=[DEMO_PORTRAIT],
            provenance=["NASA, public domain, via scikit-image (samples/faces/README.md)"],
            authorisation=Authorisation("DEMO-0001 demonstration only", "Demo Supervisor", auditor.actor, expires),
            on_written=SubjectEnrolled(auditor),
        )
    say(f"1. enrolled {record.subject_id}: legal basis {record.legal_basis!r}, authorised by {record.authorised_by}, "
        f"expires {record.expires_at:%Y-%m-%d}")  # fmt: skip
    analyze(clip, frozenset({"faces"}))
    with Store.open(cfg.store_url) as store:
        pending = store.candidates.list(list_entry_id=DEMO_SUBJECT, status="pending", kind="face", limit=1)
        if not pending:
            say("2. no candidate was raised (unexpected: see `vigil candidates list`)")
            return
        c = pending[0]
        say(f"2. candidate {c.candidate_id}: score {c.score:.3f} >= threshold {c.threshold}; "
            f"probe {c.probe_media}; reference {c.reference_media}; actionable: {c.actionable}")  # fmt: skip
    # The demo does not decide: a decision is made by people signed in as their own accounts
    # (two different ones for a face), never under a name a program types.
    need = cfg.candidates.confirmations_for("face")
    say(f"3. it waits for {need} different account(s) to confirm it: "
        f"vigil login, then vigil candidates confirm {c.candidate_id} (or the Review page)")  # fmt: skip
    say(f"   try: vigil subject timeline {DEMO_SUBJECT} --reason 'demo walkthrough'; vigil watchlist list")
