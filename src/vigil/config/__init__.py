"""Strict configuration tree: YAML validated by pydantic, one module per section."""

from vigil.config.camera import CameraConfig, MotionGateConfig, Position
from vigil.config.detector import DetectorConfig
from vigil.config.load import load_config, parse_config
from vigil.config.root import VigilConfig
from vigil.config.tracker import TrackerConfig

__all__ = [
    "CameraConfig",
    "DetectorConfig",
    "MotionGateConfig",
    "Position",
    "TrackerConfig",
    "VigilConfig",
    "load_config",
    "parse_config",
]
