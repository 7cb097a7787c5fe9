"""Vigil's Darknet → ONNX converter: errors on bad input, and Darknet layer semantics vs OpenCV."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from vigil.core.errors import ModelError
from vigil.core.onnx_session import make_session
from vigil.detect.yolo_decode import YOLO_METADATA_KEY, candidates_from_rows, decode_heads, parse_metadata
from vigil.models.darknet import convert_darknet

NET = "[net]\nwidth=64\nheight=64\nchannels=3\n"
# A tiny YOLO: conv (bn, leaky) stride 2, Darknet's odd maxpool size=2 stride=1, a grouped
# route, an upsample and two heads — every layer kind yolov4-tiny uses, plus the v3-tiny pool.
TINY = (
    NET
    + "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=2\npad=1\nactivation=leaky\n"  # 0
    + "[maxpool]\nsize=2\nstride=1\n"  # 1
    + "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n"  # 2
    + "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"  # 3
    + "[route]\nlayers=-1,-3\n"  # 4: 8 + 16 channels
    + "[maxpool]\nsize=2\nstride=2\n"  # 5
    + "[convolutional]\nfilters=18\nsize=1\nstride=1\npad=1\nactivation=linear\n"  # 6
    + "[yolo]\nmask=2,3,4\nanchors=4,6, 8,10, 12,14, 20,24, 30,40\nnum=5\nclasses=1\nscale_x_y=1.05\n"  # 7
    + "[route]\nlayers=-3\n"  # 8: the stride-4 pool
    + "[upsample]\nstride=2\n"  # 9
    + "[convolutional]\nfilters=18\nsize=1\nstride=1\npad=1\nactivation=linear\n"  # 10
    + "[yolo]\nmask=0,1,2\nanchors=4,6, 8,10, 12,14, 20,24, 30,40\nnum=5\nclasses=1\n"  # 11
)
TINY_PARAMS = (16 * 4 + 16 * 3 * 9) + (8 * 4 + 8 * 8 * 9) + (18 + 18 * 24) + (18 + 18 * 24)


def write_net(tmp_path: Path, cfg: str, params: int, extra: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    # Small and positive: batch-norm variances are valid wherever they land, activations stay finite.
    values = rng.uniform(0.05, 0.15, params + extra).astype("<f4")
    header = np.array([0, 2, 5], dtype="<i4").tobytes() + np.array([0], dtype="<i8").tobytes()
    (tmp_path / "net.cfg").write_text(cfg)
    (tmp_path / "net.weights").write_bytes(header + values.tobytes())
    return tmp_path / "net.cfg", tmp_path / "net.weights"


def test_tiny_network_matches_opencv_darknet(tmp_path: Path) -> None:
    cfg, weights = write_net(tmp_path, TINY, TINY_PARAMS)
    convert_darknet(cfg, weights, tmp_path / "model.onnx", class_names=["thing"])
    onnx.checker.check_model(str(tmp_path / "model.onnx"))
    session = make_session(tmp_path / "model.onnx", threads=1)
    spec = parse_metadata(session.get_modelmeta().custom_metadata_map, "tiny")
    assert spec.class_names == ("thing",)
    assert [h.anchors.tolist() for h in spec.heads] == [
        [[12, 14], [20, 24], [30, 40]],
        [[4, 6], [8, 10], [12, 14]],
    ]
    meta = json.loads(session.get_modelmeta().custom_metadata_map[YOLO_METADATA_KEY])
    assert [h["stride"] for h in meta["heads"]] == [4, 2]

    blob = np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)
    raws = session.run([h.output for h in spec.heads], {"images": blob})
    ours = decode_heads(raws, spec.heads, 64, 64, confidence=1e-6)
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setInput(blob)
    rows = np.concatenate(net.forward(net.getUnconnectedOutLayersNames()))
    theirs = candidates_from_rows(rows, confidence=1e-6)
    # Row order differs (anchor-major vs cell-major): compare as sorted sets of boxes.
    key = lambda c: np.lexsort(np.round(c.cxcywh, 4).T[::-1])  # noqa: E731
    assert ours.cxcywh.shape == theirs.cxcywh.shape == (3 * (16 * 16 + 32 * 32), 4)
    np.testing.assert_allclose(ours.cxcywh[key(ours)], theirs.cxcywh[key(theirs)], atol=1e-4)
    np.testing.assert_allclose(np.sort(ours.score), np.sort(theirs.score), atol=1e-4)


CONV = "[convolutional]\nfilters=18\nsize=1\nstride=1\npad=1\nactivation={act}\n"
YOLO = "[yolo]\nmask=0,1,2\nanchors=4,6, 8,10, 12,14\nclasses=1\n"
CONV_PARAMS = 18 + 18 * 3


@pytest.mark.parametrize(
    ("cfg", "params", "expected", "match"),
    [
        pytest.param(
            NET + CONV.format(act="linear") + "[gaussian_yolo]\nclasses=1\n",
            CONV_PARAMS,
            ModelError,
            r"net.cfg line 11 \[gaussian_yolo\]: unsupported section \[gaussian_yolo\]; .*supports: \[net\]",
            id="unsupported-section",
        ),
        pytest.param(
            NET + CONV.format(act="gelu") + YOLO,
            CONV_PARAMS,
            ModelError,
            "unsupported activation 'gelu'",
            id="act",
        ),
        pytest.param(
            NET + CONV.format(act="linear") + YOLO,
            CONV_PARAMS - 1,
            ModelError,
            "ran out of weights",
            id="short",
        ),
        pytest.param(
            NET + CONV.format(act="linear") + YOLO,
            CONV_PARAMS + 7,
            ModelError,
            "7 weight values left over",
            id="long",
        ),
        pytest.param(
            NET + CONV.format(act="linear") + "[route]\nlayers=-5\n" + YOLO,
            CONV_PARAMS,
            ModelError,
            "layer reference -5 points outside",
            id="route-out-of-range",
        ),
        pytest.param(NET + CONV.format(act="linear"), CONV_PARAMS, ModelError, r"no \[yolo\] layer", id="no-yolo"),
        pytest.param("[convolutional]\nfilters=1\n", 0, ModelError, r"first section must be \[net\]", id="no-net"),
        pytest.param(
            NET + "filters=oops\n[convolutional]\nfilters=x\n" + YOLO,
            0,
            ModelError,
            "not an integer",
            id="int",
        ),
        pytest.param(NET + CONV.format(act="linear") + YOLO, CONV_PARAMS, None, None, id="valid"),
    ],
)
def test_converter_input_errors(
    tmp_path: Path, cfg: str, params: int, expected: type[Exception] | None, match: str | None
) -> None:
    cfg_path, weights = write_net(tmp_path, cfg, params)
    if expected is None:
        convert_darknet(cfg_path, weights, tmp_path / "model.onnx")
        assert (tmp_path / "model.onnx").stat().st_size > 0
        return
    with pytest.raises(expected, match=match) as caught:
        convert_darknet(cfg_path, weights, tmp_path / "model.onnx")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "model.onnx").exists()
