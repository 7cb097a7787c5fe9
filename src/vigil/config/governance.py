"""``governance``: who may do what, how long data is kept, and where alerts go out."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel
from vigil.config.redaction import RedactionConfig


class AuthConfig(StrictModel):
    """Logins, sessions and API tokens."""

    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=7 * 86400, description="Browser session lifetime.")
    token_max_days: int = Field(
        default=90, ge=1, le=365, description="Longest lifetime of an API token (a stolen one lasts at most this)."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed sign-ins at one user name from one address before that pair is locked out.",
    )
    login_window_s: int = Field(
        default=86400,
        ge=60,
        le=30 * 86400,
        description="A pair's failures are forgotten after this long without a failure (or at once on success).",
    )
    login_lockout_s: int = Field(
        default=60, ge=1, le=86400, description="First lockout of a pair; it doubles with each failure after it."
    )
    login_lockout_max_s: int = Field(default=3600, ge=1, le=7 * 86400, description="Longest lockout of a pair.")
    login_address_max_failures: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description=(
            "Failures from one address (all user names) within login_guard_window_s after which that address "
            "may sign in only to accounts that signed in from it before (password spraying)."
        ),
    )
    login_account_max_failures: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description=(
            "Failures at one user name (all addresses) within login_guard_window_s after which it may be "
            "signed in to only from addresses it signed in from before (distributed guessing)."
        ),
    )
    login_guard_window_s: int = Field(
        default=3600, ge=60, le=7 * 86400, description="Window of the address and account guards above."
    )
    login_known_days: float = Field(
        default=30, gt=0, le=3650, description="How long an address stays known to an account after a sign-in."
    )
    password_min_length: int = Field(default=10, ge=8, le=256)
    argon2_time_cost: int = Field(default=3, ge=1, le=20, description="argon2id iterations.")
    argon2_memory_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024, description="argon2id memory in KiB.")
    cookie_secure: bool = Field(
        default=False,
        description=(
            "Mark cookies Secure on every request. Without it they are Secure whenever the request came "
            "over HTTPS, directly or through a proxy listed in api.trusted_proxies."
        ),
    )


class RetentionConfig(StrictModel):
    """How long core data is kept (days); legal hold on a case suspends deletion of its items."""

    events_days: float = Field(default=30, gt=0, le=3650, description="Stored events.")
    tracks_days: float = Field(default=30, gt=0, le=3650, description="Tracks and their snapshots.")
    candidates_days: float = Field(default=90, gt=0, le=3650, description="Candidates, decisions and probe crops.")
    dead_letters_days: float = Field(default=30, gt=0, le=3650, description="Alerts that could not be delivered.")
    login_attempts_days: float = Field(default=30, gt=0, le=3650, description="Login attempt records.")


class WebhookTarget(StrictModel):
    """One HTTP receiver of alerts (JSON POST)."""

    url: str = Field(pattern=r"^https?://", max_length=2000, description="http:// or https:// URL.")
    secret: str | None = Field(
        default=None, min_length=16, max_length=256, description="HMAC-SHA256 key for X-Vigil-Signature."
    )


class MqttTarget(StrictModel):
    """An MQTT broker for alerts; topics ``<prefix>/<camera>/<kind>`` as Frigate/Home Assistant users expect."""

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=1883, ge=1, le=65535)
    topic_prefix: str = Field(default="vigil", pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
    username: str | None = None
    password: str | None = None
    qos: int = Field(default=1, ge=0, le=2)


class AlertsConfig(StrictModel):
    """Alerts out: server-sent events always; webhooks and MQTT where configured."""

    webhooks: tuple[WebhookTarget, ...] = ()
    mqtt: MqttTarget | None = None
    attempts: int = Field(default=4, ge=1, le=20, description="Tries per receiver before a dead letter.")
    backoff_s: float = Field(default=1.0, ge=0, le=600, description="First retry delay; doubles each try.")
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="Per-request timeout.")
    poll_interval_s: float = Field(default=2.0, gt=0, le=600, description="How often the API looks for new candidates.")


class GovernanceConfig(StrictModel):
    """Accountability settings: authentication, retention, alerts, policy floors."""

    auth: AuthConfig = Field(default_factory=AuthConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    redaction: RedactionConfig = Field(default_factory=RedactionConfig)
    threshold_floor: float = Field(
        default=0.3,
        ge=-1,
        le=1,
        description="Lowest match threshold a non-supervisor may set (policy keys ending in '.threshold').",
    )
    min_reason_chars: int = Field(default=5, ge=1, le=200, description="Shortest accepted reason for an access.")
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1 << 30, description="Largest request body.")
