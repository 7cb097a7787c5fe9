"""The plate reader's candidate sources, batched reads and the US serial-plate O/0 rule (fake OCR)."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.plates.ctc import TextLine
from vigil.plates.formats import fit_formats, us_zero
from vigil.plates.hotlist import HotlistPlate, match_plate
from vigil.plates.localise import PlateCandidate
from vigil.plates.ocr import Quad, SceneTextEngine
from vigil.plates.reader import PlateReader


class SceneFakeOCR:
    """Finds one text line (the plate) in a scene and reads lines by their width."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.single = 0

    def recognise(self, image: np.ndarray) -> TextLine:
        self.single += 1
        return TextLine("", 0.0)

    def detect_lines(self, image: np.ndarray) -> list[Quad]:
        return []

    def detect_scene_lines(self, image: np.ndarray, max_side: int | None = None, seeds: object = ()) -> list[Quad]:
        return [np.array([[100, 200], [220, 200], [220, 230], [100, 230]], np.float32)]

    def recognise_many(self, images: list[np.ndarray]) -> list[TextLine]:
        self.batches.append(len(images))
        # The plate line is the only 120 px wide line (upscaled to 32 px high: 128 px wide).
        return [TextLine("7ABC123", 0.97) if im.shape[1] == 128 else TextLine("SALE", 0.9) for im in images]


def test_scene_text_lines_are_candidates_read_in_one_batch() -> None:
    ocr = SceneFakeOCR()
    assert isinstance(ocr, SceneTextEngine)
    reader = PlateReader(ocr, ("us",))
    scene = np.full((480, 640, 3), 120, np.uint8)
    reads = reader.read_scene(scene)
    assert reads and reads[0].text == "7ABC123"
    assert reads[0].box == (100.0, 200.0, 220.0, 230.0)
    assert len(ocr.batches) == 1 and ocr.single == 0


def test_scene_text_can_be_turned_off() -> None:
    ocr = SceneFakeOCR()
    reader = PlateReader(ocr, ("us",), scene_text="never")
    reads = reader.read_scene(np.full((480, 640, 3), 120, np.uint8))
    assert all(r.text != "7ABC123" for r in reads)


def test_us_plates_write_o_as_zero() -> None:
    assert us_zero("UH1FOF") == "UH1F0F"
    assert us_zero("GOFAST") == "G0FAST"
    assert fit_formats("OSG719", ("us",)).text == "0SG719"
    assert fit_formats("HLOKTY1", ("us",)).text == "HL0KTY1"
    assert fit_formats("GOFAST", ("us",)).text == "G0FAST"
    # Other regions' grammars decide O/0 by position, not by this rule.
    assert fit_formats("AB12OCD", ("uk",)).text == "AB12OCD"


def test_a_hotlist_entry_written_with_o_hits_a_read_written_with_zero() -> None:
    hits = match_plate("G0FAST", [HotlistPlate("h1", "GOFAST"), HotlistPlate("h2", "G0FASTX")])
    assert [(h.entry_id, h.fuzzy) for h in hits] == [("h1", False)]


class CountingSceneOCR(SceneFakeOCR):
    def __init__(self) -> None:
        super().__init__()
        self.scene_calls = 0

    def detect_scene_lines(self, image: np.ndarray, max_side: int | None = None, seeds: object = ()) -> list[Quad]:
        self.scene_calls += 1
        return super().detect_scene_lines(image)


def test_fallback_runs_the_scene_detector_only_without_a_strong_read(monkeypatch: pytest.MonkeyPatch) -> None:
    blank = np.full((480, 640, 3), 120, np.uint8)
    ocr = CountingSceneOCR()
    reads = PlateReader(ocr, ("us",), scene_text="fallback").read_scene(blank)
    assert ocr.scene_calls == 1 and reads[0].text == "7ABC123"  # nothing cheap found: detector ran
    # A cheap candidate reads strongly as 7ABC123: the detector is not run.
    row = PlateCandidate((300.0, 100.0, 418.5, 124.0), 7, 1.0)  # read at 128 px wide
    monkeypatch.setattr("vigil.plates.reader.find_plate_candidates", lambda *a: [row])
    ocr = CountingSceneOCR()
    reads = PlateReader(ocr, ("us",), scene_text="fallback").read_scene(blank)
    assert ocr.scene_calls == 0 and reads[0].text == "7ABC123"
    ocr = CountingSceneOCR()
    PlateReader(ocr, ("us",), scene_text="always").read_scene(blank)
    assert ocr.scene_calls == 1


