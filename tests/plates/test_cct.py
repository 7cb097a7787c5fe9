"""The plate-trained CCT recogniser: decoding, the country head picking the grammar, PP-OCR as the
second opinion, and loading (its fallback and its checks) from the installed models."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from vigil.config.plates import PlatesConfig
from vigil.core.errors import ModelError, ModelMissingError
from vigil.models.install import RECORD
from vigil.plates.cct import CctRead, CctRecogniser
from vigil.plates.ctc import TextLine
from vigil.plates.eval import load_labels, read_image
from vigil.plates.formats import fit_region
from vigil.plates.ocr import Quad
from vigil.plates.reader import CHOSEN_VIEWS, CROP_BORDERS, PlateReader, _turned, _with_border
from vigil.plates.text import PLATE_CHARS, PLATE_INDEX
from vigil.workers import plates_stage
from vigil.workers.plates_stage import build_cct, build_plate_reader

ALPHABET = PLATE_CHARS + "_"


def slots_for(text: str, slots: int = 10, p: float = 0.9, second: dict[int, str] | None = None) -> np.ndarray:
    """Per-slot probabilities that read ``text`` (padded), with probability ``p`` on each character
    and the rest on the slot's second choice (``second``: slot → character) or spread evenly."""
    out = np.full((slots, len(ALPHABET)), 0.0, np.float32)
    for s in range(slots):
        ch = text[s] if s < len(text) else "_"
        k = ALPHABET.index(ch)
        out[s, :] = (1 - p) / (len(ALPHABET) - 1)
        out[s, k] = p
        if second and s in second:
            out[s, :] = 0.0
            out[s, k] = p
            out[s, ALPHABET.index(second[s])] = 1 - p
    return out


class FakeSession:
    """Stands in for ONNX Runtime: returns given outputs per call, records the batch sizes."""

    def __init__(self, plates: list[np.ndarray], regions: list[np.ndarray] | None = None) -> None:
        self.plates = plates
        self.regions = regions
        self.batches: list[tuple[int, ...]] = []

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        self.batches.append(batch.shape)
        n = batch.shape[0]
        out = [np.stack(self.plates[:n])]
        self.plates = self.plates[n:]
        if len(names) == 2:
            assert self.regions is not None
            out.append(np.stack(self.regions[:n]))
            self.regions = self.regions[n:]
        return out


REGIONS = ("Brazil", "United Kingdom", "United States", "Thailand", "Unknown")


def country(name: str, p: float = 0.95) -> np.ndarray:
    out = np.full(len(REGIONS), (1 - p) / (len(REGIONS) - 1), np.float32)
    out[REGIONS.index(name)] = p
    return out


def recogniser(session: FakeSession, *, regions: bool = True, fixed_batch: bool = False) -> CctRecogniser:
    return CctRecogniser(
        session,
        name="plates-cct",
        alphabet=ALPHABET,
        pad_char="_",
        height=64,
        width=128,
        region_output="region" if regions else None,
        regions=REGIONS if regions else (),
        fixed_batch=fixed_batch,
    )


def plate_image() -> np.ndarray:
    return np.full((40, 120, 3), 200, np.uint8)


def test_decoding_drops_the_pad_keeps_alternatives_and_the_country() -> None:
    session = FakeSession([slots_for("ABC1234", p=0.8, second={3: "I"})], [country("Brazil")])
    (read,) = recogniser(session).read([plate_image()])
    assert (read.text, read.country) == ("ABC1234", "Brazil")
    assert read.confidence == pytest.approx(0.8)
    assert read.country_confidence == pytest.approx(0.95)
    assert read.alternatives.shape == (7, 36)
    assert np.allclose(read.alternatives.sum(axis=1), 1.0)
    assert read.alternatives[3, PLATE_INDEX["I"]] == pytest.approx(0.2)
    assert session.batches == [(1, 64, 128, 3)]  # resized to the graph's input, RGB uint8


