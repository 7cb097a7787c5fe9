"""The audit log's signing key and signed checkpoints, kept outside the database.

The hash chain alone proves nothing against someone who can write to the database: they can
edit a record and recompute every later hash. So every record is also signed when it is
appended (Ed25519, the ``cryptography`` package) with a key that lives in a file beside the
data, never in the database, readable only by Vigil's account (mode 0600 in a 0700 folder).
The signature covers ``(seq, hash)``, and the hash covers the record's content and every
record before it, so a signed record is a signed checkpoint of the whole chain up to it.

A database writer cannot sign, so an edited-and-rehashed, re-ordered or renumbered log, or
a forged record appended at the end, fails :func:`vigil.governance.audit.verify_chain`. What a
signature cannot show is a record that is *missing at the end* (the newest records cut off,
or the table emptied): for that, each append also writes the newest signed checkpoint to a
head file beside the key (after the transaction commits), and ``vigil audit checkpoint
export`` hands the same checkpoint to an auditor's witness file. See docs/audit.md for what is
and is not detectable.

Why Ed25519 and not an HMAC: the public half goes into the witness, so an auditor can check
signatures without holding anything that could sign, and a key swapped on the host is caught
by the public key the witness pinned.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import make_url

from vigil.config import VigilConfig
from vigil.core.errors import StoreError

KEY_FILE_NAME = "audit-signing.key"
HEAD_FILE_NAME = "audit-head.json"
SIGNATURE_CONTEXT = b"vigil-audit-checkpoint/v1"
"""Domain separation: a signature over an audit checkpoint cannot be taken for anything else."""


def checkpoint_message(seq: int, record_hash: str) -> bytes:
    """The exact bytes signed for record ``seq`` whose chain hash is ``record_hash``."""
    return b"%s\n%d\n%s" % (SIGNATURE_CONTEXT, seq, record_hash.encode("ascii"))


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public: bytes) -> str:
    """The first 16 hex digits of the public key's SHA-256: names the key in records and witnesses."""
    return hashlib.sha256(public).hexdigest()[:16]


