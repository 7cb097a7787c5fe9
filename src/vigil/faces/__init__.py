"""Face detection (YuNet), alignment, quality gates and embedding (SFace) on person tracks.

Nothing in this package writes anything: faces live in memory until a caller decides, under
the watchlist rules, that one may be kept.
"""

from vigil.faces.detector import YuNetDetector
from vigil.faces.embedder import Embedder, SFaceEmbedder
from vigil.faces.imageio import IMAGE_SUFFIXES, ImageFolderScan, is_readable_image, read_image, scan_images
from vigil.faces.pipeline import FacePipeline, FaceResult, ReferenceFace
from vigil.faces.quality import QualityGate
from vigil.faces.types import REJECT_REASONS, FaceDetections, QualityVerdict

__all__ = [
    "IMAGE_SUFFIXES",
    "REJECT_REASONS",
    "Embedder",
    "FaceDetections",
    "FacePipeline",
    "FaceResult",
    "ImageFolderScan",
    "QualityGate",
    "QualityVerdict",
    "ReferenceFace",
    "SFaceEmbedder",
    "YuNetDetector",
    "is_readable_image",
    "read_image",
    "scan_images",
]
