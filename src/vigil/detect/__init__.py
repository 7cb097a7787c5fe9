"""Object detection: a frame in, :class:`vigil.core.detections.Detections` out.

Detectors take model file paths (from ``vigil.models.require``, wired by the caller), never
import ``vigil.models`` themselves.
"""

from vigil.detect.reference import OpenCVDarknetDetector
from vigil.detect.yolo import YoloDetector

__all__ = ["OpenCVDarknetDetector", "YoloDetector"]
