"""Password hashing with argon2id (parameters from config, so tests can run cheaply)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigil.config.governance import AuthConfig
from vigil.core.errors import PolicyError

_DUMMY_PASSWORD = "vigil-timing-equaliser"


class Passwords:
    """Hash and verify passwords; unknown users cost the same time as wrong passwords."""

    def __init__(self, config: AuthConfig) -> None:
        self._config = config
        self._hasher = PasswordHasher(time_cost=config.argon2_time_cost, memory_cost=config.argon2_memory_kib)
        self._dummy = self._hasher.hash(_DUMMY_PASSWORD)

    def hash(self, password: str) -> str:
        """Hash a new password.

        Raises:
            PolicyError: shorter than the configured minimum.
        """
        if len(password) < self._config.password_min_length:
            raise PolicyError(f"a password needs at least {self._config.password_min_length} characters")
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; ``password_hash=None`` (no such user) still spends the time."""
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
