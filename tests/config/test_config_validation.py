"""parse_config: every refusal is one ConfigError line naming the key path, the value and the rule."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.config import CameraConfig, VigilConfig, parse_config
from vigil.config.camera import CAMERA_ID_PATTERN
from vigil.core.errors import ConfigError

# The pattern without its anchors: Python's ``$`` also matches before a trailing newline,
# so the property below decides "valid" with fullmatch, as a user would read the rule.
_ID_BODY = CAMERA_ID_PATTERN.removeprefix("^").removesuffix("$")


def camera(**overrides: Any) -> dict[str, Any]:
    """A valid ``cameras[]`` entry, with some keys replaced."""
    return {"id": "front-door", "url": "clips/front.mp4", **overrides}


def with_camera(**overrides: Any) -> dict[str, Any]:
    """A config holding one camera built by :func:`camera`."""
    return {"cameras": [camera(**overrides)]}


def refusal(data: Any) -> str:
    """The message of the ConfigError that ``data`` raises; fails the test if it is accepted."""
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


# -- defaults --------------------------------------------------------------------------
def test_empty_and_none_give_the_defaults() -> None:
    assert parse_config(None) == parse_config({}) == VigilConfig()


def test_defaults_are_sane() -> None:
    cfg = parse_config(with_camera())
    cam = cfg.cameras[0]
    assert cam.analysis_fps == 5.0
    assert cam.rtsp_transport == "tcp"
    assert cam.enabled
    assert cam.motion_gate.enabled
    assert 0 < cam.motion_gate.threshold < 0.05
    assert cam.position is None
    assert cam.display_name == "front-door"
    assert cfg.detector.model == "yolox-nano"
    assert "person" in cfg.detector.classes
    assert cfg.detector.input_size % 32 == 0
    assert 0 < cfg.detector.confidence < cfg.tracker.activation_threshold < 1
    assert cfg.tracker.type == "bytetrack"
    assert cfg.bus.type == "memory"
    assert cfg.cameras == (cam,)
    assert cfg.store_url.startswith("sqlite:///") and cfg.store_url.endswith("vigil.db")


def test_config_is_frozen() -> None:
    cam = parse_config(with_camera()).cameras[0]
    with pytest.raises(ValueError, match="frozen"):
        cam.analysis_fps = 10  # type: ignore[misc]


# -- unknown keys, one row per level of the tree ---------------------------------------
@pytest.mark.parametrize(
    ("data", "key_path"),
    [
        ({"camera": []}, "camera"),
        (with_camera(fps=3), "cameras[0].fps"),
        ({"cameras": [camera(), camera(id="back", frame_rate=3)]}, "cameras[1].frame_rate"),
        (with_camera(motion_gate={"on": True}), "cameras[0].motion_gate.on"),
        (with_camera(position={"lat": 1, "lon": 2, "alt": 3}), "cameras[0].position.alt"),
        ({"detector": {"conf": 0.4}}, "detector.conf"),
        ({"tracker": {"lost_s": 2}}, "tracker.lost_s"),
        ({"store": {"path": "x.db"}}, "store.path"),
        ({"bus": {"kind": "memory"}}, "bus.kind"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_unknown_key_is_refused_with_its_path(data: dict[str, Any], key_path: str) -> None:
    message = refusal(data)
    assert f"unknown key '{key_path}'" in message


@pytest.mark.parametrize(
    ("data", "a_valid_key"),
    [
        (with_camera(fps=3), "analysis_fps"),
        ({"detector": {"conf": 0.4}}, "confidence"),
        ({"tracker": {"lost_s": 2}}, "lost_track_s"),
    ],
)
def test_unknown_key_message_lists_the_valid_keys(data: dict[str, Any], a_valid_key: str) -> None:
    assert a_valid_key in refusal(data)


# -- wrong types and values: (data, key path, what was given, what is allowed) ---------
BAD_VALUES = [
    # wrong types
    (with_camera(analysis_fps="fast"), "cameras[0].analysis_fps", "'fast'", "number"),
    (with_camera(id=7), "cameras[0].id", "7", "string"),
    (with_camera(motion_gate={"enabled": "maybe"}), "cameras[0].motion_gate.enabled", "'maybe'", "boolean"),
    (with_camera(motion_gate=None), "cameras[0].motion_gate", "None", "dictionary"),
    ({"cameras": ["front.mp4"]}, "cameras[0]", "'front.mp4'", "dictionary"),
    ({"detector": [1]}, "detector", "[1]", "dictionary"),
    ({"detector": {"threads": 1.5}}, "detector.threads", "1.5", "integer"),
    # out of range
    (with_camera(analysis_fps=0), "cameras[0].analysis_fps", "got 0;", "greater than 0"),
    (with_camera(analysis_fps=-1), "cameras[0].analysis_fps", "got -1;", "greater than 0"),
    (with_camera(analysis_fps=61), "cameras[0].analysis_fps", "got 61;", "less than or equal to 60"),
    (with_camera(analysis_fps=float("nan")), "cameras[0].analysis_fps", "got nan;", "expected"),
    (with_camera(read_timeout_s=float("inf")), "cameras[0].read_timeout_s", "got inf;", "finite"),
    (with_camera(motion_gate={"threshold": 1.5}), "cameras[0].motion_gate.threshold", "1.5", "less than 1"),
    (
        with_camera(motion_gate={"keepalive_s": 0}),
        "cameras[0].motion_gate.keepalive_s",
        "0",
        "greater than 0",
    ),
    (with_camera(name="x" * 201), "cameras[0].name", "'xxx", "at most 200 characters"),
    (with_camera(url=""), "cameras[0].url", "''", "at least 1 character"),
    ({"detector": {"input_size": 400}}, "detector.input_size", "400", "multiple of 32"),
    ({"detector": {"input_size": 96}}, "detector.input_size", "96", "greater than or equal to 128"),
    ({"detector": {"confidence": 1}}, "detector.confidence", "1", "less than 1"),
    ({"detector": {"threads": 0}}, "detector.threads", "0", "greater than or equal to 1"),
    ({"detector": {"classes": []}}, "detector.classes", "[]", "at least 1 item"),
    (
        {"detector": {"model": "yolov8n"}},
        "detector.model",
        "'yolov8n'",
        "'yolov4-tiny', 'yolox-nano' or 'picodet-s-416'",
    ),
    ({"tracker": {"lost_track_s": 0}}, "tracker.lost_track_s", "0", "greater than 0"),
    ({"tracker": {"lost_track_s": 61}}, "tracker.lost_track_s", "61", "less than or equal to 60"),
    ({"tracker": {"min_consecutive_frames": 0}}, "tracker.min_consecutive_frames", "0", "greater than"),
    ({"tracker": {"type": "sort"}}, "tracker.type", "'sort'", "'bytetrack'"),
    ({"bus": {"queue_size": 1}}, "bus.queue_size", "1", "greater than or equal to 10"),
    # the rules of the camera section
    (with_camera(id="Front Door"), "cameras[0].id", "'Front Door'", CAMERA_ID_PATTERN),
    (with_camera(id="-front"), "cameras[0].id", "'-front'", CAMERA_ID_PATTERN),
    (with_camera(id="a" * 64), "cameras[0].id", "'aaa", CAMERA_ID_PATTERN),
    (with_camera(url="ftp://nas/front.mp4"), "cameras[0].url", "'ftp://nas/front.mp4'", "rtsp, rtsps"),
    (with_camera(url="rtmp://h/live"), "cameras[0].url", "'rtmp://h/live'", "allowed: file, rtsp"),
    (with_camera(rtsp_transport="http"), "cameras[0].rtsp_transport", "'http'", "'tcp' or 'udp'"),
    (with_camera(rtsp_transport="TCP"), "cameras[0].rtsp_transport", "'TCP'", "'tcp' or 'udp'"),
    (with_camera(position={"lat": 90.5, "lon": 0}), "cameras[0].position.lat", "90.5", "90"),
    (with_camera(position={"lat": -91, "lon": 0}), "cameras[0].position.lat", "-91", "-90"),
    (with_camera(position={"lat": 0, "lon": 180.01}), "cameras[0].position.lon", "180.01", "180"),
    (with_camera(position={"lat": 0, "lon": -181}), "cameras[0].position.lon", "-181", "-180"),
    (with_camera(position={"lat": 0}), "cameras[0].position.lon", "", "required"),
    ({"cameras": [{"id": "a"}]}, "cameras[0].url", "", "required"),
    ({"detector": {"classes": ["person", "unicorn"]}}, "detector.classes", "'unicorn'", "COCO"),
    # a deployment's own plate regions
    ({"plates": {"regions": ["zz"]}}, "plates.regions", "['zz']", "valid: ['us', 'eu', 'uk', 'br', 'hk']"),
    (
        {"plates": {"formats": {"xx": ["LLDLDL"]}, "regions": ["zz"]}},
        "plates.regions",
        "['zz']",
        "'hk', 'xx']",
    ),
    ({"plates": {"formats": {"us": ["LLLDDDD"]}}}, "plates.formats", "'us'", "is built in"),
    ({"plates": {"formats": {"X1": ["LLD"]}}}, "plates.formats", "'X1'", "2-16 of a-z"),
    ({"plates": {"formats": {"xx": ["LL-D"]}}}, "plates.formats", "'LL-D'", "L (letter), D (digit)"),
    ({"plates": {"formats": {"xx": []}}}, "plates.formats", "'xx'", "lists no layouts"),
    (
        {"plates": {"text_detector_runtime": "tensorrt"}},
        "plates.text_detector_runtime",
        "'tensorrt'",
        "'auto', 'onnxruntime' or 'openvino'",
    ),
]


@pytest.mark.parametrize(("data", "key_path", "given", "allowed"), BAD_VALUES)
def test_bad_value_is_one_line_naming_path_value_and_rule(
    data: dict[str, Any], key_path: str, given: str, allowed: str
) -> None:
    message = refusal(data)
    assert message.startswith(f"config: {key_path}")
    assert given in message
    assert allowed in message


def test_only_the_first_of_several_errors_is_described_and_the_rest_counted() -> None:
    message = refusal(with_camera(analysis_fps=0, read_timeout_s=0, open_timeout_s=0))
    assert "cameras[0].analysis_fps" in message
    assert message.endswith("(and 2 more errors)")


def test_top_level_that_is_not_a_mapping_is_refused() -> None:
    assert refusal([camera()]) == "config: the top level must be a mapping of keys, got list"


def test_duplicate_camera_ids_name_the_second_camera() -> None:
    message = refusal({"cameras": [camera(id="gate"), camera(id="yard"), camera(id="gate")]})
    assert "'gate'" in message
    assert "cameras[2].id" in message


def test_duplicate_camera_ids_are_refused() -> None:
    message = refusal({"cameras": [camera(id="gate"), camera(id="gate", url="b.mp4")]})
    assert "duplicate camera id 'gate'" in message


@pytest.mark.parametrize(
    "data",
    [
        with_camera(analysis_fps=True),
        {"tracker": {"min_consecutive_frames": True}},
        with_camera(analysis_fps="5"),
        with_camera(motion_gate={"enabled": "no"}),
    ],
    ids=["bool-as-float", "bool-as-int", "numeric-string", "string-as-bool"],
)
def test_values_are_not_coerced_across_types(data: dict[str, Any]) -> None:
    refusal(data)


def test_cameras_as_a_mapping_says_a_list_is_expected() -> None:
    message = refusal({"cameras": camera()})
    assert message.startswith("config: cameras")
    assert "got" in message
    assert "list" in message


# -- what is accepted ------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides",
    [
        {"url": "rtsp://user:pw@10.0.0.5:554/stream1", "rtsp_transport": "udp"},
        {"url": "rtsps://cam.example/live"},
        {"url": "http://cam.example/video.mjpg"},
        {"url": "https://cam.example/hls.m3u8"},
        {"url": "file:///srv/clips/a.mp4"},
        {"url": "/srv/clips/a.mp4"},
        {"url": "C:\\clips\\a.mp4"},
        {"id": "9", "analysis_fps": 60, "position": {"lat": -90, "lon": 180}},
        {"id": "a" * 63, "analysis_fps": 0.1, "position": {"lat": 90, "lon": -180}},
        {"motion_gate": {"enabled": False}, "enabled": False, "name": "Front door"},
    ],
)
def test_valid_cameras_are_accepted_unchanged(overrides: dict[str, Any]) -> None:
    dumped = parse_config(with_camera(**overrides)).cameras[0].model_dump()
    assert_contains(dumped, overrides)


def assert_contains(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every key of ``expected`` (recursively) has the same value in ``actual``."""
    for key, value in expected.items():
        if isinstance(value, dict):
            assert_contains(actual[key], value)
        else:
            assert actual[key] == value, key