def load_public_key(public_b64: str) -> Ed25519PublicKey:
    """A public key from its base64 raw form (as a witness file holds it).

    Raises:
        ValueError: not 32 bytes of base64.
    """
    raw = base64.b64decode(public_b64, validate=True)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_valid(public: Ed25519PublicKey, seq: int, record_hash: str, sig_b64: str | None) -> bool:
    """True if ``sig_b64`` is ``public``'s signature of checkpoint ``(seq, record_hash)``."""
    if not sig_b64:
        return False
    try:
        public.verify(base64.b64decode(sig_b64, validate=True), checkpoint_message(seq, record_hash))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement "record ``seq`` of this log has chain hash ``hash``"."""

    seq: int
    hash: str
    sig: str
    key_id: str

    def to_json(self) -> dict[str, object]:
        return {"seq": self.seq, "hash": self.hash, "sig": self.sig, "key_id": self.key_id}

    @classmethod
    def from_json(cls, data: object) -> Checkpoint:
        """Raises ValueError on anything but a well-formed checkpoint."""
        if not isinstance(data, dict):
            raise ValueError("a checkpoint is a JSON object")
        seq, digest, sig, key_id = data.get("seq"), data.get("hash"), data.get("sig"), data.get("key_id")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"checkpoint seq must be a positive integer, got {seq!r}")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("checkpoint hash must be 64 hex digits")
        if not isinstance(sig, str) or not isinstance(key_id, str):
            raise ValueError("checkpoint sig and key_id must be strings")
        return cls(seq, digest, sig, key_id)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created), across processes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600 from the first byte."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class AuditSigner:
    """The deployment's audit signing key (created on first use) and its head file.

    Args:
        key_file: the private key (PEM, PKCS#8). Its folder also holds the head file.
    """

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self.head_file = key_file.with_name(HEAD_FILE_NAME)
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    # -- the key -------------------------------------------------------------------------

    def _private(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    def _load_or_create(self) -> Ed25519PrivateKey:
        folder = self.key_file.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _locked(folder / ".audit-key.lock"):
                if not self.key_file.exists():
                    key = Ed25519PrivateKey.generate()
                    pem = key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    )
                    _write_private(self.key_file, pem)
                    return key
                mode = self.key_file.stat().st_mode & 0o777
                if mode & 0o077:
                    raise StoreError(
                        f"audit signing key {self.key_file} is readable by others (mode {mode:o}); "
                        f"run: chmod 600 {self.key_file}"
                    )
                loaded = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        except OSError as exc:
            raise StoreError(
                f"cannot read or create the audit signing key {self.key_file}: {exc.strerror or exc}"
            ) from exc
        except ValueError as exc:
            raise StoreError(f"audit signing key {self.key_file} is not a PEM private key: {exc}") from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise StoreError(f"audit signing key {self.key_file} is not an Ed25519 key")
        return loaded

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private().public_key()

    @property
    def public_b64(self) -> str:
        return base64.b64encode(public_key_bytes(self.public_key)).decode("ascii")

    @property
    def key_id(self) -> str:
        return key_id_of(public_key_bytes(self.public_key))

    def exists(self) -> bool:
        return self.key_file.is_file()

    # -- signing -------------------------------------------------------------------------

    def sign(self, seq: int, record_hash: str) -> Checkpoint:
        """A signed checkpoint of record ``seq`` (hash ``record_hash``)."""
        sig = self._private().sign(checkpoint_message(seq, record_hash))
        return Checkpoint(seq, record_hash, base64.b64encode(sig).decode("ascii"), self.key_id)

    # -- the head file (the newest checkpoint, outside the database) -----------------------

    def read_head(self) -> Checkpoint | None:
        """The newest checkpoint written to the head file, or None if there is none.

        Raises:
            StoreError: the head file exists but is not a checkpoint (a damaged or edited file).
        """
        try:
            data = json.loads(self.head_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"audit head file {self.head_file} is unreadable: {exc}") from exc
        try:
            return Checkpoint.from_json(data)
        except ValueError as exc:
            raise StoreError(f"audit head file {self.head_file} is not a checkpoint: {exc}") from exc

    def advance_head(self, checkpoint: Checkpoint) -> None:
        """Record ``checkpoint`` as the head unless a later one is there already (called after
        the record's transaction committed; several processes may append)."""
        try:
            with _locked(self.head_file.with_name(".audit-head.lock")):
                current = None
                with contextlib.suppress(StoreError):
                    current = self.read_head()
                if current is not None and current.seq >= checkpoint.seq:
                    return
                _write_private(self.head_file, json.dumps(checkpoint.to_json()).encode("utf-8"))
        except OSError as exc:
            raise StoreError(f"cannot write the audit head file {self.head_file}: {exc.strerror or exc}") from exc


def default_key_file(store_url: str) -> Path | None:
    """Where the signing key of a store lives when nobody said: ``VIGIL_AUDIT_KEY_FILE``, else
    ``keys/audit-signing.key`` beside a SQLite file; None for PostgreSQL and in-memory SQLite
    (pass the key explicitly, e.g. ``Store.for_config``)."""
    env = os.environ.get("VIGIL_AUDIT_KEY_FILE")
    if env:
        return Path(env).expanduser()
    parsed = make_url(store_url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "").expanduser().resolve().parent / "keys" / KEY_FILE_NAME


def audit_key_file(cfg: VigilConfig) -> Path:
    """The deployment's key file: ``VIGIL_AUDIT_KEY_FILE``, else beside a SQLite database (the same
    rule as :func:`default_key_file`, so a store opened by URL and one opened by config sign and
    verify with one key), else ``<data_dir>/keys/audit-signing.key``."""
    beside_db = default_key_file(cfg.store_url)
    return beside_db if beside_db is not None else (cfg.data_dir / "keys" / KEY_FILE_NAME).resolve()
