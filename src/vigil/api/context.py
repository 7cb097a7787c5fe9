"""What the app is built from: config, store, media, services and extension points."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from vigil.api.alerts_hub import AlertHub
from vigil.config import VigilConfig
from vigil.core.errors import ModelError
from vigil.governance.alerts import AlertDispatcher
from vigil.governance.auth import AuthService
from vigil.governance.redaction import RedactionRegistry
from vigil.governance.redactor import Redactor, build_redactor
from vigil.governance.transparency import ReportContributor
from vigil.store.facade import Store
from vigil.store.media import MediaStore

log = logging.getLogger(__name__)


def _redactor(config: VigilConfig) -> Redactor | None:
    """The write-time face redactor; without YuNet the media store refuses writes that need it."""
    try:
        return build_redactor(config)
    except ModelError as exc:
        log.warning("media written by the API cannot be redacted, so it is refused: %s", exc)
        return None


@dataclass
class ApiContext:
    """Everything a request handler may use. Built once per app (``create_app``).

    Attributes:
        extra_routers: feature routers (faces, plates, crowd) mounted under ``/api``.
        report_sections: feature sections of the transparency report.
        redaction: where face/plate boxes of a media file come from.
    """

    config: VigilConfig
    store: Store
    media: MediaStore
    auth: AuthService
    hub: AlertHub
    dispatcher: AlertDispatcher | None = None
    redaction: RedactionRegistry = field(default_factory=RedactionRegistry)
    report_sections: dict[str, ReportContributor] = field(default_factory=dict)
    extra_routers: list[Callable[[], APIRouter]] = field(default_factory=list)
    poll_alerts: bool = True

    @classmethod
    def build(cls, config: VigilConfig, store: Store, *, poll_alerts: bool = True) -> ApiContext:
        media = MediaStore(config.data_dir / "media", redactor=_redactor(config))
        gov = config.governance
        dispatcher = (
            AlertDispatcher(gov.alerts, store.governance.dead_letters)
            if gov.alerts.webhooks or gov.alerts.mqtt is not None
            else None
        )
        return cls(
            config=config,
            store=store,
            media=media,
            auth=AuthService(store.governance, gov.auth),
            hub=AlertHub(),
            dispatcher=dispatcher,
            poll_alerts=poll_alerts,
        )
