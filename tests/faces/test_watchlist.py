"""Enrolment with the real models: the happy path, every refusal, and nothing half-enrolled."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.cli.faces_cmd import enrol_subject
from vigil.config import VigilConfig
from vigil.core.accountability import Authorisation
from vigil.core.errors import ConflictError, InputError, NotFoundError, PolicyError, VigilError
from vigil.faces import FacePipeline
from vigil.store.facade import Store
from vigil.workers.wiring import open_data_dir

from .conftest import PORTRAIT, authorisation


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width x height``: refused before any pixel is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _two_faces(path: Path) -> Path:
    img = cv2.imread(str(PORTRAIT))
    cv2.imwrite(str(path), np.hstack([img, img]))
    return path


def _no_face(path: Path) -> Path:
    cv2.imwrite(str(path), np.full((400, 400, 3), 127, np.uint8))
    return path


def _not_image(path: Path) -> Path:
    path.write_text("this is not an image\n")
    return path


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_enrol_show_gallery_remove(deployment: VigilConfig, store: Store, face_pipeline: FacePipeline) -> None:
    record = enrol_subject(
        deployment, store, subject_id="s-1", display_name="Eileen", images=[PORTRAIT],
        provenance=["NASA, public domain"], authorisation=authorisation(), pipeline=face_pipeline,
    )  # fmt: skip
    assert record.references[0].media_path.startswith("faces/references/")
    media = open_data_dir(deployment)
    assert media.exists(record.references[0].media_path)
    gallery = store.faces.gallery(face_pipeline.embedder.name)
    assert len(gallery) == 1
    probe = face_pipeline.reference(PORTRAIT).embedding
    now = datetime.now(UTC)
    match = gallery.match(probe, 0.5, now)
    assert match is not None and match.subject_id == "s-1"
    assert gallery.match(probe, 0.5, record.expires_at + timedelta(seconds=1)) is None  # expired at once
    store.faces.remove("s-1", media)
    assert not media.exists(record.references[0].media_path)
    with pytest.raises(NotFoundError):
        store.faces.get("s-1")


BAD: list[tuple[str, Callable[[Path], Path] | None, Authorisation | None, type[VigilError], str]] = [
    ("no face", _no_face, None, InputError, "no face found"),
    ("two faces", _two_faces, None, InputError, "2 usable faces"),
    ("not an image", _not_image, None, InputError, "not a readable image"),
    ("huge image", lambda p: _png_header_only(p, 9000, 9000), None, InputError, "above the limit of 50 MP"),
    ("enormous image", lambda p: _png_header_only(p, 30000, 30000), None, InputError, "above the limit of 50 MP"),
    ("missing file", lambda p: p / "missing.jpg", None, InputError, "no such file"),
    ("no legal basis", None, authorisation(legal_basis=""), PolicyError, "legal_basis is required"),
    ("expired", None, authorisation(days=-1), PolicyError, "in the past"),
    ("beyond max expiry", None, authorisation(days=400), PolicyError, "maximum of 180 days"),
]


@pytest.mark.parametrize(("case", "make_second", "auth", "error", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_enrols_nothing(
    deployment: VigilConfig,
    store: Store,
    face_pipeline: FacePipeline,
    tmp_path: Path,
    case: str,
    make_second: Callable[[Path], Path] | None,
    auth: Authorisation | None,
    error: type[VigilError],
    message: str,
) -> None:
    images = [PORTRAIT]
    if make_second is not None:
        target = tmp_path if case == "missing file" else tmp_path / "second.png"
        images.append(make_second(target))
    with pytest.raises(error, match=message) as info:
        enrol_subject(
            deployment, store, subject_id="s-bad", display_name="X", images=images, provenance=["test"],
            authorisation=auth or authorisation(), pipeline=face_pipeline,
        )  # fmt: skip
    assert "\n" not in str(info.value)
    if make_second is not None and case != "missing file":
        assert "second.png" in str(info.value)  # names the image
    assert store.faces.count() == 0
    assert _files(deployment.data_dir / "media") == []  # nothing half-enrolled


def test_duplicate_subject_and_cap(deployment: VigilConfig, store: Store, face_pipeline: FacePipeline) -> None:
    kw = {"display_name": "E", "images": [PORTRAIT], "provenance": ["p-1"], "pipeline": face_pipeline}
    enrol_subject(deployment, store, subject_id="dup", authorisation=authorisation(), **kw)  # type: ignore[arg-type]
    with pytest.raises(ConflictError, match="already enrolled"):
        enrol_subject(deployment, store, subject_id="dup", authorisation=authorisation(), **kw)  # type: ignore[arg-type]
    capped = deployment.model_copy(update={"faces": deployment.faces.model_copy(update={"watchlist_cap": 1})})
    with pytest.raises(PolicyError, match="cap"):
        enrol_subject(capped, store, subject_id="two", authorisation=authorisation(), **kw)  # type: ignore[arg-type]
    assert len(_files(deployment.data_dir / "media")) == 1


def test_purge_expired(deployment: VigilConfig, store: Store, face_pipeline: FacePipeline) -> None:
    enrol_subject(
        deployment, store, subject_id="old", display_name="E", images=[PORTRAIT], provenance=["p-1"],
        authorisation=authorisation(days=1), pipeline=face_pipeline,
    )  # fmt: skip
    media = open_data_dir(deployment)
    assert store.faces.purge_expired(media) == []
    assert store.faces.purge_expired(media, now=datetime.now(UTC) + timedelta(days=2)) == ["old"]
    assert store.faces.count() == 0 and _files(deployment.data_dir / "media") == []
