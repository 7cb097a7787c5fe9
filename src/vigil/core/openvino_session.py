"""OpenVINO session for one graph, and the choice of runtime for the plates' text detector.

OpenVINO is an optional extra (``pip install 'vigil[openvino]'``; the repository's set-up installs
it). Only the PP-OCRv6 text detector uses it: on a CPU with AMX (Intel Xeon 4th generation on) its
bfloat16 convolutions run a whole plate scene in about 0.4x the time of ONNX Runtime fp32; elsewhere
its fp32 graph gives ONNX Runtime's output (the same text on all 222 US scenes) in 0.51-0.52x a
scene's time on an Ice Lake Xeon and 0.91-0.95x the detector's on an AMD Zen 4 (docs/plates.md,
seventh and eighth rounds). Everything else stays on ONNX Runtime (:mod:`vigil.core.onnx_session`).

Why not ONNX Runtime's OpenVINO execution provider: its wheel (``onnxruntime-openvino``) is itself
an ``onnxruntime`` package (the same import name, an older ONNX Runtime with its own bundled
OpenVINO), so it cannot be installed beside the pinned ``onnxruntime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError

Runtime = Literal["onnxruntime", "openvino"]
Precision = Literal["f32", "bf16"]

RUNTIME_SETTINGS = ("auto", "onnxruntime", "openvino")
"""Values of ``plates.text_detector_runtime``."""

AMX_FLAG = "amx_bf16"
"""The /proc/cpuinfo flag of AMX's bfloat16 tile multiply. Not OpenVINO's own capability query
alone: OpenVINO lists BF16 wherever oneDNN may use AVX512_BF16 or AVX2-VNNI-2 (AMD Zen 4: 0.88x a scene,
docs/plates.md sixth round), and on CPUs with neither it accepts a bf16 hint and emulates it,
slower than fp32 (1.7x OpenVINO f32's scene time on an Ice Lake Xeon, eighth round). AMX is where
the gain was measured, so AMX is what ``auto`` asks for; OpenVINO's BF16 capability is required
as well, so that a CPU whose flag OpenVINO cannot use (an old kernel) stays on ONNX Runtime."""

INSTALL_HINT = "pip install 'vigil[openvino]'"


@dataclass(frozen=True)
class RuntimeChoice:
    """Which runtime runs the text detector, at which precision, and why (logged once)."""

    runtime: Runtime
    precision: Precision
    why: str


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags of the first CPU listed in ``cpuinfo`` (the text of /proc/cpuinfo)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> str:
    """``path``'s text, or "" where there is none (not Linux): no flags, so no AMX."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def openvino_installed() -> bool:
    """Whether the optional ``openvino`` package imports (a half-installed one counts as absent)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def openvino_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin lists BF16 among its optimisation capabilities."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def choose_runtime(
    setting: str,
    *,
    cpuinfo: str | None = None,
    installed: bool | None = None,
    native_bf16: bool | None = None,
) -> RuntimeChoice:
    """The runtime for ``setting`` (auto, onnxruntime or openvino) on this machine.

    ``auto`` and ``openvino``: OpenVINO, bfloat16 where the CPU lists ``amx_bf16`` and OpenVINO lists
    BF16, fp32 elsewhere (emulated bfloat16 is slower than fp32; OpenVINO's fp32 is ONNX Runtime's
    output, never slower where measured). Without the package ``auto`` is ONNX Runtime fp32 and
    ``openvino`` refuses. ``cpuinfo``, ``installed`` and ``native_bf16`` stand in for the machine's
    (tests).

    Raises:
        ValueError: ``setting`` is none of :data:`RUNTIME_SETTINGS`.
        ModelError: ``openvino`` chosen and the package is not installed.
    """
    if setting not in RUNTIME_SETTINGS:
        raise ValueError(f"unknown text detector runtime {setting!r}; valid: {list(RUNTIME_SETTINGS)}")
    if setting == "onnxruntime":
        return RuntimeChoice("onnxruntime", "f32", "set: onnxruntime")
    has = openvino_installed() if installed is None else installed
    if not has:
        if setting == "openvino":
            raise ModelError(
                f"plates.text_detector_runtime is 'openvino' but OpenVINO is not installed: {INSTALL_HINT}"
            )
        return RuntimeChoice("onnxruntime", "f32", f"auto: OpenVINO not installed ({INSTALL_HINT})")
    amx = AMX_FLAG in cpu_flags(read_cpuinfo() if cpuinfo is None else cpuinfo)
    if amx and (openvino_has_bf16() if native_bf16 is None else native_bf16):
        return RuntimeChoice("openvino", "bf16", f"{setting}: OpenVINO installed, the CPU has AMX ({AMX_FLAG})")
    # fp32 without AMX: ONNX Runtime's output (0 px apart), 0.51-0.52x a scene on an Ice Lake Xeon
    # at load 5-20, never slower where measured; it costs ~370 MiB of compiled kernels (eighth round).
    how = "set: openvino" if setting == "openvino" else "auto: OpenVINO installed"
    return RuntimeChoice("openvino", "f32", f"{how}; fp32, the CPU has no {AMX_FLAG} usable by OpenVINO")


class OpenVinoSession:
    """One graph compiled by OpenVINO for the CPU, called as rapidocr calls its sessions: ``x`` in,
    the graph's first output out (a copy). Not thread-safe: its owner serialises calls."""

    def __init__(self, path: Path, threads: int, precision: Precision = "bf16") -> None:
        """Compile ``path`` on ``threads`` threads, latency-first (one stream: one frame at a time).

        Raises:
            ModelError: OpenVINO is not installed, the file is missing, or OpenVINO cannot compile it.
        """
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if not path.is_file():
            raise ModelError(f"model {path} does not exist")
        try:
            import openvino as ov
        except ImportError as exc:
            raise ModelError(f"OpenVINO is not installed: {INSTALL_HINT}") from exc
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision,
        }
        try:
            core = ov.Core()
            self._compiled: Any = core.compile_model(core.read_model(str(path)), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError with a multi-line trace
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"OpenVINO cannot compile {path}: {first}") from exc
        self._request = self._compiled.create_infer_request()
        self.path = path
        self.precision = precision

    def __call__(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        # A new input shape is compiled on its first run (PP-OCR's detector takes any H, W that
        # are multiples of 32), then cached by OpenVINO's CPU plugin.
        self._request.infer({0: x})
        return np.array(self._request.get_output_tensor(0).data, dtype=np.float32, copy=True)