def test_one_batch_for_many_crops_and_one_by_one_for_a_fixed_batch_graph() -> None:
    crops = [plate_image(), np.zeros((0, 0, 3), np.uint8), plate_image()]
    session = FakeSession([slots_for("AB12"), slots_for("CD34")], [country("Thailand")] * 2)
    reads = recogniser(session).read(crops)
    assert [r.text for r in reads] == ["AB12", "", "CD34"]  # an empty crop reads as nothing
    assert session.batches == [(2, 64, 128, 3)]
    fixed = FakeSession([slots_for("AB12"), slots_for("CD34")])
    assert [r.text for r in recogniser(fixed, regions=False, fixed_batch=True).read(crops)] == ["AB12", "", "CD34"]
    assert fixed.batches == [(1, 64, 128, 3), (1, 64, 128, 3)]


def with_partner(v2: FakeSession, partner: CctRecogniser) -> CctRecogniser:
    """The v2 recogniser (region head) with ``partner`` as its second graph."""
    return CctRecogniser(
        v2,
        name="plates-cct",
        alphabet=ALPHABET,
        pad_char="_",
        height=64,
        width=128,
        region_output="region",
        regions=REGIONS,
        partner=partner,
    )


def test_a_partner_graphs_probabilities_are_averaged_slot_by_slot() -> None:
    # v2 leans to 'B' in the first slot (0.6), v1 (9 slots, no region head) is sure of '8' (0.9).
    v2 = FakeSession([slots_for("B951283", p=0.6, second={0: "8"})], [country("United States")])
    v1 = FakeSession([slots_for("8951283", slots=9, p=0.9, second={0: "B"})])
    partner = CctRecogniser(v1, name="plates-cct-v1", alphabet=ALPHABET, pad_char="_", height=64, width=128)
    alone = recogniser(FakeSession([slots_for("B951283", p=0.6, second={0: "8"})], [country("United States")]))
    assert alone.read([plate_image()])[0].text == "B951283"
    both = with_partner(v2, partner)
    (read,) = both.read([plate_image()])
    assert (read.text, read.country) == ("8951283", "United States")
    assert read.least == pytest.approx(0.65)  # (0.4 + 0.9) / 2
    assert both.partner_name == "plates-cct-v1" and len(v1.batches) == 1


def test_several_views_of_one_plate_are_averaged_over_views_and_graphs() -> None:
    # Three crops of one plate: v2 reads 'B' first in two of them (0.6) and '8' in one (0.9); v1
    # leans to '8' (0.7) in all three. Averaged over the views, then the two graphs: '8' wins,
    # where v2 on the first view alone reads 'B'.
    v2 = FakeSession(
        [
            slots_for("B951283", p=0.6, second={0: "8"}),
            slots_for("B951283", p=0.6, second={0: "8"}),
            slots_for("8951283", p=0.9, second={0: "B"}),
        ],
        [country("United States"), country("United States"), country("Brazil", p=0.5)],
    )
    v1 = FakeSession([slots_for("8951283", slots=9, p=0.7, second={0: "B"})] * 3)
    partner = CctRecogniser(v1, name="plates-cct-v1", alphabet=ALPHABET, pad_char="_", height=64, width=128)
    both = with_partner(v2, partner)
    empty = np.zeros((0, 0, 3), np.uint8)
    read = both.read_views([plate_image(), plate_image(), empty, plate_image()])
    assert (read.text, read.country) == ("8951283", "United States")
    # '8' in slot 0: v2 (0.4 + 0.4 + 0.9) / 3, v1 0.7, then their mean.
    assert read.alternatives[0, PLATE_INDEX["8"]] == pytest.approx((1.7 / 3 + 0.7) / 2, rel=1e-3)
    assert v2.batches == [(3, 64, 128, 3)] and v1.batches == [(3, 64, 128, 3)]  # the empty view left out
    assert both.read_views([empty]).text == ""


class GreySession:
    """Stands in for ONNX Runtime, safe to run from several threads: reads each crop as the text
    ``texts`` gives for its grey level; records each run's batch size and thread."""

    def __init__(self, texts: dict[int, str], slots: int = 10, p: float = 0.9) -> None:
        self.texts, self.slots, self.p = texts, slots, p
        self.runs: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        with self._lock:
            self.runs.append((len(batch), threading.get_ident()))
        return [np.stack([slots_for(self.texts[int(im[0, 0, 0])], slots=self.slots, p=self.p) for im in batch])]


