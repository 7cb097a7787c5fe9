"""``Services``: what every domain service works with, built once by each door."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from vigil.config import VigilConfig
from vigil.core.errors import ModelError
from vigil.governance.auth import AuthService
from vigil.governance.redaction import RedactionRegistry, ViewCache
from vigil.governance.redactor import Redactor, build_redactor
from vigil.services.actor import Actor
from vigil.services.recorder import Recorder
from vigil.store.facade import Store
from vigil.store.media import ImageRedactor, MediaStore

log = logging.getLogger(__name__)


def _redactor(config: VigilConfig) -> Redactor | None:
    """The write-time face redactor; without YuNet the media store refuses the writes that
    need it (enrolment photos are kept as enrolled, see ``store.faces``)."""
    try:
        return build_redactor(config)
    except ModelError as exc:
        log.warning("media written by the API cannot be redacted, so such writes are refused: %s", exc)
        return None


@dataclass(frozen=True, slots=True)
class Services:
    """The deployment's config, store, media files and authentication, shared by the domain
    services (``vigil.services.hotlist.add(services, actor, ...)`` and so on).

    The API and the web UI build one per app; a CLI command builds one per invocation.
    """

    config: VigilConfig
    store: Store
    media: MediaStore
    auth: AuthService
    redaction: RedactionRegistry = field(default_factory=RedactionRegistry)
    """Where the face/plate boxes of a stored media file come from (exports, served media)."""
    viewed: ViewCache = field(default_factory=ViewCache)
    """Redacted copies of recently served media (memory only)."""

    @classmethod
    def build(cls, config: VigilConfig, store: Store) -> Services:
        return cls(
            config=config,
            store=store,
            media=media_store(config, _redactor(config)),
            auth=AuthService(store.governance, config.governance.auth),
        )

    def recorder(self, actor: Actor) -> Recorder:
        """The audit recorder of ``actor`` (see :mod:`vigil.services.recorder`)."""
        return Recorder(self.store, actor)


def media_store(config: VigilConfig, redactor: ImageRedactor | None) -> MediaStore:
    """The deployment's media store: files under the data directory, or (scale-out with
    ``scale.media: nats``) the shared ``VIGIL_MEDIA`` bucket every replica reads."""
    if config.bus.type != "nats" or config.scale.media != "nats":
        return MediaStore(config.data_dir / "media", redactor=redactor)
    from vigil.bus.objects import LazyMediaBucket
    from vigil.workers.scale_wiring import nats_settings
    from vigil.workers.shared_media import SharedMediaStore

    bucket = LazyMediaBucket(nats_settings(config, "vigil-media"), config.scale.nats.replicas)
    return SharedMediaStore(config.data_dir / "media", config.data_dir / "media-cache", bucket, redactor=redactor)
