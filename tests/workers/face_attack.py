"""An outsider's search for faces in stored files, independent of Vigil's own redaction code.

Two detector families, each at several scales:

* YuNet (the ONNX file as installed, driven here directly through OpenCV, not through Vigil),
  at 0.5x-4x, score >= 0.5: a face of 4 px in the stored file is searched at 16 px.
* OpenCV's Haar cascades (frontal ``default``, frontal ``alt2``, ``profileface``, mirrored for
  the other profile): a different method (Viola-Jones on grey levels) with different failure
  modes. One cascade alone fires on grass and floorboards, so a Haar face counts when two
  different cascades agree on it (IoU >= 0.3), the usual way of cutting Haar false positives;
  windows start at 24 px, the frontal cascades' training size (x2 and x4 reach 6-12 px faces).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

YUNET_SCALES = (0.5, 1.0, 2.0, 3.0, 4.0)
HAAR_SCALES = (1.0, 2.0, 4.0)
MAX_SIDE_PX = 1600
HAAR_MAX_SIDE_PX = 1400
"""Haar's cost grows with the pixels searched; enlarging stops here (a 24 px window at x4 is a
6 px face in a snapshot, at x2 a 12 px face in a scene frame)."""
YUNET_MIN_SCORE = 0.5
HAAR_AGREE_IOU = 0.3
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass(frozen=True, slots=True)
class FoundFace:
    path: str
    detector: str
    box: tuple[int, int, int, int]
    score: float


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceAttack:
    def __init__(self, yunet_onnx: Path) -> None:
        self._yunet = cv2.FaceDetectorYN.create(str(yunet_onnx), "", (320, 320), YUNET_MIN_SCORE, 0.3, 5000)
        root = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        self._cascades = {
            name: cv2.CascadeClassifier(str(root / f"haarcascade_{name}.xml"))
            for name in ("frontalface_default", "frontalface_alt2", "profileface")
        }

    def yunet(self, image: NDArray[np.uint8]) -> list[tuple[tuple[float, float, float, float], float]]:
        h, w = image.shape[:2]
        out: list[tuple[tuple[float, float, float, float], float]] = []
        for s in YUNET_SCALES:
            sw, sh = round(w * s), round(h * s)
            if min(sw, sh) < 16 or max(sw, sh) > MAX_SIDE_PX:
                continue
            self._yunet.setInputSize((sw, sh))
            _, faces = self._yunet.detect(cv2.resize(image, (sw, sh)))
            for f in [] if faces is None else faces:
                # YuNet emits inf/NaN rows on some inputs: drop them before any arithmetic
                # (inf + -inf warns, and warnings are errors in the suite).
                if not np.isfinite(f[:4]).all():
                    continue
                x1, y1, x2, y2 = f[0] / s, f[1] / s, (f[0] + f[2]) / s, (f[1] + f[3]) / s
                inside = 0 <= x1 < x2 <= w + 1 and 0 <= y1 < y2 <= h + 1 and x2 - x1 < 2 * w
                if inside and min(x2 - x1, y2 - y1) >= 4:
                    out.append(((x1, y1, x2, y2), float(f[14])))
        return out

    def haar(self, image: NDArray[np.uint8]) -> dict[str, list[tuple[float, float, float, float]]]:
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        found: dict[str, list[tuple[float, float, float, float]]] = {}
        for name, cascade in self._cascades.items():
            boxes = found.setdefault(name, [])
            for s in HAAR_SCALES:
                if s > 1 and max(grey.shape) * s > HAAR_MAX_SIDE_PX:
                    continue
                g = grey if s == 1 else cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
                for mirrored in (False, True) if name == "profileface" else (False,):
                    gg = cv2.flip(g, 1) if mirrored else g
                    for x, y, bw, bh in cascade.detectMultiScale(gg, 1.1, 5, minSize=(24, 24)):
                        x1 = (g.shape[1] - x - bw) if mirrored else x
                        boxes.append((x1 / s, y / s, (x1 + bw) / s, (y + bh) / s))
        return found

    def faces(self, image: NDArray[np.uint8], label: str = "") -> list[FoundFace]:
        """Every face either family finds in ``image`` (BGR)."""
        out = [
            FoundFace(label, "yunet", tuple(int(v) for v in box), score)  # type: ignore[arg-type]
            for box, score in self.yunet(image)
        ]
        haar = self.haar(image)
        names = list(haar)
        for i, a_name in enumerate(names):
            for b_name in names[i + 1 :]:
                for a in haar[a_name]:
                    if any(_iou(a, b) >= HAAR_AGREE_IOU for b in haar[b_name]):
                        out.append(FoundFace(label, f"haar:{a_name}+{b_name}", tuple(int(v) for v in a), 1.0))  # type: ignore[arg-type]
        return out

    def scan_file(self, path: Path, root: Path) -> list[FoundFace]:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert image is not None, f"{path} is not an image"
        return self.faces(image, path.relative_to(root).as_posix())

    def scan_video(self, path: Path, root: Path, every: int = 1) -> list[FoundFace]:
        import av

        out: list[FoundFace] = []
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % every == 0:
                    out += self.faces(frame.to_ndarray(format="bgr24"), f"{path.relative_to(root).as_posix()}#{i}")
        return out

    def scan_tree(self, root: Path, video_every: int = 1) -> tuple[int, list[FoundFace]]:
        """(files scanned, faces found) over every stored image and video under ``root``
        (every ``video_every``-th frame of a video)."""
        n = 0
        found: list[FoundFace] = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                n += 1
                found += self.scan_file(path, root)
            elif suffix in (".mp4", ".mkv", ".avi", ".webm"):
                n += 1
                found += self.scan_video(path, root, video_every)
        return n, found
