"""``crowd.density_tail: tuned``: the near-people gate reads the stock map, the count the tuned
tail's (vigil.crowd.counter, vigil.crowd.monitor), with a stand-in two-output CSRNet."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.config import VigilConfig
from vigil.config.crowd import CrowdConfig
from vigil.crowd.calibration import CameraCalibration
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.density import DensityEstimator
from vigil.workers.crowd_stage import build_density


class TwoTails:
    """CSRNet stand-in with two outputs: ``stock`` and ``tuned`` people per cell."""

    def __init__(self, stock: float, tuned: float) -> None:
        self.stock, self.tuned = stock, tuned
        self.widths: list[int] = []

    def run(self, output_names: Any, input_feed: dict[str, Any]) -> list[Any]:
        _, _, h, w = input_feed["image"].shape
        self.widths.append(int(w))
        return [np.full((1, 1, h // 8, w // 8), v, dtype=np.float32) for v in (self.stock, self.tuned)]


FRAME = np.zeros((768, 1024, 3), dtype=np.uint8)
CELLS = 128 * 96  # CSRNet cells of a 1024x768 frame at 1024 px


def boxes(n: int, height: float) -> Any:
    return lambda _image: np.array([[10 + 20 * i, 100, 28 + 20 * i, 100 + height] for i in range(n)], np.float32)


def test_far_crowd_is_gated_on_the_stock_map_and_counted_by_the_linear_rule() -> None:
    session = TwoTails(0.05, 0.06)  # 614 stock, 737 tuned: a crowd either way
    counted = count_frame(FRAME, boxes(40, 60), DensityEstimator(session, 1024), CountRule())
    stock_only = count_frame(FRAME, boxes(40, 60), DensityEstimator(StockOnly(0.05, 9.0), 1024), CountRule())
    assert session.widths == [1024]
    assert counted.density == pytest.approx(CELLS * 0.06, rel=1e-4)
    assert counted.stock_density == pytest.approx(CELLS * 0.05, rel=1e-4)
    # The combined count is the stock map's (the tuned map would give 40 + 0.06 per cell outside the boxes).
    assert counted.combined == pytest.approx(stock_only.combined) and counted.combined > 40
    assert counted.count == pytest.approx(0.32 * counted.combined + 0.76 * counted.density, rel=1e-6)
    assert (counted.combined_weight, counted.density_weight) == (0.32, 0.76)
    # The placed people (calibration) add up to the count: 0.32 of the combined parts, 0.76 of the tuned map.
    assert counted.placed.total == pytest.approx(counted.count, rel=1e-4)
    assert CameraCalibration((2.0, 1.0)).apply(counted.placed) == pytest.approx(1.5 * counted.count, rel=0.02)


def test_the_far_rule_weights_come_from_crowd_tail_far_weights() -> None:
    rule = CountRule.from_config(CrowdConfig(tail_far_weights=(0.5, 0.25)))
    counted = count_frame(FRAME, boxes(40, 60), DensityEstimator(TwoTails(0.05, 0.06), 1024), rule)
    assert counted.count == pytest.approx(0.5 * counted.combined + 0.25 * counted.density, rel=1e-6)


def test_the_gate_ignores_the_tuned_map() -> None:
    # Stock: 61 people against 4 detected (near: 2x disagreement) -> the 384 px near path, stock map;
    # the tuned map (near 0) would have said "far", so a gate on it would count differently.
    session = TwoTails(0.005, 0.0)
    counted = count_frame(FRAME, boxes(4, 60), DensityEstimator(session, 1024), CountRule())
    assert session.widths == [1024, 384]
    assert counted.input_width == 384 and counted.count == pytest.approx(4.0 + counted.combined - 4.0)


class StockOnly(TwoTails):
    """The stock graph: the first output only."""

    def run(self, output_names: Any, input_feed: dict[str, Any]) -> list[Any]:
        return super().run(output_names, input_feed)[:1]


def test_a_one_output_graph_counts_as_before() -> None:
    counted = count_frame(FRAME, boxes(40, 60), DensityEstimator(StockOnly(0.05, 9.0), 1024), CountRule())
    assert counted.density == pytest.approx(CELLS * 0.05, rel=1e-4)


def test_tuned_without_the_tail_model_warns_once_and_counts_with_the_stock_tail(
    installed_models_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "csrnet").symlink_to(installed_models_dir / "csrnet")  # the stock model only
    cfg = VigilConfig(models_dir=models, crowd=CrowdConfig(density_tail="tuned"))
    with caplog.at_level(logging.WARNING, logger="vigil.workers.crowd_stage"):
        density = build_density(cfg, required=True)
    assert density is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "counting with the stock tail" in warnings[0] and "csrnet-tail" in warnings[0]
    assert "\n" not in warnings[0]
    assert density.estimate(FRAME[:64, :96]).tuned is None


def test_tuned_with_fp32_counts_with_the_stock_tail(
    installed_models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = VigilConfig(
        models_dir=installed_models_dir, crowd=CrowdConfig(density_tail="tuned", density_precision="fp32")
    )
    with caplog.at_level(logging.WARNING, logger="vigil.workers.crowd_stage"):
        density = build_density(cfg, required=True)
    assert density is not None and density.estimate(FRAME[:64, :96]).tuned is None
    assert any("needs density_precision: int8" in r.getMessage() for r in caplog.records)


def test_tuned_with_the_tail_model_installed_runs_the_two_tail_graph(installed_models_dir: Path) -> None:
    cfg = VigilConfig(models_dir=installed_models_dir, crowd=CrowdConfig(density_tail="tuned"))
    density = build_density(cfg, required=True)
    assert density is not None
    dmap = density.estimate(FRAME[:64, :96])
    assert dmap.tuned is not None and dmap.tuned.shape == dmap.density.shape
    assert dmap.counting_map().density is dmap.tuned


def _zone_sample(session: TwoTails, cfg: CrowdConfig | None = None, method: str = "auto") -> Any:
    """The live monitor's sample of zone ``low`` (the lower part of a 768x432 frame, nobody detected):
    its density runs on the zone's rectangle only."""
    from vigil.config import parse_config
    from vigil.crowd.monitor import CrowdMonitor

    zone = {"id": "low", "polygon": [[0, 250], [768, 250], [768, 432], [0, 432]], "count_method": method}
    cam = parse_config({"cameras": [{"id": "c", "url": "x.mp4", "zones": [zone]}]}).cameras[0]
    frame = np.zeros((432, 768, 3), dtype=np.uint8)
    monitor = CrowdMonitor("cameras[0]", cam.zones, cam.lines, cfg or CrowdConfig(), DensityEstimator(session, 1024))
    (sample,) = [s for s in monitor.observe(0.0, frame, [], np.zeros((0, 4), np.float32)).samples if s.zone_id == "low"]
    assert session.widths == [768] and sample.density_count is not None
    return sample


