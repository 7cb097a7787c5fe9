"""draw_tracks and AnnotatedVideoWriter: boxes on copies, MP4s that decode, no partial files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from vigil.core.classes import COCO_NAMES
from vigil.core.detections import Detections
from vigil.workers.annotate import AnnotatedVideoWriter, draw_tracks

Image = NDArray[np.uint8]


def gray(width: int = 320, height: int = 240, value: int = 128) -> Image:
    return np.full((height, width, 3), value, dtype=np.uint8)


def moving_square(index: int, width: int, height: int) -> Image:
    """A frame with a bright square that moves, so the encoder has something to encode."""
    image = gray(width, height, 40)
    x = (index * 7) % max(1, width - 40)
    image[10:50, x : x + 40] = (0, 200, 255)
    return image


def tracked(*rows: tuple[tuple[float, float, float, float], int, int]) -> Detections:
    """Rows of ``(box, class id, tracker id)``."""
    return Detections(
        xyxy=np.array([r[0] for r in rows], dtype=np.float32),
        confidence=np.full(len(rows), 0.87, dtype=np.float32),
        class_id=np.array([r[1] for r in rows], dtype=np.int64),
        tracker_id=np.array([r[2] for r in rows], dtype=np.int64),
    )


def decode(path: Path) -> list[Image]:
    with av.open(str(path)) as container:
        return [np.asarray(f.to_ndarray(format="bgr24"), dtype=np.uint8) for f in container.decode(video=0)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- draw_tracks -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "box",
    [(60.0, 80.0, 200.0, 220.0), (0.0, 0.0, 100.0, 60.0), (250.0, 150.0, 319.0, 239.0)],
    ids=["inside", "top-left-corner", "bottom-right-corner"],
)
@pytest.mark.parametrize("tracker_id", [3, -1])
def test_draw_tracks_draws_the_box_edges_on_a_copy(box: tuple[float, float, float, float], tracker_id: int) -> None:
    image = gray()
    before = image.copy()
    out = draw_tracks(image, tracked((box, 0, tracker_id)), COCO_NAMES)
    np.testing.assert_array_equal(image, before)  # input untouched
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out is not image
    x1, y1, x2, y2 = (round(v) for v in box)
    changed = (out != before).any(axis=2)
    # every edge of the rectangle is drawn (the label may cover the top edge; it changes pixels too)
    assert changed[y2, x1 : x2 + 1].all(), "bottom edge"
    assert changed[y1 : y2 + 1, x1].all(), "left edge"
    assert changed[y1 : y2 + 1, x2].all(), "right edge"
    assert changed[y1, x1 : x2 + 1].all(), "top edge"
    # the middle of a big box is left alone, so the object stays visible
    if (x2 - x1) > 60 and (y2 - y1) > 60:
        assert not changed[(y1 + y2) // 2, (x1 + x2) // 2]
    # nothing is drawn below or left of the box (the label sits at its top-left, inside or above)
    assert not changed[y2 + 2 :, :].any()
    assert not changed[:, : max(0, x1 - 2)].any()


def test_draw_tracks_with_no_tracks_returns_an_equal_copy() -> None:
    image = gray()
    out = draw_tracks(image, Detections.empty(), COCO_NAMES)
    np.testing.assert_array_equal(out, image)
    assert not np.shares_memory(out, image)


def test_draw_tracks_colours_differ_by_track_id() -> None:
    image = gray(400, 200)
    out = draw_tracks(image, tracked(((20, 60, 120, 180), 0, 1), ((220, 60, 320, 180), 2, 2)), COCO_NAMES)
    left, right = out[180, 70], out[180, 270]  # a pixel on each box's bottom edge
    assert not np.array_equal(left, right)


# -- AnnotatedVideoWriter --------------------------------------------------------------
@pytest.mark.parametrize(
    ("width", "height", "fps", "frames"),
    [(320, 240, 5.0, 12), (321, 241, 5.0, 7), (64, 47, 10.0, 3), (640, 360, 12.5, 1)],
    ids=["even", "odd-both", "odd-height", "one-frame"],
)
def test_writer_produces_an_mp4_with_the_same_frames(
    tmp_path: Path, width: int, height: int, fps: float, frames: int
) -> None:
    target = tmp_path / "out" / "annotated.mp4"  # the folder is created on demand
    with AnnotatedVideoWriter(target, fps) as writer:
        for i in range(frames):
            writer.write(moving_square(i, width, height))
    assert writer.frames_written == frames
    assert leftovers(target.parent) == ["annotated.mp4"]
    decoded = decode(target)
    assert len(decoded) == frames
    assert decoded[0].shape == (height - height % 2, width - width % 2, 3)
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert float(stream.average_rate or 0) == pytest.approx(fps, rel=0.01)
    # lossy, but recognisably the same picture
    expected = moving_square(frames - 1, width, height)[: height - height % 2, : width - width % 2]
    assert np.abs(decoded[-1].astype(int) - expected.astype(int)).mean() < 8


@pytest.mark.parametrize("frames", [0, 3])
def test_close_keep_false_leaves_no_file(tmp_path: Path, frames: int) -> None:
    target = tmp_path / "annotated.mp4"
    writer = AnnotatedVideoWriter(target, 5.0)
    for i in range(frames):
        writer.write(moving_square(i, 160, 120))
    writer.close(keep=False)
    assert leftovers(tmp_path) == []


def test_closing_without_frames_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "annotated.mp4"
    AnnotatedVideoWriter(target, 5.0).close()
    assert leftovers(tmp_path) == []


class CaptureLostError(Exception):
    """Stands for whatever interrupts a run while the writer is open."""


def write_then_fail(target: Path, frames: int) -> None:
    with AnnotatedVideoWriter(target, 5.0) as writer:
        for i in range(frames):
            writer.write(moving_square(i, 160, 120))
        raise CaptureLostError


def test_an_exception_inside_with_leaves_no_file_and_propagates(tmp_path: Path) -> None:
    with pytest.raises(CaptureLostError):
        write_then_fail(tmp_path / "annotated.mp4", frames=4)
    assert leftovers(tmp_path) == []


def test_a_failed_run_does_not_replace_an_earlier_good_video(tmp_path: Path) -> None:
    target = tmp_path / "annotated.mp4"
    with AnnotatedVideoWriter(target, 5.0) as writer:
        for i in range(3):
            writer.write(moving_square(i, 160, 120))
    good = target.read_bytes()
    with pytest.raises(CaptureLostError):
        write_then_fail(target, frames=1)
    assert target.read_bytes() == good
    assert leftovers(tmp_path) == ["annotated.mp4"]
