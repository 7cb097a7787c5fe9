"""Accuracy regression gate: recompute tests/golden/faces.json from ../shared/data."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("faces_accuracy", REPO / "bench" / "faces_accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_faces_golden_metrics(shared_data: Path, installed_models_dir: Path) -> None:
    golden = json.loads((REPO / "tests" / "golden" / "faces.json").read_text())
    tol = golden["tolerance"]
    got = _bench().compute(installed_models_dir)  # type: ignore[attr-defined]
    d, g = got["deepface"], golden["deepface"]
    for key in ("n_images", "n_no_face", "n_genuine", "n_impostor"):
        assert d[key] == g[key], key
    assert d["eer"] <= g["eer"] + tol["eer"]
    for fmr in ("1e-2", "1e-3"):
        assert d["tar_at_fmr"][fmr] >= g["tar_at_fmr"][fmr] - tol["tar"], fmr
    # The targets, independent of the golden file:
    assert d["eer"] <= 0.005 and d["tar_at_fmr"]["1e-2"] == 1.0
    k, gk = got["knn"], golden["knn"]
    assert k["rank1_hits"] == gk["rank1_hits"] == gk["expected_faces"]
    assert k["false_positives"] == 0 and k["missed"] == 0
