"""Reading plates: localise, read, read again closer when weak, fit the regional formats.

``PlateReader.read_scene`` gathers candidate character rows from two sources: the morphological
localiser (plate-like rows of even-height blobs) and the OCR text detector run on the whole frame
(or a generous region around a vehicle) at a resolution where small plates are still lines. All
candidates are read in one batched recognition call and ranked by combined evidence: OCR
confidence times plate-likeness of the read (character count, format-grammar fit, letters and
digits, not a date or time) times the localiser's own score. The best few weak reads get a
second, closer look: a generous crop around it, upscaled, its text lines found by the OCR
detector, the tallest line (plate characters are the largest text on a plate) deskewed,
contrast-equalised and read again. ``PlateReader.read_crop`` reads an image that is already a
plate both whole and by its tallest line, and keeps the better; with the optional plate detector
each detected plate is read that way instead of searching the frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import cv2
import numpy as np

from vigil.core.frame import BGRImage
from vigil.plates.cct import CctRead, CctRecogniser
from vigil.plates.countries import COUNTRY_TRUST, grammar_for
from vigil.plates.ctc import TextLine, drop_absent
from vigil.plates.formats import (
    REGION_FORMATS,
    FormatFit,
    Formats,
    check_regions,
    fit_formats,
    fit_region,
    formats_with,
)
from vigil.plates.localise import box_iou, find_plate_candidates
from vigil.plates.ocr import Quad, SceneTextEngine, TextRecogniser
from vigil.plates.platedet import PlateBox
from vigil.plates.text import normalise

Box = tuple[float, float, float, float]

SceneText = Literal["always", "fallback", "never"]
"""When the scene text detector runs: always, only when the cheap candidates gave no strong read, never."""

STRONG_READ = 0.9
"""A read scoring at least this is not read again closer."""

SCENE_TEXT_SKIP = 1.01
"""With the plate-trained recogniser, the 960-px scene text detector (``scene_text: fallback``;
3/4 of a scene's time) is skipped when the morphological rows' best read, after its closer read,
scores at least this: above any score, so it always runs. Chosen by 2-fold cross-validation on
the US scenes (``bench/plates_scene_gate.py``, docs/plates.md): with the wider row crop before,
both folds chose 0.8; with the row crop now, the folds chose 1.01 and 0.85, and 1.01 did better
held out (96 exact / 108 found of 111 against 95 / 105)."""

SCENE_TEXT_SURE = 0.85
"""Where the rows' best read, after its closer read, already scores at least this, the scene text
detector runs at :data:`SCENE_TEXT_SURE_SIDE` pixels instead of 960: it then looks for a better
plate than one already read well, not for the first. Chosen with the side by 2-fold
cross-validation on the US scenes (``bench/plates_scene_det_gate.py``, docs/plates.md): both folds
chose 0.85 (sides 640 and 480); held out, 640 px lost nothing (100 exact / 108 found of 111, as
960 px everywhere) and 480 px one found plate (96 / 105 against 96 / 106). 43 % of the scenes
take the smaller pass."""

SCENE_TEXT_SURE_SIDE = 640
"""The scene text detector's long side where the rows are already sure (:data:`SCENE_TEXT_SURE`)."""

MIN_PRESENCE = 0.9
"""A read character the recogniser is less sure than this is there at all is dropped (``drop_absent``).

Stray characters from bolts, sticker edges and split strokes are emitted with presence 0.4–0.9;
97 % of the characters of correct reads have ≥ 0.9. Measured on both plate sets (docs/plates.md):
0.5 → 0.9 raises exact reads on both, 0.95 loses scenes again."""


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One read of one plate.

    Attributes:
        text: the plate, A–Z0–9, after format fixes.
        raw: what OCR returned.
        confidence: OCR confidence in [0, 1] (mean over characters).
        score: confidence weighted by plate-likeness (length, format fit), used to rank reads.
        box: ``(x1, y1, x2, y2)`` estimated plate box in pixels of the frame.
        region: the region whose format it fits, or None.
        strict: fits a listed layout of that region.
        crop: the plate crop (BGR) a person checks the read against.
        closer: this read came from the second, closer look.
        country: the plate's country as the recogniser's region head saw it, or None.
        country_confidence: the region head's probability for it.
        reader: which recogniser made the read (``cct`` model name, or ``ppocr``).
        least: probability of its least sure character (plate-trained recogniser; 1 otherwise).
        read_box: the box the plate-trained recogniser read (before :data:`CCT_MARGIN`), frame
            pixels; None for PP-OCR's reads and plate crops.
        line_box: a closer read's text line, frame pixels (reported as ``box`` once the reads are
            ranked: :data:`CLOSER_LINE_BOX`); None otherwise.
    """

    text: str
    raw: str
    confidence: float
    score: float
    box: Box
    region: str | None
    strict: bool
    crop: BGRImage = field(repr=False, compare=False)
    closer: bool = False
    country: str | None = None
    country_confidence: float = 0.0
    reader: str = "ppocr"
    least: float = 1.0
    read_box: Box | None = None
    line_box: Box | None = None


_DATE_OR_TIME = re.compile(r"\d{1,4}\s*[-/:.]\s*\d{1,2}\s*[-/:.]\s*\d{1,4}")
"""Camera timestamps burnt into the picture (2014-04-29, 12:03:44) are not plates."""


_DATE_DIGITS = re.compile(r"(?:19[89]\d|20[0-4]\d)(?:0[1-9]|1[0-2])\d")
"""...and the same written without separators (20140514065856), or cut short (2014051)."""


CROP_LINE_MARGIN = 0.5
"""Border added around a plate crop, in plate heights per side, before its text lines are looked for.

