"""ONNX Runtime session factory: the one place where ONNX Runtime errors become ModelError."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from vigil.core.errors import ModelError


def make_session(path: Path, threads: int, graph: bytes | None = None, *, spin: bool = True) -> ort.InferenceSession:
    """Open ``path`` on the CPU provider.

    Args:
        path: an ``.onnx`` file.
        graph: the serialised graph to run instead of the file's bytes (an edited copy of it,
            e.g. with a free input size); ``path`` still names it in errors.
        threads: intra-op threads (one frame's convolutions); inter-op is 1 because YOLO
            graphs are a chain with no parallel branches worth a second pool.
        spin: whether idle intra-op threads spin while waiting for work (ONNX Runtime's default).
            Off for small graphs run many times a second (the plate recogniser), where spinning
            burns the shared cores between short runs.

    Raises:
        ModelError: the file is missing or ONNX Runtime cannot load it.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if not path.is_file():
        raise ModelError(f"ONNX model {path} does not exist")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: they surface as ModelError below anyway
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        source: str | bytes = str(path) if graph is None else graph
        return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own untyped Fail/InvalidGraph/... exceptions
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX Runtime cannot load {path}: {first}") from exc