def test_live_zones_count_on_the_tuned_map() -> None:
    assert _zone_sample(TwoTails(0.05, 0.1)).density_count == pytest.approx(
        2 * _zone_sample(TwoTails(0.05, 0.05)).density_count, rel=0.01
    )
    tuned, stock = (
        _zone_sample(TwoTails(0.05, 0.1), method="density"),
        _zone_sample(StockOnly(0.05, 0.1), method="density"),
    )
    assert tuned.count == round(tuned.density_count) == round(2 * stock.density_count)


def test_live_zones_count_by_the_same_linear_rule() -> None:
    # Nobody detected: the zone's combined count is the stock density above the floor, all of it.
    stock = _zone_sample(StockOnly(0.05, 9.0)).density_count
    sample = _zone_sample(TwoTails(0.05, 0.1))
    assert sample.method == "combined" and stock > 50
    assert sample.count == round(0.32 * stock + 0.76 * sample.density_count)
    weighted = _zone_sample(TwoTails(0.05, 0.1), CrowdConfig(tail_far_weights=(1.0, 0.5)))
    assert weighted.count == round(stock + 0.5 * sample.density_count)


def test_live_zones_go_through_count_rule_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    # No second copy of the formula in the monitor: changing CountRule.weights changes the zone's count.
    sample = _zone_sample(TwoTails(0.05, 0.1))
    monkeypatch.setattr(CountRule, "weights", lambda self, stock, *, near, tuned: (0.0, 2.0) if tuned else (1.0, 0.0))
    assert _zone_sample(TwoTails(0.05, 0.1)).count == round(2 * sample.density_count)
