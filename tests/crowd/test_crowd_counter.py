"""The counting step's choices (vigil.crowd.counter): which CSRNet width, which count, and where
the counted people are placed for a calibration — with a stand-in CSRNet whose output is known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vigil.config.crowd import CrowdConfig
from vigil.crowd.calibration import CameraCalibration
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.density import DensityEstimator


class UniformDensity:
    """CSRNet stand-in: every output cell holds ``per_cell`` people; records the input widths."""

    def __init__(self, per_cell: float) -> None:
        self.per_cell = per_cell
        self.widths: list[int] = []

    def run(self, output_names: Any, input_feed: dict[str, Any]) -> list[Any]:
        _, _, h, w = input_feed["image"].shape
        self.widths.append(int(w))
        return [np.full((1, 1, h // 8, w // 8), self.per_cell, dtype=np.float32)]


FRAME = np.zeros((768, 1024, 3), dtype=np.uint8)
RULE = CountRule()  # the defaults: near above 0.25 of the height or 2x disagreement, blend 0-40


def boxes(n: int, height: float) -> Any:
    return lambda _image: np.array([[10 + 20 * i, 100, 28 + 20 * i, 100 + height] for i in range(n)], np.float32)


def test_near_people_run_csrnet_small_and_count_by_the_combined_count() -> None:
    session = UniformDensity(0.001)  # below the floor: no density counts
    counted = count_frame(FRAME, boxes(5, 400), DensityEstimator(session, 1024), RULE)  # 400/768 > 0.25
    assert session.widths == [384]
    assert counted.input_width == 384 and counted.density_weight == 0.0
    assert counted.count == pytest.approx(5.0)


def test_far_crowd_runs_at_full_width_and_trusts_density_when_it_is_a_crowd() -> None:
    session = UniformDensity(0.05)  # 128 x 96 cells x 0.05 = 614 people at 1024 px
    counted = count_frame(FRAME, boxes(40, 60), DensityEstimator(session, 1024), RULE)
    assert session.widths == [1024]
    assert counted.density == pytest.approx(128 * 96 * 0.05, rel=1e-4)
    assert counted.density_weight == 1.0 and counted.count == pytest.approx(counted.density)
    assert counted.placed.total == pytest.approx(counted.count, rel=1e-4)


class Blobs(UniformDensity):
    """12 people of density on the cells of three small boxes (heads behind heads)."""

    def run(self, output_names: Any, input_feed: dict[str, Any]) -> list[Any]:
        _, _, h, w = input_feed["image"].shape
        self.widths.append(int(w))
        out = np.zeros((1, 1, h // 8, w // 8), np.float32)
        if w == 1024:  # cells of the box (x 10-28, y 100-160): 12 people where detection sees one
            out[0, 0, 13:17, 1:4] = 1.0
        return [out]


def test_density_far_above_the_combined_count_means_near_people_and_a_second_small_run() -> None:
    session = Blobs(0.0)
    counted = count_frame(FRAME, boxes(1, 60), DensityEstimator(session, 1024), RULE)
    # At 1024 px: 12 density people against 1 detection + what lies outside its box: over 2x.
    assert session.widths == [1024, 384]
    assert counted.input_width == 384 and counted.density_weight == 0.0


def test_ratio_test_waits_for_near_min_people_combined_people() -> None:
    # Below crowd.near_min_people combined people a density far above the combined count is read
    # as people detection missed (Mall's small, occluded people), not as near people.
    session = Blobs(0.0)
    rule = CountRule(near_min_people=15, near_few_people=0)
    counted = count_frame(FRAME, boxes(1, 60), DensityEstimator(session, 1024), rule)
    assert session.widths == [1024]
    assert counted.input_width == 1024 and counted.combined < 15
    assert rule.density_disagrees(40.0, 15.0) and not rule.density_disagrees(40.0, 14.9)
    assert CountRule(near_min_people=0).density_disagrees(40.0, 10.0)  # 0: the test at any count
    assert CountRule().density_disagrees(40.0, 1.0) and not CountRule().density_disagrees(40.0, 10.0)  # (5, 15)
    with pytest.raises(ValueError, match="near_min_people"):
        CountRule(near_min_people=-1)


def test_ratio_test_applies_under_near_few_people_whatever_near_min_people_says() -> None:
    # A frame where detection finds almost nobody and CSRNet sums many people is texture (the people
    # clip's empty floor: combined 0.06, CSRNet 25) or a few near bodies: it keeps the near path.
    rule = CountRule(near_min_people=15, near_few_people=1)
    assert rule.density_disagrees(25.0, 0.06) and rule.density_disagrees(25.0, 0.99)
    assert not rule.density_disagrees(25.0, 1.0) and not rule.density_disagrees(40.0, 14.9)
    assert rule.density_disagrees(40.0, 15.0)
    for few, widths in ((1.0, [1024, 384]), (0.0, [1024])):  # an empty frame, texture under the floor
        session = UniformDensity(0.002)  # 128 x 96 cells x 0.002 = 24.6 people at 1024 px, combined 0
        rule_few = CountRule(near_min_people=15, near_few_people=few)
        counted = count_frame(FRAME, boxes(0, 60), DensityEstimator(session, 1024), rule_few)
        assert session.widths == widths and counted.input_width == widths[-1]
    assert CountRule(near_min_people=0, near_few_people=5).density_disagrees(40.0, 10.0)  # 0: no gap at all
    with pytest.raises(ValueError, match="near_few_people"):
        CountRule(near_few_people=-1)


def test_blend_moves_from_combined_to_density_over_the_ramp() -> None:
    rule = CountRule(blend_from=10, blend_to=30)
    assert rule.density_weight(5) == 0.0 and rule.density_weight(20) == pytest.approx(0.5)
    assert rule.density_weight(30) == 1.0
    with pytest.raises(ValueError, match="blend range"):
        CountRule(blend_from=30, blend_to=10)


def test_count_rule_the_three_counts_and_the_far_default() -> None:
    # Fails if the formula or the default changes: the linear far-path rule of the seventh round,
    # (a, b) = the mean of the five fold fits (0.32, 0.76), fixed before scoring (docs/crowd.md).
    rule = CountRule()
    assert (rule.far_combined, rule.far_tuned) == (0.32, 0.76) == CrowdConfig().tail_far_weights
    assert CrowdConfig().density_tail == "tuned"
    assert rule.count(100.0, 50.0, 80.0, near=False) == pytest.approx(0.32 * 100 + 0.76 * 80)  # 92.8
    assert rule.count(100.0, 5.0, 80.0, near=False) == pytest.approx(92.8)  # no ramp on the tuned map
    assert rule.count(100.0, 50.0, 80.0, near=True) == 100.0  # near: the combined count alone
    assert rule.count(100.0, 50.0, None, near=False) == 50.0  # stock tail: the ramp, past 40 the sum
    assert rule.count(100.0, 20.0, None, near=False) == pytest.approx(60.0)  # half-way up the ramp
    assert rule.weights(20.0, near=False, tuned=True) == (0.32, 0.76)
    assert rule.weights(20.0, near=False, tuned=False) == (0.5, 0.5)
    assert rule.weights(20.0, near=True, tuned=True) == (1.0, 0.0)
    assert CountRule(far_combined=0.0, far_tuned=1.0).count(100.0, 50.0, 80.0, near=False) == 80.0
    for bad in ((-0.1, 1.0), (1.0, -0.1), (0.0, 0.0), (float("nan"), 1.0)):
        with pytest.raises(ValueError, match="far weights"):
            CountRule(far_combined=bad[0], far_tuned=bad[1])
    assert CountRule.from_config(CrowdConfig(tail_far_weights=(0.5, 0.25))).weights(0.0, near=False, tuned=True) == (
        0.5,
        0.25,
    )


def test_placed_count_splits_people_by_rows_for_a_calibration() -> None:
    session = UniformDensity(0.05)
    counted = count_frame(FRAME, boxes(40, 60), DensityEstimator(session, 1024), RULE)
    top_double = CameraCalibration((2.0, 1.0))
    # Uniform density: half the people in each half of the frame.
    assert top_double.apply(counted.placed) == pytest.approx(1.5 * counted.count, rel=1e-3)


def _monitor(session: UniformDensity, calibration: CameraCalibration | None) -> Any:
    from vigil.config import parse_config
    from vigil.crowd.monitor import CrowdMonitor

    cam = parse_config(
        {
            "cameras": [
                {
                    "id": "c",
                    "url": "x.mp4",
                    "zones": [{"id": "low", "polygon": [[0, 250], [768, 250], [768, 432], [0, 432]]}],
                }
            ]
        }
    ).cameras[0]
    cfg = parse_config({}).crowd
    return CrowdMonitor(
        "cameras[0]", cam.zones, cam.lines, cfg, DensityEstimator(session, 1024), calibration=calibration
    )


def test_live_density_runs_on_the_zones_only_and_the_calibration_scales_the_zone() -> None:
    frame = np.zeros((432, 768, 3), dtype=np.uint8)
    no_boxes = np.zeros((0, 4), np.float32)
    plain = UniformDensity(0.05)
    out = _monitor(plain, None).observe(0.0, frame, [], no_boxes)
    assert plain.widths == [768]  # the zone's rectangle at the frame's own scale, not the frame
    zone = {s.zone_id: s for s in out.samples}["low"]
    assert zone.density_count == pytest.approx(96 * 22 * 0.05, rel=0.05)  # 768 x 182 px of 0.05/cell
    doubled = _monitor(UniformDensity(0.05), CameraCalibration((2.0,))).observe(0.0, frame, [], no_boxes)
    assert {s.zone_id: s for s in doubled.samples}["low"].count == pytest.approx(2 * zone.count, abs=1)


def test_installed_int8_csrnet_keeps_its_last_layers_float(installed_models_dir: Any) -> None:
    """Recipe 3: dense crowds saturated the int8 ranges of the last back-end layers (docs/crowd.md)."""
    import onnx

    from vigil.models.quantize import CSRNET_FP32_NODES

    graph = onnx.load(str(installed_models_dir / "csrnet" / "model-int8.onnx")).graph
    dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
    for name in CSRNET_FP32_NODES:
        assert convs[name].input[1] not in dequantized, name  # float weights
    assert convs["backend_0_conv"].input[1] in dequantized  # the rest stays int8
    # backend_8_relu stays a float tensor read by the float backend_10: what
    # `train_crowd_density.py cache --front int8` caches and a second (tuned) tail would read.
    assert convs["backend_10_conv"].input[0] == "backend_8_relu"
    assert not any(n.op_type == "QuantizeLinear" and "backend_8_relu" in n.input for n in graph.node)