def grey(level: int) -> np.ndarray:
    return np.full((40, 120, 3), level, np.uint8)


def test_with_two_workers_the_graphs_run_side_by_side_and_read_as_one_at_a_time() -> None:
    texts = {10: "AB1234", 20: "CD5678", 30: "EF9012", 40: "GH3456", 50: "JK7890"}

    def pair(workers: int) -> tuple[CctRecogniser, GreySession, GreySession]:
        v2, v1 = GreySession(texts, p=0.6), GreySession(texts, slots=9, p=0.8)
        partner = CctRecogniser(v1, name="plates-cct-v1", alphabet=ALPHABET, pad_char="_", height=64, width=128)
        lead = CctRecogniser(
            v2,
            name="plates-cct",
            alphabet=ALPHABET,
            pad_char="_",
            height=64,
            width=128,
            partner=partner,
            workers=workers,
        )
        return lead, v2, v1

    one, one_v2, one_v1 = pair(1)
    two, two_v2, two_v1 = pair(2)
    views = [grey(10), grey(10)]
    assert two.read_views(views) == one.read_views(views)
    assert two.read_views(views).least == pytest.approx(0.7)  # (0.6 + 0.8) / 2: both graphs in
    # v2 beside v1: one run each, on two threads; one worker runs both on the calling thread.
    assert [n for n, _ in two_v2.runs] == [2, 2] and [n for n, _ in two_v1.runs] == [2, 2]
    assert two_v2.runs[0][1] != two_v1.runs[0][1]
    assert one_v2.runs[0][1] == one_v1.runs[0][1] == threading.get_ident()
    # A batch read by v2 alone is split between the two workers, and read in order.
    crops = [grey(level) for level in texts]
    assert [r.text for r in two.read(crops, with_partner=False)] == list(texts.values())
    assert [n for n, _ in two_v2.runs[2:]] == [3, 2] and len({t for _, t in two_v2.runs[2:]}) == 2
    assert [r.text for r in one.read(crops, with_partner=False)] == list(texts.values())
    assert [n for n, _ in one_v2.runs[1:]] == [5]
    assert two.calls == 3 and two_v1.runs[2:] == []  # one call a read, however it is split
    with pytest.raises(ValueError, match="workers"):
        pair(0)


def test_a_strict_grammar_fixes_only_what_the_recogniser_found_likely() -> None:
    # Brazil LLLDLDD: slot 3 read 'I' where a digit belongs; the recogniser's second choice is '1'.
    text = "ABCI234"
    probs = np.zeros((7, 36), np.float32)
    for i, ch in enumerate(text):
        probs[i, PLATE_INDEX[ch]] = 1.0
    probs[3] = 0.0
    probs[3, PLATE_INDEX["I"]], probs[3, PLATE_INDEX["1"]] = 0.6, 0.4
    assert fit_region(text, probs, "br").text == "ABC1234"
    # Confident in the letter (1 % for the digit): a layout the grammar does not list, kept as read.
    probs[3, PLATE_INDEX["I"]], probs[3, PLATE_INDEX["1"]] = 0.99, 0.01
    kept = fit_region(text, probs, "br")
    assert (kept.text, kept.region, kept.strict) == ("ABCI234", "br", False)


def reader_with(plates: list[np.ndarray], regions: list[np.ndarray] | None, ocr: object) -> PlateReader:
    """A reader whose recogniser gives each of ``plates`` (and ``regions``) for every view of a crop."""
    views = len(CROP_BORDERS)
    per_view = regions and [r for r in regions for _ in range(views)]
    session = FakeSession([p for p in plates for _ in range(views)], per_view)
    return PlateReader(ocr, ("us",), cct=recogniser(session, regions=regions is not None))  # type: ignore[arg-type]


