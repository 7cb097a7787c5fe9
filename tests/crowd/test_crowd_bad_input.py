"""Bad crowd input: each gets one clear error naming the zone, line, camera or file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io

from vigil.config import parse_config
from vigil.config.crowd import CrowdConfig
from vigil.core.errors import ConfigError, InputError
from vigil.crowd.dataset import head_points, list_images
from vigil.crowd.monitor import CrowdMonitor

SQUARE = [[10, 10], [100, 10], [100, 100], [10, 100]]


def _config(zones: list[dict[str, Any]] | None = None, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    cam: dict[str, Any] = {"id": "gate", "url": "clip.mp4"}
    if zones is not None:
        cam["zones"] = zones
    if lines is not None:
        cam["lines"] = lines
    return {"cameras": [cam]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            _config(zones=[{"id": "bowtie", "polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}]),
            r"cameras\[0\]\.zones\[0\].*zone 'bowtie': polygon self-intersects",
        ),
        (
            _config(zones=[{"id": "flat", "polygon": [[0, 0], [50, 50], [100, 100]]}]),
            r"cameras\[0\]\.zones\[0\].*zone 'flat': polygon is degenerate",
        ),
        (_config(zones=[{"id": "two", "polygon": [[0, 0], [5, 5]]}]), r"cameras\[0\]\.zones\[0\]\.polygon"),
        (_config(zones=[{"id": "a", "polygon": SQUARE, "area_m2": 0}]), r"cameras\[0\]\.zones\[0\]\.area_m2"),
        (
            _config(zones=[{"id": "a", "polygon": SQUARE, "max_density_per_m2": 2}]),
            r"zone 'a': max_density_per_m2 needs area_m2",
        ),
        (
            _config(zones=[{"id": "a", "polygon": SQUARE}, {"id": "a", "polygon": SQUARE}]),
            r"cameras\[0\]\.zones.*duplicate id 'a'",
        ),
        (
            _config(lines=[{"id": "door", "start": [10, 10], "end": [10, 10]}]),
            r"cameras\[0\]\.lines\[0\].*line 'door': start and end are 0\.0 px apart",
        ),
        (
            _config(lines=[{"id": "door", "start": [0, 0], "end": [5, 0], "allowed_direction": "up"}]),
            r"cameras\[0\]\.lines\[0\]\.allowed_direction",
        ),
        # Zones live inside their camera: a zone declared anywhere else is an unknown key.
        ({"crowd": {"zones": [{"id": "a", "polygon": SQUARE}]}}, r"unknown key 'crowd\.zones'"),
        ({"zones": [{"id": "a", "polygon": SQUARE}]}, r"unknown key 'zones'"),
    ],
)
def test_bad_zone_and_line_config_names_the_key(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(data, source="cameras.yaml")


def test_valid_zones_and_lines_load() -> None:
    cfg = parse_config(
        _config(
            zones=[{"id": "hall", "polygon": SQUARE, "area_m2": 40, "max_density_per_m2": 2}],
            lines=[{"id": "door", "start": [0, 50], "end": [200, 50], "allowed_direction": "in"}],
        )
    )
    assert cfg.cameras[0].zones[0].area_m2 == 40
    assert cfg.cameras[0].lines[0].allowed_direction == "in"


def test_out_of_frame_zone_names_zone_and_frame_size() -> None:
    cfg = parse_config(
        _config(zones=[{"id": "ok", "polygon": SQUARE}, {"id": "far", "polygon": [[0, 0], [900, 0], [900, 50]]}])
    )
    cam = cfg.cameras[0]
    monitor = CrowdMonitor("cameras[0]", cam.zones, cam.lines, CrowdConfig(), density=None)
    with pytest.raises(
        ConfigError, match=r"cameras\[0\]\.zones\[1\] \(zone 'far'\): vertex \[900, 0\] is outside the 768x432 frame"
    ):
        monitor.check_frame_size(768, 432)
    image = np.zeros((432, 768, 3), np.uint8)
    with pytest.raises(ConfigError, match="zone 'far'"):
        monitor.observe(0.0, image, [], np.zeros((0, 4), np.float32))


def test_out_of_frame_line_is_refused_when_the_stage_is_built(tmp_path: Path, people_clip: Path) -> None:
    from vigil.workers.crowd_stage import build_crowd_stage
    from vigil.workers.stages import StageContext

    cfg = parse_config(
        {
            "data_dir": str(tmp_path),
            "crowd": {"enabled": True},
            "cameras": [
                {"id": "p", "url": str(people_clip), "lines": [{"id": "door", "start": [0, 400], "end": [2000, 400]}]}
            ],
        }
    )
    ctx = StageContext(cfg=cfg, camera=cfg.cameras[0], store=None, media=None)  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"cameras\[0\]\.lines\[0\] \(line 'door'\): point \[2000, 400\] is outside the 768x432 frame"
    ):
        build_crowd_stage(ctx)


def _shanghaitech(root: Path, points: np.ndarray) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "ground-truth").mkdir()
    (root / "images" / "IMG_1.jpg").write_bytes(b"")
    info = np.empty((1, 1), dtype=object)
    inner = np.empty((1, 1), dtype=[("location", object), ("number", object)])
    inner[0, 0] = (points, np.array([[len(points)]]))
    info[0, 0] = inner
    path = root / "ground-truth" / "GT_IMG_1.mat"
    scipy.io.savemat(str(path), {"image_info": info})
    return path


def test_shanghaitech_mat_points_are_read(tmp_path: Path) -> None:
    pts = np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    path = _shanghaitech(tmp_path, pts)
    assert list_images(tmp_path)[0].truth == path
    np.testing.assert_allclose(head_points(path), pts)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a MATLAB file at all", r"GT_IMG_1\.mat: unreadable \.mat file"),
        (None, r"GT_IMG_1\.mat: not ShanghaiTech ground truth"),
    ],
)
def test_unreadable_mat_names_the_file(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = _shanghaitech(tmp_path, np.zeros((2, 2)))
    if content is None:
        scipy.io.savemat(str(path), {"something_else": np.ones(3)})
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=expected):
        head_points(path)


def test_missing_ground_truth_and_layout_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a crowd data set"):
        list_images(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "IMG_7.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"IMG_7\.jpg: no ground truth.*GT_IMG_7\.mat"):
        list_images(tmp_path)
