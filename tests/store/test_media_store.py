"""MediaStore: atomic JPEG writes confined to the media root."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.core.errors import DataDirError, StoreError
from vigil.store import MediaStore, snapshot_path


def _image() -> np.ndarray:
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[:, :32] = (255, 0, 0)
    return image


def test_save_jpeg_round_trip_and_delete(tmp_path: Path) -> None:
    media = MediaStore(tmp_path / "media", redactor=_Recording())
    rel = media.save_jpeg("snapshots/cam/2026-03-01/e1.jpg", _image(), quality=95)
    assert rel == "snapshots/cam/2026-03-01/e1.jpg"
    decoded = cv2.imread(str(media.path_for(rel)))
    assert decoded is not None
    assert decoded.shape == (48, 64, 3)
    assert int(decoded[0, 0, 0]) > 200
    # No temporary files are left beside the result.
    assert [p.name for p in media.path_for(rel).parent.iterdir()] == ["e1.jpg"]
    assert media.exists(rel)
    assert media.delete(rel)
    assert not media.delete(rel)


def test_save_jpeg_replaces_atomically(tmp_path: Path) -> None:
    media = MediaStore(tmp_path, redactor=_Recording())
    media.save_jpeg("a.jpg", _image())
    media.save_jpeg("./a.jpg", np.full((10, 10), 128, dtype=np.uint8))
    decoded = cv2.imread(str(tmp_path / "a.jpg"))
    assert decoded is not None
    assert decoded.shape == (10, 10, 3)


@pytest.mark.parametrize(
    "rel",
    ["/etc/passwd", "../outside.jpg", "a/../../outside.jpg", "", ".", "a\\..\\b.jpg", "a\x00.jpg"],
)
def test_paths_escaping_the_root_are_refused(tmp_path: Path, rel: str) -> None:
    media = MediaStore(tmp_path / "media", redactor=_Recording())
    with pytest.raises(ValueError, match="media path"):
        media.save_jpeg(rel, _image())
    with pytest.raises(ValueError, match="media path"):
        media.delete(rel)
    assert not (tmp_path / "outside.jpg").exists()


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    media = MediaStore(tmp_path / "media", redactor=_Recording())
    (tmp_path / "media" / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="resolves outside"):
        media.save_jpeg("link/x.jpg", _image())


@pytest.mark.parametrize(
    ("image", "quality", "message"),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), 90, "uint8"),
        (np.zeros((4, 4, 4), dtype=np.uint8), 90, r"\(H, W, 3\)"),
        (np.zeros((0, 4, 3), dtype=np.uint8), 90, "empty"),
        (np.zeros((4, 4, 3), dtype=np.uint8), 0, "quality"),
    ],
)
def test_bad_images_are_refused(tmp_path: Path, image: np.ndarray, quality: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MediaStore(tmp_path, redactor=_Recording()).save_jpeg("x.jpg", image, quality=quality)


def test_unwritable_root_raises_data_dir_error(tmp_path: Path) -> None:
    # Below a regular file: fails even for root, which ignores permission bits.
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(DataDirError, match=r"file\.txt/media is not writable") as info:
        MediaStore(blocker / "media")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("camera_id", "when", "expected"),
    [
        ("cam-1", datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "snapshots/cam-1/2026-03-01/E.jpg"),
        ("../../etc", datetime(2026, 3, 1, tzinfo=UTC), "snapshots/_.._etc/2026-03-01/E.jpg"),
        ("front door/2", datetime(2026, 3, 1, tzinfo=UTC), "snapshots/front_door_2/2026-03-01/E.jpg"),
        # Dates are UTC: 01:00 at +02:00 is the previous day.
        (
            "c",
            datetime(2026, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            "snapshots/c/2026-03-01/E.jpg",
        ),
    ],
)
def test_snapshot_path(camera_id: str, when: datetime, expected: str) -> None:
    assert snapshot_path(camera_id, "E", when) == expected


def test_snapshot_path_rejects_naive_and_empty() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        snapshot_path("c", "e", datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="no usable characters"):
        snapshot_path("...", "e", datetime(2026, 3, 1, tzinfo=UTC))


class _Recording:
    """A stand-in redactor that records what it was given (the real one: tests/workers)."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], tuple[tuple[float, float, float, float], ...]]] = []
        self.cameras: list[str | None] = []

    def __call__(
        self,
        image: np.ndarray,  # type: ignore[type-arg]
        keep: Sequence[tuple[float, float, float, float]] = (),
        camera_id: str | None = None,
    ) -> np.ndarray:  # type: ignore[type-arg]
        self.calls.append((image.shape, tuple(keep)))
        self.cameras.append(camera_id)
        return image.copy()


def test_every_write_is_redacted_unless_a_reason_is_given(tmp_path: Path) -> None:
    redactor = _Recording()
    media = MediaStore(tmp_path / "media", redactor=redactor)
    media.save_jpeg("snapshots/a.jpg", _image())
    assert len(redactor.calls) == 1
    media.save_jpeg("snapshots/gate/b.jpg", _image(), camera_id="gate")
    assert redactor.cameras == [None, "gate"]  # the camera's plate policy reaches the redactor
    redactor.calls.pop()
    media.save_jpeg("faces/references/r.jpg", _image(), keep_regions=[(1, 2, 3, 4)])
    assert redactor.calls[-1][1] == ((1, 2, 3, 4),)
    media.save_jpeg("faces/probes/p.jpg", _image(), keep_faces="face candidate c-1")
    assert len(redactor.calls) == 2  # a named reason skips redaction
    with pytest.raises(ValueError, match="why"):
        media.save_jpeg("faces/probes/q.jpg", _image(), keep_faces="  ")
    # Fail closed: a store without a redactor refuses to keep an image that needs one.
    bare = MediaStore(tmp_path / "bare")
    with pytest.raises(StoreError, match="no redactor"):
        bare.save_jpeg("snapshots/b.jpg", _image())
    assert not (tmp_path / "bare" / "snapshots" / "b.jpg").exists()
