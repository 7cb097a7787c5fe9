"""What the web server is built from, shared by its two doors (the API and the web UI): config,
store, media, the domain services, live alerts and extension points."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from fastapi import APIRouter
from numpy.typing import NDArray

from vigil.config import VigilConfig
from vigil.core.detections import Detections
from vigil.governance.alerts import AlertDispatcher
from vigil.governance.auth import AuthService
from vigil.governance.redaction import RedactionRegistry, blur_all
from vigil.governance.transparency import ReportContributor
from vigil.http.alerts_hub import AlertHub
from vigil.http.leases import LeaseView
from vigil.services import Services
from vigil.services.live import LiveView, live_redactor
from vigil.store.facade import Store
from vigil.store.media import MediaStore
from vigil.workers.live_frames import FrameSource


def _blur_whole(image: NDArray[np.uint8], _tracked: Detections, _camera_id: str) -> NDArray[np.uint8]:
    return blur_all(image)


@dataclass
class AppContext:
    """Everything a request handler (API or web page) may use. Built once per app (``create_app``).

    Attributes:
        services: the domain services' context (the same config, store, media and auth).
        extra_routers: feature routers (faces, plates, crowd) mounted under ``/api``.
        report_sections: feature sections of the transparency report.
        redaction: where face/plate boxes of a media file come from.
        live: the live view's frames (none unless the cameras run in this process), redaction
            and watch records.
    """

    config: VigilConfig
    store: Store
    media: MediaStore
    auth: AuthService
    hub: AlertHub
    services: Services
    dispatcher: AlertDispatcher | None = None
    redaction: RedactionRegistry = field(default_factory=RedactionRegistry)
    report_sections: dict[str, ReportContributor] = field(default_factory=dict)
    extra_routers: list[Callable[[], APIRouter]] = field(default_factory=list)
    poll_alerts: bool = True
    leases: LeaseView | None = None
    """Scale-out (``bus.type: nats``): who holds each camera; None in the embedded mode."""
    live: LiveView | None = None

    @classmethod
    def build(
        cls, config: VigilConfig, store: Store, *, poll_alerts: bool = True, frames: FrameSource | None = None
    ) -> AppContext:
        """``frames``: the cameras' newest frames, where the pipeline runs in this process."""
        services = Services.build(config, store)
        gov = config.governance
        # Scale-out: `vigil dispatcher` delivers webhooks and MQTT; API replicas (several of
        # them) would each send every alert again. They keep the browsers' live stream.
        dispatcher = (
            AlertDispatcher(gov.alerts, store.governance.dead_letters)
            if (gov.alerts.webhooks or gov.alerts.mqtt is not None) and config.bus.type != "nats"
            else None
        )
        leases = None
        if config.bus.type == "nats":
            from vigil.workers.scale_wiring import nats_settings

            leases = LeaseView(nats_settings(config, "vigil-api"))
        return cls(
            config=config,
            store=store,
            media=services.media,
            auth=services.auth,
            hub=AlertHub(),
            services=services,
            redaction=services.redaction,
            dispatcher=dispatcher,
            poll_alerts=poll_alerts,
            leases=leases,
            live=LiveView(store, frames, live_redactor(config) if frames is not None else _blur_whole),
        )

    def close_connections(self) -> None:
        """Close the NATS connections of a scale-out API (the leases view, the media bucket);
        each would otherwise keep reconnecting for as long as the process lives."""
        if self.leases is not None:
            self.leases.close()
        self.media.close()


ApiContext = AppContext
"""The name the API has always used for it."""