class TwoLinesOCR(SceneFakeOCR):
    """A tall plate row and a small phone number; the reads' confidences are set per test."""

    def __init__(self, plate: float, phone: float) -> None:
        super().__init__()
        self.conf = {40: ("7ABC123", plate), 32: ("5551234", phone)}

    def detect_scene_lines(self, image: np.ndarray, max_side: int | None = None, seeds: object = ()) -> list[Quad]:
        return [
            np.array([[300, 50], [360, 50], [360, 65], [300, 65]], np.float32),  # 15 px high
            np.array([[100, 200], [220, 200], [220, 240], [100, 240]], np.float32),  # 40 px high
        ]

    def recognise_many(self, images: list[np.ndarray]) -> list[TextLine]:
        return [TextLine(*self.conf[im.shape[0]]) for im in images]


def test_near_ties_go_to_the_taller_row_and_scores_are_kept() -> None:
    scene = np.full((480, 640, 3), 120, np.uint8)
    reads = PlateReader(TwoLinesOCR(0.9, 0.99), ("us",), scene_text="always").read_scene(scene, max_reads=2)
    assert [r.text for r in reads] == ["7ABC123", "5551234"]
    assert reads[1].score > reads[0].score  # only the order changed
    # A much weaker tall row does not win over a confident one.
    reads = PlateReader(TwoLinesOCR(0.5, 0.99), ("us",), scene_text="always").read_scene(scene, max_reads=2)
    assert [r.text for r in reads] == ["5551234", "7ABC123"]


class EdgeShyLineOCR:
    """Finds the dark character line only with background around it, as the real text detector.

    A tight plate crop is all edge: read whole it gives a weaker, shorter string; its line read
    on its own gives the plate.
    """

    def __init__(self) -> None:
        self.searched: list[tuple[int, int]] = []

    def recognise(self, image: np.ndarray) -> TextLine:
        return TextLine("7ABC123", 0.98) if image.shape[0] > 60 else TextLine("ABC12", 0.7)

    def detect_lines(self, image: np.ndarray) -> list[Quad]:
        self.searched.append(image.shape[:2])
        ys, xs = np.nonzero(image[:, :, 0] < 60)
        h, w = image.shape[:2]
        y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        margin = 0.25 * (y2 - y1)
        if min(y1, x1, h - y2, w - x2) < margin:
            return []
        return [np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)]


def test_a_tight_plate_crop_gets_a_border_before_its_line_is_looked_for() -> None:
    crop = np.full((40, 120, 3), 230, np.uint8)
    crop[2:38, 4:116] = 20  # characters filling the crop, as in a detector box
    ocr = EdgeShyLineOCR()
    read = PlateReader(ocr, ("us",)).read_crop(crop)
    assert read is not None and read.text == "7ABC123" and read.closer
    # Upscaled to 96 px high (288 wide), then half a plate height of border on every side.
    assert ocr.searched == [(96 + 2 * 48, 288 + 2 * 48)]
    assert read.box == (0.0, 0.0, 120.0, 40.0)  # the crop's own box, not the bordered one


class WideRowOCR(SceneFakeOCR):
    """A scene line much wider than its plate (a bumper's edge read with it), read weakly; the closer
    look finds the plate's own line inside it and reads it well."""

    def detect_scene_lines(self, image: np.ndarray, max_side: int | None = None, seeds: object = ()) -> list[Quad]:
        return [np.array([[100, 200], [400, 200], [400, 230], [100, 230]], np.float32)]

    def recognise_many(self, images: list[np.ndarray]) -> list[TextLine]:
        return [TextLine("7ABC12", 0.6) for _ in images]

    def detect_lines(self, image: np.ndarray) -> list[Quad]:
        # The closer region (the row widened by 15 %, heightened by 35 % a side: 290 x 50 px at
        # (55, 190)) upscaled to 96 px high (x 1.92): the plate's line at x 50-150, y 10-40 of it.
        assert image.shape[0] == 96
        return [np.array([[96, 19.2], [288, 19.2], [288, 76.8], [96, 76.8]], np.float32)]

    def recognise(self, image: np.ndarray) -> TextLine:
        return TextLine("7ABC123", 0.98)


def test_a_closer_read_reports_the_box_of_the_line_it_read() -> None:
    """``CLOSER_LINE_BOX``: the box is where the text read is, in frame pixels, not the wide row."""
    reader = PlateReader(WideRowOCR(), ("us",), scene_text="always")
    (read,) = reader.read_scene(np.full((480, 640, 3), 120, np.uint8))
    assert read.text == "7ABC123" and read.closer
    assert read.box == pytest.approx((105.0, 200.0, 205.0, 230.0))
