"""PP-PicoDet-S 416 as an optional detector: its DFL decoder against a plain reading of real
output, the install path (weights removed from the graph inputs) and the start-up refusals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.detect.picodet import BINS, PICODET_STRIDES, PicoDetDetector, decode_picodet, picodet_blob
from vigil.detect.yolox import YoloxDetector


def test_install_removes_the_weights_from_the_graph_inputs(picodet_path: Path) -> None:
    import onnx

    graph = onnx.load(str(picodet_path)).graph
    assert [i.name for i in graph.input] == ["image"]  # 279 weights were inputs in the file as published
    assert "Apache License" in (picodet_path.parent / "LICENSE").read_text()


def reference_boxes(
    scores: list[NDArray[np.float32]], sides: list[NDArray[np.float32]], conf: float
) -> list[list[float]]:
    """PROVENANCE.md's decoding, one cell at a time: (cx, cy, w, h on the 416 input, score, class)."""
    out: list[list[float]] = []
    for level_scores, level_sides, stride in zip(scores, sides, PICODET_STRIDES, strict=True):
        width = math.ceil(416 / stride)
        for cell in range(level_scores.shape[0]):
            cls = int(level_scores[cell].argmax())
            score = float(level_scores[cell, cls])
            if score < conf:
                continue
            px, py = (cell % width + 0.5) * stride, (cell // width + 0.5) * stride
            dist = []
            for side in range(4):
                logits = level_sides[cell, side * BINS : (side + 1) * BINS].astype(np.float64)
                p = np.exp(logits - logits.max())
                dist.append(float((p / p.sum()) @ np.arange(BINS)) * stride)
            x1, y1, x2, y2 = px - dist[0], py - dist[1], px + dist[2], py + dist[3]
            out.append([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, score, cls])
    return out


def test_decoder_matches_a_cell_by_cell_reading_of_real_output(
    picodet_path: Path, vtest_frame: NDArray[np.uint8]
) -> None:
    detector = PicoDetDetector(picodet_path, confidence=0.3)
    session = detector._session
    outs = session.run(detector._scores + detector._sides, {"image": picodet_blob(vtest_frame, 416)})
    scores = [np.asarray(o, np.float32)[0] for o in outs[:4]]
    sides = [np.asarray(o, np.float32)[0] for o in outs[4:]]
    got = decode_picodet(scores, sides, 416, 0.3)
    want = np.asarray(reference_boxes(scores, sides, 0.3))
    assert want.shape[0] >= 10 and got.score.size == want.shape[0]
    np.testing.assert_allclose(got.cxcywh * 416, want[:, :4], atol=0.01)
    np.testing.assert_allclose(got.score, want[:, 4], atol=1e-6)
    np.testing.assert_array_equal(got.class_id, want[:, 5].astype(np.int64))
    people = detector.detect(vtest_frame)
    assert int((people.class_id == 0).sum()) >= 6  # the six walkers of frame 300 (checked by eye)


def test_graphs_of_the_other_decoders_are_refused_in_one_line(picodet_path: Path, yolox_path: Path) -> None:
    wrong_outputs = r"^yolox_nano\.onnx: outputs are \[\[1, 3549, 85\]\], the picodet decoder needs"
    with pytest.raises(ModelError, match=wrong_outputs):
        PicoDetDetector(yolox_path)
    too_many = r"^picodet_s_416_coco\.onnx: the yolox decoder needs one \[1, rows, 85\] output, the graph has 8"
    with pytest.raises(ModelError, match=too_many):
        YoloxDetector(picodet_path)
    size = r"takes 416x416 input, detector.input_size is 320 \(allowed for this model: 416\)"
    with pytest.raises(ModelError, match=size):
        PicoDetDetector(picodet_path, input_size=320)