def test_a_crop_is_read_with_and_without_a_border_in_one_batch() -> None:
    # The crop as it is reads 'B' first (0.6), the bordered crop '8' (0.9): averaged, '8' wins.
    session = FakeSession(
        [slots_for("B951283", p=0.6, second={0: "8"}), slots_for("8951283", p=0.9, second={0: "B"})],
        [country("United States")] * 2,
    )
    read = PlateReader(LineOCR("X"), ("us",), cct=recogniser(session)).read_crop(plate_image())  # type: ignore[arg-type]
    assert CROP_BORDERS == (0.0, 0.05)
    assert read is not None and read.text == "8951283"
    (shape,) = session.batches
    assert shape == (2, 64, 128, 3)  # both views, one call
    bordered = _with_border(plate_image(), 0.05)
    h, w = plate_image().shape[:2]
    assert bordered.shape[:2] == (h + 2 * max(1, round(0.05 * h)), w + 2 * max(1, round(0.05 * w)))
    assert _with_border(plate_image(), 0.0).shape == plate_image().shape


def test_a_turned_view_keeps_its_size_and_turns_counter_clockwise() -> None:
    image = np.full((40, 120, 3), 255, np.uint8)
    image[18:22, 10:110] = 0  # a level dark bar through the centre
    assert _turned(image, 0.0) is image
    turned = _turned(image, 3.0)
    assert turned.shape == image.shape
    # Counter-clockwise: the bar's right end rises (smaller y), its left end falls.
    right = np.flatnonzero(turned[:, 100, 0] < 128).mean()
    left = np.flatnonzero(turned[:, 20, 0] < 128).mean()
    assert right < 20 < left


class LineOCR:
    """PP-OCR stand-in: reads every line as ``text``; counts its calls."""

    def __init__(self, text: str, confidence: float = 0.99) -> None:
        self.text = text
        self.confidence = confidence
        self.calls = 0

    def recognise(self, image: np.ndarray) -> TextLine:
        self.calls += 1
        return TextLine(self.text, self.confidence)

    def detect_lines(self, image: np.ndarray) -> list[Quad]:
        return []


def test_the_country_picks_the_grammar_and_a_read_carries_it() -> None:
    # Read 'ABC1D23' with the 'D' unsure against '0': a Brazilian Mercosul plate (LLLDLDD) keeps
    # its letter; the same read from a US plate is fitted the US way (loose, O as 0).
    plates = [slots_for("ABC1D23", p=0.95)]
    read = reader_with(plates, [country("Brazil")], LineOCR("X")).read_crop(plate_image())
    assert read is not None
    assert (read.text, read.region, read.strict, read.country, read.reader) == (
        "ABC1D23",
        "br",
        True,
        "Brazil",
        "plates-cct",
    )
    uk = reader_with([slots_for("AB12CDE", p=0.95)], [country("United Kingdom")], LineOCR("X")).read_crop(plate_image())
    assert uk is not None and (uk.region, uk.strict) == ("uk", True)
    thai = reader_with([slots_for("1KW5678", p=0.95)], [country("Thailand")], LineOCR("X")).read_crop(plate_image())
    assert thai is not None and (thai.text, thai.region, thai.country) == ("1KW5678", None, "Thailand")


def test_an_unsure_country_falls_back_to_the_deployments_regions() -> None:
    read = reader_with([slots_for("OSG719", p=0.97)], [country("Brazil", p=0.3)], LineOCR("X")).read_crop(plate_image())
    assert read is not None and (read.text, read.region) == ("0SG719", "us")  # the deployment's 'us'
    assert read.country == "Brazil" and read.country_confidence == pytest.approx(0.3)


def test_pp_ocr_is_asked_only_when_the_recogniser_is_unsure() -> None:
    sure = LineOCR("7ABC123")
    read = reader_with([slots_for("7ABC128", p=0.97)], [country("United States")], sure).read_crop(plate_image())
    assert read is not None and read.text == "7ABC128" and sure.calls == 0
    unsure = LineOCR("7ABC123", confidence=0.99)
    read = reader_with([slots_for("7ABC128", p=0.5)], [country("United States")], unsure).read_crop(plate_image())
    assert unsure.calls >= 1
    assert read is not None and (read.text, read.reader, read.country) == ("7ABC123", "ppocr", "United States")


# -- the real models -------------------------------------------------------------------------------


