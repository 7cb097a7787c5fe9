"""open_source on real files and an HTTP stream; errors are one clear line."""

from __future__ import annotations

import itertools
import time
import wave
from pathlib import Path

import pytest

from vigil.camera import open_source
from vigil.core.errors import DecodeError, SourceError, SourceOpenError


def _assert_one_line(exc: BaseException, camera_id: str, where: str) -> None:
    message = str(exc)
    assert "\n" not in message
    assert f"camera {camera_id}" in message
    assert where in message


def test_file_decodes_every_frame_in_order(camera_clip: Path) -> None:
    start = time.perf_counter()
    with open_source(str(camera_clip), "lobby") as source:
        assert not source.is_live
        assert source.fps == pytest.approx(10.0, abs=0.5)
        width, height = source.size
        frames = [(f.index, f.pts_s, f.image.shape, f.camera_id, f.captured_at) for f in source]
    elapsed = time.perf_counter() - start
    print(f"decode + BGR: {len(frames) / elapsed:.0f} frames/s ({width}x{height})")
    assert len(frames) > 50
    assert [f[0] for f in frames] == list(range(len(frames)))
    pts = [f[1] for f in frames]
    assert pts[0] == pytest.approx(0.0, abs=0.2)
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert {f[2] for f in frames} == {(height, width, 3)}
    assert {f[3] for f in frames} == {"lobby"}
    # Recordings get stable timestamps: start of analysis plus pts.
    assert (frames[-1][4] - frames[0][4]).total_seconds() == pytest.approx(pts[-1] - pts[0], abs=1e-3)


def test_text_file_named_mp4_is_an_open_error(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_text("this is not a video\n")
    with pytest.raises(SourceOpenError) as info:
        open_source(str(path), "cam1")
    _assert_one_line(info.value, "cam1", str(path))
    assert info.value.__cause__ is not None


def test_missing_file_is_an_open_error(tmp_path: Path) -> None:
    with pytest.raises(SourceOpenError, match="not found") as info:
        open_source(str(tmp_path / "nope.mp4"), "cam1")
    _assert_one_line(info.value, "cam1", "nope.mp4")


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000)
    with pytest.raises(SourceOpenError, match="no video stream") as info:
        open_source(str(path), "cam1")
    _assert_one_line(info.value, "cam1", "tone.wav")


def test_truncated_mp4_fails_clearly_and_promptly(camera_clip: Path, tmp_path: Path) -> None:
    data = camera_clip.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * 0.3)])
    start = time.monotonic()
    # moov before mdat: opens, then ends early (DecodeError); moov at the end: cannot open.
    with (
        pytest.raises((SourceOpenError, DecodeError)) as info,
        open_source(str(path), "cam1") as source,
    ):
        for _ in source:
            pass
    assert time.monotonic() - start < 10
    _assert_one_line(info.value, "cam1", "cut.mp4")
    assert "truncated" in str(info.value)


def test_password_never_appears_in_errors() -> None:
    url = "rtsp://admin:hunter2@127.0.0.1:1/stream"
    with pytest.raises(SourceOpenError) as info:
        open_source(url, "door", open_timeout_s=2)
    assert "hunter2" not in str(info.value)
    assert "rtsp://admin:***@127.0.0.1:1/stream" in str(info.value)


def test_http_stream_decodes(http_clip_url: str) -> None:
    with open_source(http_clip_url, "web", open_timeout_s=5, read_timeout_s=5) as source:
        assert source.is_live
        frames = [frame for _, frame in zip(range(30), source, strict=False)]
    assert len(frames) == 30
    assert frames[0].image.shape == (source.size[1], source.size[0], 3)
    assert all(b.pts_s > a.pts_s for a, b in itertools.pairwise(frames))


def test_http_404_is_an_open_error(http_clip_url: str) -> None:
    with pytest.raises(SourceOpenError) as info:
        open_source(http_clip_url + ".missing", "web", open_timeout_s=5)
    _assert_one_line(info.value, "web", ".missing")


def test_source_errors_share_one_base() -> None:
    assert issubclass(SourceOpenError, SourceError)
    assert issubclass(DecodeError, SourceError)
