"""The root of the config tree."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from vigil.config.api import ApiConfig
from vigil.config.base import StrictModel
from vigil.config.camera import CameraConfig
from vigil.config.candidates import CandidatesConfig
from vigil.config.clips import ClipsConfig
from vigil.config.crowd import CrowdConfig
from vigil.config.detector import DetectorConfig
from vigil.config.faces import FacesConfig
from vigil.config.governance import GovernanceConfig
from vigil.config.plates import PlatesConfig
from vigil.config.scale import ScaleConfig
from vigil.config.tracker import TrackerConfig


class StoreConfig(StrictModel):
    """Where events go. Empty url: SQLite file ``vigil.db`` under the data directory."""

    url: str | None = Field(default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://host/db.")
    partition_hours: Literal[1, 2, 3, 4, 6, 8, 12, 24] = Field(
        default=24,
        description=(
            "PostgreSQL: the size of the time partitions of events, crowd counts and plate misses. Retention"
            " drops whole partitions; at tens of thousands of cameras a day is terabytes, so smaller ones make"
            " the boundary cheap. Changing it is safe: new partitions fill only what old ones leave uncovered."
        ),
    )


class BusConfig(StrictModel):
    """How events travel from the cameras to the store."""

    type: Literal["memory", "nats"] = Field(
        default="memory", description="In-process queue (one machine) or NATS JetStream (scale-out, see `scale`)."
    )
    queue_size: int = Field(default=10_000, ge=10, le=10_000_000)


class VigilConfig(StrictModel):
    """A whole deployment."""

    data_dir: Path = Field(default=Path("vigil-data"), description="Database, media and reports.")
    models_dir: Path | None = Field(default=None, description="Installed models; default <data_dir>/models.")
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    bus: BusConfig = Field(default_factory=BusConfig)
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    faces: FacesConfig = Field(default_factory=FacesConfig)
    plates: PlatesConfig = Field(default_factory=PlatesConfig)
    crowd: CrowdConfig = Field(default_factory=CrowdConfig)
    clips: ClipsConfig = Field(default_factory=ClipsConfig)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
    scale: ScaleConfig = Field(default_factory=ScaleConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    cameras: tuple[CameraConfig, ...] = Field(default=(), description="Cameras and recordings to analyse.")

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> VigilConfig:
        seen: dict[str, int] = {}
        for i, cam in enumerate(self.cameras):
            if cam.id in seen:
                raise ValueError(
                    f"cameras[{i}].id: duplicate camera id {cam.id!r} (also cameras[{seen[cam.id]}].id);"
                    " each camera needs its own id"
                )
            seen[cam.id] = i
        return self

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{(self.data_dir / 'vigil.db').resolve()}"