def test_the_installed_recogniser_reads_real_plates(installed_models_dir: Path, shared_data: Path) -> None:
    _, items = load_labels(shared_data / "plates" / "crops")
    cct = build_cct("cct", installed_models_dir, 2)
    assert cct is not None and cct.name == "plates-cct" and cct.has_region_head
    assert cct.partner_name == "plates-cct-v1"  # both installed: their probabilities are averaged
    sample = items[:12]
    reads: list[CctRead] = cct.read([read_image(i.image) for i in sample])
    right = sum(r.text.replace("O", "0") == i.plate.replace("O", "0") for r, i in zip(reads, sample, strict=True))
    assert right >= 10, [(r.text, i.plate) for r, i in zip(reads, sample, strict=True)]
    assert sum(r.country == "United States" for r in reads) >= 10
    # Both graphs' threads wait without spinning (small graphs, shared cores: docs/plates.md), and
    # the two graphs run side by side, one intra-op thread each (CCT_PARALLEL).
    assert cct.workers == 2
    for graph in (cct, cct._partner):
        assert graph is not None
        options = graph._session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert options.intra_op_num_threads == 1
    # The same numbers, bit for bit, as one graph at a time on two intra-op threads.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plates_stage, "CCT_PARALLEL", False)
        serial = build_cct("cct", installed_models_dir, 2)
    assert serial is not None and serial.workers == 1 and serial._partner is not None
    assert serial._session.get_session_options().intra_op_num_threads == 2
    crops = [read_image(i.image) for i in sample[:5]]
    for partner in (True, False):
        now = cct._run_graphs(crops, cct._partner if partner else None)
        before = serial._run_graphs(crops, serial._partner if partner else None)
        assert np.array_equal(now[0][0], before[0][0])
        assert (now[1] is None) == (before[1] is None) == (not partner)
        if now[1] is not None and before[1] is not None:
            assert np.array_equal(now[1][0], before[1][0])