The text detector finds few lines that touch the image edge, and a tight plate crop (a detector
box, a cropped plate) is all edge: without a border it found no line in many plates whose
characters fill the crop. The border repeats the crop's edge pixels (a plain colour read worse).
Measured in docs/plates.md: crops 340 → 348 exact of 376, platedet scenes 192 → 196 of 222."""

SIZE_PRIOR = 0.3
"""How much taller rows are preferred when reads of a frame are ranked: ``score * (h / tallest) ** 0.3``.

Plate characters are the largest text on the vehicle they belong to; phone numbers on plate
frames, dealer stickers and far-away signs are smaller. Only the order changes, not the read's
score (which votes across a track's frames). Used without a plate detector only: with one, its
boxes already say where the plates are (there the prior cost one found plate). Measured in
docs/plates.md."""


SECOND_OPINION = 0.6
"""With a plate-trained recogniser, PP-OCR reads a plate again only when the recogniser's least
sure character has a probability below this (and the better scoring read is kept). Chosen by
2-fold cross-validation on the US crops and labelled scene boxes pooled (even / odd images):
both folds chose 0.6 (docs/plates.md)."""

CCT_MARGIN = (0.1, 0.1)
"""Margin added around a plate box before the plate-trained recogniser reads it (fraction of the
box's width, height per side): it was trained on whole plates with a little border. Measured on
the labelled US boxes (docs/plates.md)."""

ROW_TO_PLATE = (-0.03, 0.15)
"""A character row found by the localisers turned into the plate crop the recogniser reads (per
side, fractions of the row's width and height; :data:`CCT_MARGIN` is added after). Chosen by
2-fold cross-validation on the US scenes (``bench/plates_row_margin.py``; docs/plates.md): both
folds chose the tightest width tried and 0.15 of the height in a first grid, and -0.03 of the
width in a second; the wider crop before, (0.06, 0.25), took in plate frames and stickers."""


CHOSEN_VIEWS: tuple[tuple[float, float, float], ...] = (
    (*CCT_MARGIN, 0.0),
    (0.05, 0.05, 0.0),
    (0.15, 0.2, 0.0),
    (*CCT_MARGIN, 3.0),
)
"""A scene's chosen plate (read by the plate-trained recogniser from a localiser's row) is read
again from crops with these margins (per side, fractions of the read box's width and height),
the last turned by 3 degrees (counter-clockwise), by v2 and v1, all their per-slot probabilities
averaged (``CctRecogniser.read_views``). The rows are ranked on v2's read alone (cheaper, and
averaging v1 in ranked worse, see ``_cct_boxes``); only the text of the plate chosen changes.
The three margins were chosen by 2-fold cross-validation on the US scenes
(``bench/plates_crop_variants.py``): held out, 96 → 96 and 95 → 96 exact. The turned view was
added by a second 2-fold choice among extra views (``bench/plates_crop_views.py --scenes``,
docs/plates.md): fold 1 chose it (held out on fold 0: 97 against 96), fold 0 a tight crop (held
out on fold 1: 100 against 100). Turned the other way it added nothing; on the crops too a +3
degree view read better than a -3 degree one."""


SCENE_TEXT_FULL_RESOLUTION = 2000
"""Where a scene (or a vehicle's region) gave no read at all, the scene text detector looks once
more at the region's own resolution, up to this many pixels on the long side (rapidocr's own
bound for a plain frame): the 960-px pass misses some clear mid-sized plates that it finds at full
resolution, and a larger pass everywhere reads fewer plates (more competing text; docs/plates.md).
Measured on the US scenes: both scenes with no read (one in each half) read right at 1280 and 1632
px (``car9-9`` ``AVP2403``, ``wts-lg-000018`` ``CG2H2U``); nothing else changes. Not for the
periodic whole-frame scans (:meth:`PlateReader.read_scene`'s ``full_resolution``): 19 of 30 street
photos without a readable plate give no read, and each would pay a larger pass."""

FULL_RESOLUTION_MIN_GAIN = 1.25
"""The second look (:data:`SCENE_TEXT_FULL_RESOLUTION`) runs only where the region's own long side is
at least this many times the side already used (1.56x the pixels): a 1024-px photo looked at again
instead of at 960 px would pay a whole pass to see the same picture (measured: 1.48x the time on
plate-less 1024 x 768 street photos). Set by that cost, not by reads: the two US scenes it reads
are at 1.33x and 1.7x."""


CHOSEN_CUTS_IOU = 0.3
"""The chosen scene plate is often found as several rows: a morphological row and the scene text
detector's line, cut a little differently. Each candidate read by the plate-trained recogniser
whose box overlaps the chosen one's by at least this IoU is read under :data:`CHOSEN_VIEWS` too,
and the read whose least sure character is surest is kept (the chosen cut on a tie); the rank,
the box and the score stay the chosen read's. Chosen by 2-fold cross-validation on the US scenes
at full size, 0.75 and 0.6 pooled (folds by scene, even / odd in label order;
``bench/plates_scene_rerank.py``, docs/plates.md): fold 1 chose it (held out on fold 0: 279
against 275 of 333), fold 0 averaging the cuts' probabilities (held out on fold 1: 292 against
291). At full size: 198 -> 201 of 222 and none broken; a taller morphological row that takes in
the plate's frame is the usual cut misread (``AKSA329`` for ``AKS4329``)."""

CHOSEN_CUTS_BELOW = 0.8
"""The other cuts (:data:`CHOSEN_CUTS_IOU`) are read only where the chosen cut's own read has a
character less sure than this: a sure read was never replaced at 0.8 or above. Chosen by the same
2-fold cross-validation, as the lowest gate (fewest extra reads) reading as many held out as
reading them everywhere; both folds chose it (0.7 lost one read in each)."""


CLOSER_LINE_REREAD = 0.6
"""Where a chosen plate is PP-OCR's closer read, the plate-trained recogniser reads the text line
PP-OCR read (its ``line_box`` widened by :data:`ROW_TO_PLATE` as a row is) under
:data:`CHOSEN_VIEWS`, and its read replaces PP-OCR's text where its least sure character is at
least this; the rank, the box and the score stay the closer read's. PP-OCR's closer reads drop or
confuse a character the plate recogniser reads right from the same line (``6MW78`` for
``6MWF778``, ``0315771`` for ``D315771``); the row the closer read started from, re-read instead
(the sixth round), was surer only on a threshold one image sat beside. Chosen by 2-fold
cross-validation on the US scenes at full size, 0.75 and 0.6 pooled (``bench/plates_ppocr_arbiter.py``,
docs/plates.md, eighth round): both folds chose it, held out 280 -> 282 and 294 -> 300 of 333, no
read broken at 0.5-0.9; full size 203 -> 205 of 222. (Above 1: never, as before; for the bench.)"""


UNSURE_LINE_REREAD = 0.5
"""Where a scene's chosen plate was read by the plate-trained recogniser and its least sure character
is still below this (after :data:`CHOSEN_VIEWS` and :data:`CHOSEN_CUTS_IOU`), the plate's main text
line is read again: the OCR text detector looks for the lines in the cut the recogniser read
(``read_box`` widened by :data:`CCT_MARGIN`, searched as a plate crop's lines are,
:data:`CROP_LINE_MARGIN`), and the tallest is read as a closer read's line is (:meth:`PlateReader._line_read`:
:data:`ROW_TO_PLATE`, :data:`CHOSEN_VIEWS`, v2 + v1); its read replaces the text where its least sure
character is at least :data:`CLOSER_LINE_REREAD` and the text differs. The rank, the box and the score
stay, so the found-rate cannot move. A cut that takes in the plate's frame or an edge reads a
confusable character unsurely (``SHDR7X`` at 0.49 for ``SH0R7X``); its main line alone reads it
surely. Chosen by 2-fold cross-validation on the US scenes at full size, 0.75 and 0.6 pooled, read
with the text detector on ONNX Runtime (``bench/plates_unsure_line.py``, docs/plates.md tenth round;
grid u 0.5 / 0.6 / 0.7 x the re-read's least 0.6-0.9 x a length guard x two cuts): both folds chose
a sure threshold of 0.6, no guard, this cut; fold 1 chose u 0.5 (held out on fold 0: 284 against
282 of 333), fold 0 u 0.7 (held out on fold 1: 301 against 300); 0.5 is the choice that changes fewer
reads (3 of 666, none broken; 0.7 broke one at full size). Full size 205 -> 206 of 222 (ONNX Runtime),
204 -> 205 (OpenVINO bfloat16). (0 or below: never; for the bench.)"""


CLOSER_LINE_BOX = True
"""A closer read (PP-OCR's read of the tallest text line around a weak read) reports the box of the
line it read, in frame pixels, instead of the row that led to it: a row can be much wider than
the plate (a bumper's edge, a plate frame's text), and the box is what a person checks the read
against and what the found-rate scores. The reads are still ranked by their rows (the size prior
and the overlap test see what they saw before), so no read changes, only where it is reported:
US scenes found 214 -> 216 of 222 (``bench/plates_closer_box.py``, docs/plates.md). (False: the
row's box, as before; for the bench.)"""


CROP_BORDERS: tuple[float, ...] = (0.0, 0.05)
"""A plate crop (:meth:`PlateReader.read_crop`) is read by the plate-trained recogniser as it is and
with a border of this fraction of its width and height per side, repeated from its edges; v2's and
v1's per-slot probabilities averaged over the views (``CctRecogniser.read_views``). The recogniser
was trained on plates with a little border round them, and a crop cut tight to the plate reads
better with one. Chosen by 2-fold cross-validation on the US crops and labelled scene boxes pooled
(``bench/plates_crop_views.py``, docs/plates.md) among the reads with at most two views (a plate
within 10 ms): fold 1 chose these two views (held out +3 of 299), fold 0 the bordered view alone
(held out -1); this did better held out, and gains in both folds."""


class PlateBoxes(Protocol):
    """A plate detector (real: :class:`vigil.plates.platedet.PlateDetector`)."""

    def detect(self, image: BGRImage) -> list[PlateBox]:
        """Plate boxes in ``image``, best first."""
        ...


def plausibility(text: str, fit: FormatFit, raw: str = "") -> float:
    """How much a string looks like a plate, in [0, 1]: length, format fit, letters and digits."""
    if _DATE_OR_TIME.search(raw) or (text.isdigit() and _DATE_DIGITS.match(text)):
        return 0.05
    n = len(text)
    length = 1.0 if 5 <= n <= 8 else (0.85 if n in (4, 9) else (0.5 if n in (2, 3, 10) else 0.2))
    if fit.region is None:
        form = 0.55
    elif fit.strict:
        form = 1.0 - 0.05 * fit.fixes
    else:
        form = 0.85
    # Vanity plates may be all letters, but words on the car (makes, dealers, slogans) are too.
    # Judged on what OCR saw: the US O → 0 spelling must not turn a word into a serial.
    seen = normalise(raw) if raw else text
    mixed = 1.0 if any(c.isdigit() for c in seen) else 0.7
    return length * form * mixed


def _clip(box: Box, w: int, h: int) -> tuple[int, int, int, int]:
    return (
        max(0, round(box[0])),
        max(0, round(box[1])),
        min(w, round(box[2])),
        min(h, round(box[3])),
    )


def _expand(box: Box, fx: float, fy: float) -> Box:
    w, h = box[2] - box[0], box[3] - box[1]
    return (box[0] - fx * w, box[1] - fy * h, box[2] + fx * w, box[3] + fy * h)


def plate_box_from_row(row: Box) -> Box:
    """The plate box estimated from its character row (the row's blob is dilated a little sideways)."""
    return _expand(row, -0.06, 0.0)


def _warp_quad(image: BGRImage, quad: Quad) -> BGRImage:
    """The quadrilateral ``quad`` of ``image`` warped upright (deskews rotated text lines)."""
    w = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    h = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    if w < 4 or h < 4:
        return image[:0, :0]
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    warped = cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(warped, dtype=np.uint8)


def _equalise(image: BGRImage) -> BGRImage:
    """Local contrast equalisation of the lightness (faded, shadowed or over-exposed plates)."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), dtype=np.uint8)


def _with_border(image: BGRImage, fraction: float) -> BGRImage:
    """``image`` with a border of ``fraction`` of its width and height per side, repeated from its edges."""
    if fraction <= 0:
        return image
    h, w = image.shape[:2]
    py, px = max(1, round(fraction * h)), max(1, round(fraction * w))
    return np.asarray(cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_REPLICATE), dtype=np.uint8)


def _turned(image: BGRImage, degrees: float) -> BGRImage:
    """``image`` turned by ``degrees`` (counter-clockwise) about its centre, same size, edges repeated."""
    h, w = image.shape[:2]
    if degrees == 0 or h < 2 or w < 2:
        return image
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return np.asarray(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def _chosen_views(image: BGRImage, box: Box) -> list[BGRImage]:
    """The crops of ``box`` that a chosen scene plate is read from (:data:`CHOSEN_VIEWS`)."""
    ih, iw = image.shape[:2]
    views = []
    for mx, my, degrees in CHOSEN_VIEWS:
        x1, y1, x2, y2 = _clip(_expand(box, mx, my), iw, ih)
        views.append(_turned(image[y1:y2, x1:x2], degrees))
    return views


def _line_search_view(plate: BGRImage) -> tuple[BGRImage, float, int]:
    """A plate crop as its text lines are looked for (upscaled to at least 96 px high, a border of
    :data:`CROP_LINE_MARGIN` repeated from its edges), the scale and the border (pixels)."""
    up, f = _upscale_to(plate, 96)
    pad = round(CROP_LINE_MARGIN * up.shape[0])
    return np.asarray(cv2.copyMakeBorder(up, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8), f, pad


def _quad_height(q: Quad) -> float:
    """A text line's height along its quadrilateral's sides."""
    return float(np.linalg.norm(q[0] - q[3]) + np.linalg.norm(q[1] - q[2])) / 2


def _upscale_to(image: BGRImage, min_height: int) -> tuple[BGRImage, float]:
    h = image.shape[0]
    if h >= min_height or h == 0:
        return image, 1.0
    f = min_height / h
    return np.asarray(cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC), dtype=np.uint8), f


class PlateReader:
    """Localise and read plates with an OCR engine and the enabled regional formats."""

    def __init__(
        self,
        ocr: TextRecogniser,
        regions: tuple[str, ...] = ("us",),
        *,
        max_candidates: int = 6,
        closer_reads: int = 2,
        min_char_px: int = 8,
        scene_text: SceneText = "fallback",
        detector: PlateBoxes | None = None,
        detector_boxes: int = 2,
        detector_fallback: bool = True,
        formats: Formats | None = None,
        cct: CctRecogniser | None = None,
        second_opinion: float = SECOND_OPINION,
    ) -> None:
        self.formats = formats_with(formats)  # the built-in regions and the deployment's own
        check_regions(regions, self.formats)
        self._ocr = ocr
        self._cct = cct
        self.second_opinion = second_opinion
        self._detector = detector
        self.detector_boxes = detector_boxes
        self.detector_fallback = detector_fallback
        self.regions = regions
        self.max_candidates = max_candidates
        self.closer_reads = closer_reads
        self.min_char_px = min_char_px
        self.scene_text = scene_text
        # Above 1 no score reaches it: the 960-px pass everywhere (the reader before 2026-12-06).
        self.scene_text_sure = SCENE_TEXT_SURE
        # The full-resolution second look also where the best read scores below this (0: only
        # where nothing was read; bench/plates_full_resolution.py --gate compares).
        self.full_resolution_below = 0.0
        self.ocr_calls = 0

    @property
    def recogniser_name(self) -> str:
        """The plate-trained model reading plates (``plates-cct``, ``plates-cct-v1``), or ``ppocr``."""
        return self._cct.name if self._cct is not None else "ppocr"

    def _read(self, line: BGRImage) -> tuple[str, str, float, FormatFit, float]:
        self.ocr_calls += 1
        return self._fit(self._ocr.recognise(line))

    def _fit(self, result: TextLine) -> tuple[str, str, float, FormatFit, float]:
        raw = result.text
        text, alternatives = drop_absent(result, normalise(raw), MIN_PRESENCE)
        fit = fit_formats(text, self.regions, alternatives=alternatives, formats=self.formats)
        return fit.text, raw, result.confidence, fit, result.confidence * plausibility(fit.text, fit, raw)

    def _read_many(self, images: list[BGRImage]) -> list[TextLine]:
        """Read several lines, in one batched call when the engine can."""
        if not images:
            return []
        if isinstance(self._ocr, SceneTextEngine):
            self.ocr_calls += 1
            return self._ocr.recognise_many(images)
        self.ocr_calls += len(images)
        return [self._ocr.recognise(im) for im in images]

    def _text_rows(
        self,
        search: BGRImage,
        ox: int,
        oy: int,
        max_side: int | None = None,
        seeds: list[tuple[Box, BGRImage, Box, float]] | None = None,
    ) -> list[tuple[Box, BGRImage, Box, float]]:
        """Plate-shaped text lines found by the OCR text detector on the whole search region
        (at up to ``max_side`` pixels on the long side where given, else the engine's own side).
        ``seeds``: the morphological rows (frame pixels), where the detector looks closely even
        if its coarse pass saw no text there."""
        assert isinstance(self._ocr, SceneTextEngine)
        self.ocr_calls += 1
        out: list[tuple[Box, BGRImage, Box, float]] = []
        near = [(r[0] - ox, r[1] - oy, r[2] - ox, r[3] - oy) for r, _, _, _ in seeds or []]
        quads = self._ocr.detect_scene_lines(search, max_side, near)
        for quad in quads:
            x1, y1 = (float(v) for v in quad.min(axis=0))
            x2, y2 = (float(v) for v in quad.max(axis=0))
            h, w = y2 - y1, x2 - x1
            # Plate character rows: readable height, a few characters wide (not a paragraph).
            if h < self.min_char_px or not 1.2 <= w / max(h, 1.0) <= 12.0:
                continue
            line = _warp_quad(search, quad)
            if line.size == 0:
                continue
            up, _ = _upscale_to(line, 32)
            box = (x1 + ox, y1 + oy, x2 + ox, y2 + oy)
            out.append((box, up, box, 1.0))
        return out

    def _best_line(self, region: BGRImage) -> tuple[str, str, float, FormatFit, float] | None:
        """Find text lines in a plate region and read the tallest ones; the best read."""
        found = self._best_line_at(region)
        return None if found is None else found[0]

    def _best_line_at(self, region: BGRImage) -> tuple[tuple[str, str, float, FormatFit, float], Quad] | None:
        """:meth:`_best_line`'s read and the line it read (its quadrilateral in ``region``)."""
        self.ocr_calls += 1
        quads = self._ocr.detect_lines(region)
        if not quads:
            return None
        heights = [_quad_height(q) for q in quads]
        order = sorted(range(len(quads)), key=lambda i: -heights[i])
        best: tuple[tuple[str, str, float, FormatFit, float], Quad] | None = None
        for i in order[:2]:
            if heights[i] < 0.6 * heights[order[0]]:
                break
            line = _warp_quad(region, quads[i])
            if line.size == 0:
                continue
            read = self._read(_equalise(line))
            if best is None or read[4] > best[0][4]:
                best = (read, quads[i])
        return best

    # -- the plate-trained recogniser -----------------------------------------------------------

    def _cct_fit(self, read: CctRead) -> FormatFit:
        """The read fitted to the grammar of its country (region head), or of the deployment's regions."""
        own = any(r not in REGION_FORMATS for r in self.regions)
        sure = read.country is not None and read.country_confidence >= COUNTRY_TRUST
        if own or not sure:
            # The operator's own layouts, a recogniser without a region head, or an unsure one.
            return fit_formats(read.text, self.regions, alternatives=read.alternatives, formats=self.formats)
        grammar = grammar_for(read.country)
        if grammar is None:
            return FormatFit(read.text, None, None, 0)  # no built-in grammar describes it: as read
        return fit_region(read.text, read.alternatives, grammar, self.formats)

    def _from_cct(self, read: CctRead, crop: BGRImage, box: Box, weight: float = 1.0) -> PlateRead:
        assert self._cct is not None
        fit = self._cct_fit(read)
        score = read.confidence * plausibility(fit.text, fit, read.text) * weight
        return PlateRead(
            fit.text,
            read.text,
            read.confidence,
            score,
            box,
            fit.region,
            fit.strict,
            crop,
            country=read.country,
            country_confidence=read.country_confidence,
            reader=self._cct.name,
            least=read.least,
        )

    def _cct_boxes(self, image: BGRImage, boxes: list[tuple[Box, Box, float]]) -> list[PlateRead]:
        """Plate boxes read in one batch; reads best first.

        ``boxes``: (the plate box read, the box reported for the read, the localiser's weight), in
        frame pixels. The box reported is the character row's, as the localisers found it (the
        labelled boxes mark the characters); the recogniser reads the whole plate around it.
        Read by v2 alone: averaging v1 in, which reads more labelled plate boxes, read fewer of the
        localisers' rows (first 60 US scenes: 50 → 54 exact, even half 26 → 26, odd 24 → 28).
        """
        assert self._cct is not None
        ih, iw = image.shape[:2]
        crops: list[BGRImage] = []
        shown: list[BGRImage] = []
        for plate, _, _ in boxes:
            x1, y1, x2, y2 = _clip(_expand(plate, *CCT_MARGIN), iw, ih)
            crops.append(image[y1:y2, x1:x2])
            px1, py1, px2, py2 = _clip(plate, iw, ih)
            shown.append(image[py1:py2, px1:px2].copy())
        self.ocr_calls += 1
        reads = [
            replace(self._from_cct(r, crop, box, weight), read_box=plate)
            for r, crop, (plate, box, weight) in zip(
                self._cct.read(crops, with_partner=False), shown, boxes, strict=True
            )
            if r.text
        ]
        return sorted(reads, key=lambda r: -r.score)

    def _read_chosen(self, image: BGRImage, read: PlateRead, others: list[PlateRead] | None = None) -> PlateRead:
        """A chosen plate read again from several crops by both graphs (:data:`CHOSEN_VIEWS`), and
        from those of the ``others`` that are cuts of the same plate (:data:`CHOSEN_CUTS_IOU`)."""
        if self._cct is not None and read.reader == "ppocr" and read.line_box is not None:
            return self._reread_line(image, read)
        if self._cct is None or read.read_box is None or read.reader == "ppocr":
            return read
        first = self._cct.read_views(_chosen_views(image, read.read_box))
        self.ocr_calls += 1
        best = (first, read.read_box) if first.text else None
        if best is None or first.least < CHOSEN_CUTS_BELOW:
            boxes = [
                o.read_box
                for o in others or []
                if o is not read
                and o.text
                and o.read_box is not None
                and o.reader != "ppocr"
                and box_iou(o.box, read.box) >= CHOSEN_CUTS_IOU
            ]
            if boxes:
                self.ocr_calls += 1
                reads = self._cct.read_plates_views([_chosen_views(image, box) for box in boxes])
                for again, box in zip(reads, boxes, strict=True):
                    if again.text and (best is None or again.least > best[0].least):
                        best = (again, box)
        if best is not None:
            out = self._from_cct(best[0], read.crop, read.box)
            read = replace(out, score=read.score, read_box=best[1])
        return self._reread_main_line(image, read) if read.least < UNSURE_LINE_REREAD else read

    def _line_read(self, image: BGRImage, line: Box, read: PlateRead) -> PlateRead | None:
        """The plate-trained recogniser's read of a text line (``line`` widened by :data:`ROW_TO_PLATE`
        as a row is, under :data:`CHOSEN_VIEWS`) where its least sure character is at least
        :data:`CLOSER_LINE_REREAD` and it is a plate (None otherwise); the rank, the box and the
        score stay ``read``'s, ``read_box`` is the cut read."""
        assert self._cct is not None
        box = _expand(line, *ROW_TO_PLATE)
        again = self._cct.read_views(_chosen_views(image, box))
        self.ocr_calls += 1
        if not again.text or again.least < CLOSER_LINE_REREAD:
            return None
        out = self._from_cct(again, read.crop, read.box)
        if not out.text:  # e.g. a timestamp: not a plate, the read stands
            return None
        return replace(out, score=read.score, read_box=box)

    def _reread_line(self, image: BGRImage, read: PlateRead) -> PlateRead:
        """PP-OCR's chosen closer read, its line read again by the plate-trained recogniser
        (:data:`CLOSER_LINE_REREAD`)."""
        assert read.line_box is not None
        if CLOSER_LINE_REREAD > 1:
            return read
        out = self._line_read(image, read.line_box, read)
        return read if out is None else replace(out, closer=True, line_box=read.line_box)

    def _reread_main_line(self, image: BGRImage, read: PlateRead) -> PlateRead:
        """An unsure chosen read by the plate-trained recogniser, its plate's main text line (the
        tallest the text detector finds in the cut read) read again (:data:`UNSURE_LINE_REREAD`)."""
        assert read.read_box is not None
        ih, iw = image.shape[:2]
        x1, y1, x2, y2 = _clip(_expand(read.read_box, *CCT_MARGIN), iw, ih)
        cut = image[y1:y2, x1:x2]
        if cut.shape[0] < 4 or cut.shape[1] < 4:
            return read
        view, f, pad = _line_search_view(cut)
        self.ocr_calls += 1
        quads = self._ocr.detect_lines(view)
        if not quads:
            return read
        tallest = max(quads, key=_quad_height)
        xs, ys = (tallest[:, 0] - pad) / f + x1, (tallest[:, 1] - pad) / f + y1
        line = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        out = self._line_read(image, line, read)
        return read if out is None or out.text == read.text else out

    def read_crop(self, plate: BGRImage) -> PlateRead | None:
        """Read an image that is already one plate.

        With the plate-trained recogniser: its read (of the crop with and without a border,
        :data:`CROP_BORDERS`), and PP-OCR's (:meth:`_read_crop_ppocr`) as a
        second opinion when it is unsure (:data:`SECOND_OPINION`); the better scoring is kept.
        """
        if plate.size == 0 or plate.shape[0] < 4 or plate.shape[1] < 4:
            return None
        if self._cct is None:
            return self._read_crop_ppocr(plate)
        h, w = plate.shape[:2]
        self.ocr_calls += 1
        first = self._cct.read_views([_with_border(plate, f) for f in CROP_BORDERS])
        read = self._from_cct(first, plate, (0.0, 0.0, float(w), float(h))) if first.text else None
        if read is None or first.least < self.second_opinion:
            other = self._read_crop_ppocr(plate)
            if other is not None and (read is None or other.score > read.score):
                return replace(other, country=first.country, country_confidence=first.country_confidence)
        return read

    def _read_crop_ppocr(self, plate: BGRImage) -> PlateRead | None:
        """PP-OCR's read of a plate crop: whole and by its tallest line, the better."""
        h, w = plate.shape[:2]
        whole = self._read(plate)
        best = whole
        closer = False
        # Always look for the main character line too: even a confident whole-crop read can take
        # in state names, stickers or slogan letters that the tallest line leaves out.
        line = self._best_line(_line_search_view(plate)[0])
        if line is not None and line[4] > best[4]:
            best, closer = line, True
        text, raw, conf, fit, score = best
        if not text:
            return None
        return PlateRead(text, raw, conf, score, (0.0, 0.0, float(w), float(h)), fit.region, fit.strict, plate, closer)

    def read_scene(
        self, image: BGRImage, roi: Box | None = None, max_reads: int = 1, *, full_resolution: bool = True
    ) -> list[PlateRead]:
        """Plates in ``image`` (or its ``roi``), best first, at most ``max_reads``; boxes in frame pixels.

        ``full_resolution``: where nothing at all was read, the scene text detector looks once more
        at the search region's own resolution (:data:`SCENE_TEXT_FULL_RESOLUTION`); off for the
        periodic whole-frame scans, whose frames mostly hold no plate."""
        if image.size == 0:
            return []
        if self._detector is not None:
            reads = self._read_detected(image, roi)
        else:
            reads = _taller_first(self._read_region(image, roi, full_resolution))
        out: list[PlateRead] = []
        for read in reads:
            if read.text and all(_overlap(read.box, o.box) < 0.3 for o in out):
                out.append(read)
            if len(out) >= max_reads:
                break
        out = [self._read_chosen(image, read, reads) for read in out]
        if CLOSER_LINE_BOX:  # ranked by the rows; reported where the text read is
            out = [replace(r, box=r.line_box) if r.line_box is not None else r for r in out]
        return out

    def _read_detected(self, image: BGRImage, roi: Box | None) -> list[PlateRead]:
        """Each of the plate detector's best boxes read as a plate crop (the whole search when none reads)."""
        assert self._detector is not None
        ih, iw = image.shape[:2]
        ox, oy, x2, y2 = _clip(roi, iw, ih) if roi is not None else (0, 0, iw, ih)
        search = image[oy:y2, ox:x2]
        if search.size == 0:
            return []
        reads: list[PlateRead] = []
        for plate in self._detector.detect(search)[: self.detector_boxes]:
            box = (plate.box[0] + ox, plate.box[1] + oy, plate.box[2] + ox, plate.box[3] + oy)
            px1, py1, px2, py2 = _clip(box, iw, ih)
            crop = image[py1:py2, px1:px2].copy()
            if self._cct is not None:  # the plate-trained recogniser wants a little border
                mx1, my1, mx2, my2 = _clip(_expand(box, *CCT_MARGIN), iw, ih)
                crop = image[my1:my2, mx1:mx2].copy()
            # The detector outlines the plate itself, so it is read like a cropped plate: whole
            # and by its tallest line. Measured against searching a region a few plates wide
            # around it with the localisers (docs/plates.md): more exact reads, 23 % faster.
            read = self.read_crop(crop)  # its crop is ``crop``; its box is the crop's own
            if read is not None:
                reads.append(replace(read, box=box))
        if not reads:
            return self._read_region(image, roi) if self.detector_fallback else []
        return sorted(reads, key=lambda r: -r.score)

    def _read_region(self, image: BGRImage, roi: Box | None, full_resolution: bool = False) -> list[PlateRead]:
        """Every read of plate-like rows in ``image`` (or its ``roi``), best first."""
        ih, iw = image.shape[:2]
        ox, oy = 0, 0
        search = image
        if roi is not None:
            ox, oy, x2, y2 = _clip(roi, iw, ih)
            search = image[oy:y2, ox:x2]
            if search.size == 0:
                return []
        cands = find_plate_candidates(search, self.max_candidates, self.min_char_px)
        # Candidate rows: (row box in frame pixels, image to read, plate box, localiser weight).
        rows: list[tuple[Box, BGRImage, Box, float]] = []
        for cand in cands:
            row = (cand.box[0] + ox, cand.box[1] + oy, cand.box[2] + ox, cand.box[3] + oy)
            x1, y1, x2, y2 = _clip(_expand(row, 0.04, 0.2), iw, ih)
            line = image[y1:y2, x1:x2]
            if line.size == 0:
                continue
            up, _ = _upscale_to(line, 32)
            rows.append((row, up, plate_box_from_row(row), 0.85 + 0.15 * cand.score))
        scene_text = self.scene_text if isinstance(self._ocr, SceneTextEngine) else "never"
        if self._cct is not None:
            reads = self._read_region_cct(image, rows, search, ox, oy, scene_text)
            native = min(max(search.shape[:2]), SCENE_TEXT_FULL_RESOLUTION)
            # Test fakes have no side of their own: the product's engine says what it used.
            used = int(getattr(self._ocr, "scene_side", native))
            larger = native >= FULL_RESOLUTION_MIN_GAIN * used
            best = max((r.score for r in reads if r.text), default=None)
            weak = best is None or best < self.full_resolution_below
            if full_resolution and scene_text != "never" and weak and larger:
                lines = self._text_rows(search, ox, oy, native, rows)
                boxes = [(_expand(row, *ROW_TO_PLATE), row, 1.0) for row, _, _, _ in lines]
                found = self._cct_boxes(image, boxes) if boxes else []
                reads = self._cct_closer(image, sorted(reads + found, key=lambda r: -r.score), {})
            return reads
        if scene_text == "always":
            rows.extend(self._text_rows(search, ox, oy, None, rows))
        reads = self._read_rows(image, rows)
        # The scene text detector is the costliest step (a 960-px pass); the morphological rows
        # are cheap. By default it runs only when they gave no strong read.
        if scene_text == "fallback" and (not reads or reads[0].score < STRONG_READ):
            found = self._read_rows(image, self._text_rows(search, ox, oy, None, rows))
            reads = sorted(reads + found, key=lambda r: -r.score)
        improved: list[PlateRead] = []
        for read in reads[: self.closer_reads]:
            improved.append(self._closer(image, read) if read.score < STRONG_READ else read)
        return sorted(improved + reads[self.closer_reads :], key=lambda r: -r.score)

    def _read_region_cct(
        self,
        image: BGRImage,
        rows: list[tuple[Box, BGRImage, Box, float]],
        search: BGRImage,
        ox: int,
        oy: int,
        scene_text: SceneText,
    ) -> list[PlateRead]:
        """The localisers' rows read as plates by the plate-trained recogniser; PP-OCR for the unsure."""
        boxes = [(_expand(row, *ROW_TO_PLATE), plate, weight) for row, _, plate, weight in rows]
        if scene_text == "always":
            found = self._text_rows(search, ox, oy, None, rows)
            boxes += [(_expand(row, *ROW_TO_PLATE), row, 1.0) for row, _, _, _ in found]
        reads = self._cct_boxes(image, boxes)
        closer: dict[int, PlateRead] = {}  # a read looked at closer once is not looked at again
        best = self._cct_closer(image, reads, closer)
        if scene_text == "fallback" and (not best or best[0].score < SCENE_TEXT_SKIP):
            side = SCENE_TEXT_SURE_SIDE if best and best[0].score >= self.scene_text_sure else None
            found = self._text_rows(search, ox, oy, side, rows)
            text_boxes = [(_expand(row, *ROW_TO_PLATE), row, 1.0) for row, _, _, _ in found]
            reads = sorted(reads + self._cct_boxes(image, text_boxes), key=lambda r: -r.score)
            best = self._cct_closer(image, reads, closer)
        return best

    def _cct_closer(self, image: BGRImage, reads: list[PlateRead], done: dict[int, PlateRead]) -> list[PlateRead]:
        """``reads`` (best first) with the best few the recogniser is unsure of read again closer by PP-OCR."""
        improved: list[PlateRead] = []
        for read in reads[: self.closer_reads]:
            if read.least >= self.second_opinion:
                improved.append(read)
                continue
            if id(read) not in done:
                done[id(read)] = self._closer(image, read)
            improved.append(done[id(read)])
        return sorted(improved + reads[self.closer_reads :], key=lambda r: -r.score)

    def _read_rows(self, image: BGRImage, rows: list[tuple[Box, BGRImage, Box, float]]) -> list[PlateRead]:
        """Read candidate rows in one batch; reads best first."""
        ih, iw = image.shape[:2]
        reads: list[PlateRead] = []
        for (_, _, box, weight), result in zip(rows, self._read_many([r[1] for r in rows]), strict=True):
            text, raw, conf, fit, score = self._fit(result)
            px1, py1, px2, py2 = _clip(box, iw, ih)
            crop = image[py1:py2, px1:px2].copy()
            reads.append(PlateRead(text, raw, conf, score * weight, box, fit.region, fit.strict, crop))
        return sorted(reads, key=lambda r: -r.score)

    def _closer(self, image: BGRImage, read: PlateRead) -> PlateRead:
        ih, iw = image.shape[:2]
        x1, y1, x2, y2 = _clip(_expand(read.box, 0.15, 0.35), iw, ih)
        region = image[y1:y2, x1:x2]
        if region.size == 0:
            return read
        up, f = _upscale_to(region, 96)
        found = self._best_line_at(up)
        if found is None or found[0][4] <= read.score:
            return read
        (text, raw, conf, fit, score), quad = found
        xs, ys = quad[:, 0] / f + x1, quad[:, 1] / f + y1
        line_box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        return PlateRead(
            text,
            raw,
            conf,
            score,
            read.box,
            fit.region,
            fit.strict,
            read.crop,
            True,
            read.country,
            read.country_confidence,
            line_box=line_box,
        )


def _taller_first(reads: list[PlateRead]) -> list[PlateRead]:
    """``reads`` ranked by score weighted by row height (:data:`SIZE_PRIOR`); scores unchanged."""
    if not reads:
        return reads
    heights = [max(r.box[3] - r.box[1], 1e-6) for r in reads]
    tallest = max(heights)
    order = sorted(range(len(reads)), key=lambda i: -reads[i].score * (heights[i] / tallest) ** SIZE_PRIOR)
    return [reads[i] for i in order]


def _overlap(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small if small > 0 else 0.0