@pytest.mark.parametrize(
    ("url", "is_file"),
    [
        ("clips/a.mp4", True),
        ("/srv/a.mp4", True),
        ("file:///srv/a.mp4", True),
        ("C:\\clips\\a.mp4", True),
        ("rtsp://h/s", False),
        ("RTSP://h/s", False),
        ("https://h/s.m3u8", False),
    ],
)
def test_is_file_tells_recordings_from_streams(url: str, is_file: bool) -> None:
    assert CameraConfig(id="a", url=url).is_file is is_file


def test_detector_classes_accept_any_coco_names() -> None:
    cfg = parse_config({"detector": {"classes": ["dog", "traffic light"]}})
    assert cfg.detector.classes == ("dog", "traffic light")


# -- properties ------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(camera_id=st.from_regex(CAMERA_ID_PATTERN, fullmatch=True))
def test_any_valid_camera_id_round_trips(camera_id: str) -> None:
    cfg = parse_config(with_camera(id=camera_id))
    assert cfg.cameras[0].id == camera_id
    assert parse_config(cfg.model_dump(mode="json")) == cfg


@settings(max_examples=300, deadline=None)
@given(camera_id=st.text(max_size=80).filter(lambda s: re.fullmatch(_ID_BODY, s) is None))
def test_any_other_camera_id_is_refused_naming_the_key(camera_id: str) -> None:
    message = refusal(with_camera(id=camera_id))
    assert message.startswith("config: cameras[0].id: got ")


# -- crowd counting rule -----------------------------------------------------------------
@pytest.mark.parametrize("weights", [[-0.1, 0.76], [0.32, -1.0], [0.0, 0.0]])
def test_tail_far_weights_must_be_non_negative_and_not_both_zero(weights: list[float]) -> None:
    message = refusal({"crowd": {"tail_far_weights": weights}})
    assert "tail_far_weights must be two numbers [a, b] >= 0, not both 0" in message
    assert str(weights).replace(" ", "") in message.replace(" ", "")


def test_the_retired_tail_blend_people_names_its_replacement() -> None:
    message = refusal({"crowd": {"tail_blend_people": [0, 1]}})
    assert message.startswith("config: crowd: tail_blend_people was replaced by tail_far_weights")
    assert parse_config({"crowd": {"tail_far_weights": [0.5, 0.5]}}).crowd.tail_far_weights == (0.5, 0.5)
