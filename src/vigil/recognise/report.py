"""The calibration report: ROC curve and score histograms (PNG) and a Markdown table."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt
import numpy as np

from vigil.core.errors import InputError
from vigil.recognise.calibration import CalibrationResult


def write_report(result: CalibrationResult, out_dir: Path, dataset: str) -> list[Path]:
    """Write ``roc.png``, ``histograms.png`` and ``report.md`` into ``out_dir``; return their paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create report directory {out_dir}: {exc.strerror or exc}") from exc
    gen, imp = result.scores.genuine, result.scores.impostor
    thresholds = np.unique(np.concatenate([gen, imp]))
    fmr = np.array([(imp >= t).mean() for t in thresholds])
    tar = np.array([(gen >= t).mean() for t in thresholds])

    fig, ax = plt.subplots(figsize=(6, 4.5))
    floor = 0.5 / max(len(imp), 1)
    ax.step(np.maximum(fmr, floor), tar, where="post")
    ax.set_xscale("log")
    ax.set_xlabel("false-match rate (log)")
    ax.set_ylabel("true-accept rate")
    ax.set_title(f"ROC: {result.embedder} ({len(gen)} genuine, {len(imp)} impostor pairs)")
    for key, p in result.points.items():
        ax.axvline(p.target_fmr, color="grey", linestyle=":", linewidth=0.8)
        ax.annotate(f"FMR {key}: TAR {p.tar:.3f}", (p.target_fmr, p.tar), fontsize=7)
    ax.grid(True, alpha=0.3)
    roc = out_dir / "roc.png"
    fig.tight_layout()
    fig.savefig(roc, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    bins = [float(b) for b in np.linspace(-0.3, 1.0, 66)]
    ax.hist(imp, bins=bins, alpha=0.6, density=True, label=f"impostor ({len(imp)})")
    ax.hist(gen, bins=bins, alpha=0.6, density=True, label=f"genuine ({len(gen)})")
    for key, p in result.points.items():
        ax.axvline(p.threshold, linestyle="--", linewidth=0.8, color="black")
        ax.annotate(f"{key}", (p.threshold, ax.get_ylim()[1] * 0.9), fontsize=7, rotation=90)
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.legend()
    hist = out_dir / "histograms.png"
    fig.tight_layout()
    fig.savefig(hist, dpi=110)
    plt.close(fig)

    lines = [
        f"# Calibration of {result.embedder} on {dataset}",
        "",
        f"{result.n_images} images of {result.n_identities} identities; no usable face in {result.n_no_face}. "
        f"EER {result.eer:.4f} (threshold {result.eer_threshold:.4f}).",
        "",
        "| target FMR | threshold | TAR | measured FMR | genuine pairs | impostor pairs | supported |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, p in result.points.items():
        note = "yes" if p.supported else f"no: needs >= {round(10 / p.target_fmr):,} impostor pairs"
        lines.append(
            f"| {key} | {p.threshold:.4f} | {p.tar:.4f} | {p.measured_fmr:.2e} "
            f"| {p.n_genuine} | {p.n_impostor} | {note} |"
        )
    md = out_dir / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [roc, hist, md]