def test_v1_is_the_fallback_and_neither_installed_names_the_command(
    installed_models_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    only_v1 = tmp_path / "models"
    only_v1.mkdir()
    shutil.copytree(installed_models_dir / "plates-cct-v1", only_v1 / "plates-cct-v1")
    with caplog.at_level(logging.WARNING):
        cct = build_cct("cct", only_v1, 1)
    assert cct is not None and cct.name == "plates-cct-v1" and not cct.has_region_head
    assert cct.partner_name is None
    assert "model 'plates-cct' is not installed" in caplog.text and "plates-cct-v1" in caplog.text
    assert build_plate_reader(PlatesConfig(), only_v1).recogniser_name == "plates-cct-v1"
    assert build_cct("ppocr", tmp_path / "none", 1) is None
    with pytest.raises(ModelMissingError, match=r"model 'plates-cct' is not installed .*--from DIR\)$"):
        build_cct("cct", tmp_path / "none", 1)


def test_a_tampered_installed_config_is_refused_at_load(installed_models_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(installed_models_dir / "plates-cct", models / "plates-cct")
    config = models / "plates-cct" / "cct_xs_v2_global_plate_config.yaml"
    config.write_text(config.read_text().replace("max_plate_slots: 10", "max_plate_slots: 9"))
    with pytest.raises(ModelMissingError, match=r"corrupt \(cct_xs_v2_global_plate_config\.yaml has the wrong size\)"):
        build_cct("cct", models, 1)
    # Even with its record made to match (an edit by hand), the graph check refuses it.
    record_path = models / "plates-cct" / RECORD
    record = json.loads(record_path.read_text())
    from vigil.models.fetch import sha256_file

    record["files"][config.name] = {"sha256": sha256_file(config), "bytes": config.stat().st_size}
    record_path.write_text(json.dumps(record))
    with pytest.raises(ModelError, match=r"max_plate_slots is 9, cct_xs_v2_global\.onnx has 10 slots$"):
        build_cct("cct", models, 1)


class SceneLineOCR(LineOCR):
    """PP-OCR stand-in with a scene text detector that finds nothing; counts the detector's runs."""

    def __init__(self) -> None:
        super().__init__("")
        self.scene_calls = 0
        self.sides: list[int | None] = []

    def detect_scene_lines(self, image: np.ndarray, max_side: int | None = None, seeds: object = ()) -> list[Quad]:
        self.scene_calls += 1
        self.sides.append(max_side)
        return []

    def recognise_many(self, images: list[np.ndarray]) -> list[TextLine]:
        return [TextLine("", 0.0) for _ in images]


@pytest.mark.parametrize(("skip_at", "p", "detector_runs"), [(0.8, 0.85, 0), (0.8, 0.75, 1), (None, 0.99, 1)])
def test_the_scene_text_detector_is_skipped_only_above_the_gate(
    monkeypatch: pytest.MonkeyPatch, skip_at: float | None, p: float, detector_runs: int
) -> None:
    """``SCENE_TEXT_SKIP``: with a gate at 0.8, a row the recogniser reads as a listed US layout at
    0.85 is enough and at 0.75 the 960-px detector looks for more rows; by default (1.01, chosen
    by 2-fold CV with the current row crop) it always looks, however sure the row's read."""
    from vigil.plates.localise import PlateCandidate

    if skip_at is not None:
        monkeypatch.setattr("vigil.plates.reader.SCENE_TEXT_SKIP", skip_at)
    row = PlateCandidate((300.0, 100.0, 418.5, 124.0), 7, 1.0)
    monkeypatch.setattr("vigil.plates.reader.find_plate_candidates", lambda *a: [row])
    ocr = SceneLineOCR()
    # One read of the row, then the chosen plate read again from its CHOSEN_VIEWS (4 crops).
    session = FakeSession([slots_for("7ABC123", p=p)] * 5, [country("United States")] * 5)
    reader = PlateReader(ocr, ("us",), cct=recogniser(session))  # type: ignore[arg-type]
    (read,) = reader.read_scene(np.full((480, 640, 3), 120, np.uint8))
    assert read.text == "7ABC123" and read.score == pytest.approx(p, abs=1e-3)
    assert read.read_box is not None
    assert ocr.scene_calls == detector_runs and ocr.calls == 0  # sure of every character: no closer read
    assert [b[0] for b in session.batches] == [1, len(CHOSEN_VIEWS)] == [1, 4]


@pytest.mark.parametrize(("p", "side"), [(0.9, 640), (0.84, None)])
def test_the_scene_text_detector_runs_smaller_where_the_rows_are_sure(p: float, side: int | None) -> None:
    """``SCENE_TEXT_SURE``: a row read scoring 0.9 (>= 0.85) has the detector look for more rows
    at 640 px; at 0.84 it looks at the engine's own side (960 px in the product)."""
    from vigil.plates.localise import PlateCandidate

    row = PlateCandidate((300.0, 100.0, 418.5, 124.0), 7, 1.0)
    ocr = SceneLineOCR()
    session = FakeSession([slots_for("7ABC123", p=p)] * 5, [country("United States")] * 5)
    reader = PlateReader(ocr, ("us",), cct=recogniser(session))  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("vigil.plates.reader.find_plate_candidates", lambda *a: [row])
        (read,) = reader.read_scene(np.full((480, 640, 3), 120, np.uint8))
    assert read.text == "7ABC123" and read.score == pytest.approx(p, abs=1e-3)
    assert ocr.sides == [side]


@pytest.mark.parametrize(("taller_p", "text", "batches"), [(0.7, "AKS4329", [3, 4, 4]), (0.85, "AKSA329", [3, 4])])
def test_the_chosen_plate_takes_the_surest_read_of_its_cuts(taller_p: float, text: str, batches: list[int]) -> None:
    """``CHOSEN_CUTS_IOU``: a taller row ranked first is read again under ``CHOSEN_VIEWS``; where a
    character of that read is unsure (below ``CHOSEN_CUTS_BELOW``, 0.8) a tighter row over the same
    plate is read the same way, and the surer read gives the text, while the rank, box and score
    stay the first's. A sure first read is kept as it is. A row elsewhere is never read again."""
    from vigil.plates.localise import PlateCandidate

    tall = PlateCandidate((300.0, 100.0, 418.5, 130.0), 7, 1.0)
    tight = PlateCandidate((305.0, 104.0, 415.0, 122.0), 7, 1.0)
    elsewhere = PlateCandidate((40.0, 300.0, 140.0, 318.0), 6, 1.0)
    ocr = SceneLineOCR()
    rows = [slots_for("AKS4329", p=0.9), slots_for("AKS4329", p=0.9), slots_for("8XY123", p=0.7)]
    taller_views = [slots_for("AKSA329", p=taller_p, second={3: "4"})] * 4  # takes in the frame
    tighter_views = [slots_for("AKS4329", p=0.97)] * 4
    session = FakeSession(rows + taller_views + tighter_views, [country("United States")] * 11)
    reader = PlateReader(ocr, ("us",), cct=recogniser(session))  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("vigil.plates.reader.find_plate_candidates", lambda *a: [tall, tight, elsewhere])
        (read,) = reader.read_scene(np.full((480, 640, 3), 120, np.uint8))
    assert read.text == text
    assert read.box[3] == pytest.approx(130.0)  # the first-ranked row's box
    assert read.read_box is not None and (read.read_box[3] < 130.0) == (text == "AKS4329")  # the cut read
    assert [b[0] for b in session.batches] == batches


class FullResolutionOCR(SceneLineOCR):
    """A scene text detector that sees the plate's line only at more than its own 960 px."""

    scene_side = 960

    def detect_scene_lines(self, image: np.ndarray, max_side: int | None = None, seeds: object = ()) -> list[Quad]:
        self.sides.append(max_side)
        if max_side is None or max_side <= self.scene_side:
            return []
        return [np.array([[500, 400], [620, 400], [620, 430], [500, 430]], np.float32)]


@pytest.mark.parametrize("full_resolution", [True, False])
def test_a_scene_with_no_read_is_looked_at_again_at_its_own_resolution(full_resolution: bool) -> None:
    """``SCENE_TEXT_FULL_RESOLUTION``: nothing read at 960 px, the detector looks once more at the
    frame's own 1280 px and the plate is read; a whole-frame scan (``full_resolution`` off) does not."""
    ocr = FullResolutionOCR()
    session = FakeSession([slots_for("7ABC123", p=0.99)] * 5, [country("United States")] * 5)
    reader = PlateReader(ocr, ("us",), cct=recogniser(session))  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("vigil.plates.reader.find_plate_candidates", lambda *a: [])
        reads = reader.read_scene(np.full((720, 1280, 3), 120, np.uint8), full_resolution=full_resolution)
    if full_resolution:
        assert [r.text for r in reads] == ["7ABC123"] and ocr.sides == [None, 1280]
        assert reads[0].box == pytest.approx((500.0, 400.0, 620.0, 430.0))
    else:
        assert reads == [] and ocr.sides == [None]


@pytest.mark.parametrize(("p", "text", "reader_name"), [(0.65, "6MWF778", "plates-cct"), (0.55, "6MW78", "ppocr")])
def test_a_chosen_closer_read_is_read_again_from_its_line(p: float, text: str, reader_name: str) -> None:
    """``CLOSER_LINE_REREAD``: where PP-OCR's closer read is the chosen plate, the plate-trained
    recogniser reads the line PP-OCR read (widened as a row is) under ``CHOSEN_VIEWS``; its read
    gives the text where its least sure character is at least 0.6, and the box, the score and the
    line stay the closer read's. Less sure, PP-OCR's read stands."""
    from vigil.plates.reader import ROW_TO_PLATE, PlateRead, _expand

    session = FakeSession([slots_for("6MWF778", p=p)] * len(CHOSEN_VIEWS), [country("United States")] * 4)
    reader = PlateReader(LineOCR(""), ("us",), cct=recogniser(session))  # type: ignore[arg-type]
    image = np.full((480, 640, 3), 120, np.uint8)
    line = (300.0, 200.0, 400.0, 230.0)
    closer = PlateRead(
        "6MW78", "6MW78", 0.9, 0.8, (280.0, 190.0, 420.0, 240.0), "us", False, image[:1, :1], True, line_box=line
    )
    read = reader._read_chosen(image, closer, [closer])
    assert [b[0] for b in session.batches] == [len(CHOSEN_VIEWS)]  # the line's views, one batch
    assert (read.text, read.reader) == (text, reader_name)
    assert read.box == closer.box and read.score == closer.score and read.line_box == line and read.closer
    if reader_name == "plates-cct":
        assert read.read_box == pytest.approx(_expand(line, *ROW_TO_PLATE))
        assert read.least == pytest.approx(p, abs=1e-3)


class PlateLinesOCR(LineOCR):
    """A text detector that finds two lines in a plate's cut: the characters (tallest) and a smaller
    one above them (a state name); records the views it was shown."""

    def __init__(self) -> None:
        super().__init__("")
        self.views: list[tuple[int, ...]] = []

    def detect_lines(self, image: np.ndarray) -> list[Quad]:
        self.views.append(image.shape)
        h, w = image.shape[:2]
        state = np.array([[0.4 * w, 0.3 * h], [0.6 * w, 0.3 * h], [0.6 * w, 0.38 * h], [0.4 * w, 0.38 * h]])
        main = np.array([[0.3 * w, 0.4 * h], [0.7 * w, 0.4 * h], [0.7 * w, 0.6 * h], [0.3 * w, 0.6 * h]])
        return [state.astype(np.float32), main.astype(np.float32)]


@pytest.mark.parametrize(
    ("first_p", "line_p", "text", "looked"),
    [(0.45, 0.9, "AKS4329", True), (0.45, 0.55, "AKSA329", True), (0.55, 0.9, "AKSA329", False)],
)
def test_an_unsure_chosen_read_takes_a_sure_read_of_its_main_line(
    first_p: float, line_p: float, text: str, looked: bool
) -> None:
    """``UNSURE_LINE_REREAD``: where the chosen plate's read by the plate-trained recogniser is unsure
    (least below 0.5) after ``CHOSEN_VIEWS``, the text detector looks for the lines in the cut it
    read, and the tallest line, read under ``CHOSEN_VIEWS`` (widened by ``ROW_TO_PLATE``), gives the
    text where its least sure character is at least 0.6 (``CLOSER_LINE_REREAD``); the box and the
    score stay. An unsure line read, or a chosen read at 0.5 or above, leaves the read as it was."""
    from vigil.plates.reader import CCT_MARGIN, ROW_TO_PLATE, PlateRead, _clip, _expand

    n = len(CHOSEN_VIEWS)
    chosen_views = [slots_for("AKSA329", p=first_p)] * n
    line_views = [slots_for("AKS4329", p=line_p)] * n
    session = FakeSession(chosen_views + line_views, [country("United States")] * (2 * n))
    ocr = PlateLinesOCR()
    reader = PlateReader(ocr, ("us",), cct=recogniser(session))  # type: ignore[arg-type]
    image = np.full((480, 640, 3), 120, np.uint8)
    read_box = (300.0, 200.0, 400.0, 230.0)
    chosen = PlateRead(
        "AKSA329", "AKSA329", 0.9, 0.8, (305.0, 204.0, 395.0, 226.0), "us", False, image[:1, :1],
        reader="plates-cct", least=first_p, read_box=read_box,
    )  # fmt: skip
    read = reader._read_chosen(image, chosen, [chosen])
    assert read.text == text
    assert read.box == chosen.box and read.score == chosen.score and not read.closer
    assert len(ocr.views) == int(looked)
    assert [b[0] for b in session.batches] == ([n, n] if looked else [n])
    if text == "AKS4329":
        # The tallest line (the view's middle fifth) in frame pixels: the view is the cut read
        # (widened by CCT_MARGIN) upscaled to 96 px high with a border of half that repeated.
        x1, y1, _, y2 = _clip(_expand(read_box, *CCT_MARGIN), 640, 480)
        vh, vw = ocr.views[0][:2]
        f, pad = 96 / (y2 - y1), round(0.5 * 96)
        xs = (np.array([0.3 * vw, 0.7 * vw]) - pad) / f + x1
        ys = (np.array([0.4 * vh, 0.6 * vh]) - pad) / f + y1
        line = (xs[0], ys[0], xs[1], ys[1])
        assert read.read_box == pytest.approx(_expand(line, *ROW_TO_PLATE), abs=1e-3)
        assert read.least == pytest.approx(line_p, abs=1e-3)
