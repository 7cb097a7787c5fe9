"""The auditor's witness: signed checkpoints of the audit log, kept where Vigil cannot write.

``vigil audit checkpoint export --out FILE`` verifies the log, then adds a checkpoint of its
newest record (signed with the deployment's key) to ``FILE``, with the public key. The auditor
keeps the file (a USB stick, another organisation's server, a printed hash). Later, ``vigil
audit verify --witness FILE`` checks the log against the public key and every checkpoint in it:
history before a witnessed checkpoint cannot be rewritten, records up to it cannot be cut, and
a signing key replaced on the host is caught, whoever controls the database and the host.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigil.core.errors import InputError, PolicyError, StoreError
from vigil.governance.audit import ChainVerdict, TrustedCheckpoint, verify_chain
from vigil.store.audit import GENESIS_HASH, AuditRepository
from vigil.store.audit_keys import AuditSigner, Checkpoint, key_id_of, load_public_key, public_key_bytes
from vigil.store.facade import Store

WITNESS_FORMAT = "vigil-audit-witness/1"


def read_witness(path: Path) -> tuple[Ed25519PublicKey, list[TrustedCheckpoint]]:
    """The public key a witness file pins, and its checkpoints.

    Raises:
        InputError: missing, not JSON, not a witness file, or a malformed key or checkpoint.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"witness file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"witness file {path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != WITNESS_FORMAT:
        raise InputError(f"{path} is not a Vigil audit witness (expected format {WITNESS_FORMAT!r})")
    try:
        key = load_public_key(str(data.get("public_key", "")))
        checkpoints = [Checkpoint.from_json(c) for c in data.get("checkpoints", [])]
    except ValueError as exc:
        raise InputError(f"witness file {path}: {exc}") from exc
    if data.get("key_id") != key_id_of(public_key_bytes(key)):
        raise InputError(f"witness file {path}: key_id does not match its public key")
    return key, [TrustedCheckpoint(c, f"witness {path.name}") for c in checkpoints]


def export_witness(signer: AuditSigner, audit: AuditRepository, path: Path) -> Checkpoint:
    """Verify the log, then add a checkpoint of its newest record to the witness at ``path``.

    Raises:
        PolicyError: the log does not verify (a broken log is never vouched for), or the
            witness pins another key than this deployment's.
        InputError: ``path`` exists but is not a witness file.
    """
    pinned: list[TrustedCheckpoint] = []
    if path.exists():
        key, pinned = read_witness(path)
        if key_id_of(public_key_bytes(key)) != signer.key_id:
            raise PolicyError(
                f"witness {path} pins audit key {key_id_of(public_key_bytes(key))}, but this deployment signs with "
                f"{signer.key_id}: the signing key was replaced; do not export, investigate"
            )
    head = signer.read_head()
    local = [TrustedCheckpoint(head, "the head file")] if head is not None else []
    verdict = verify_chain(audit, signer.public_key, [*local, *pinned])
    if not verdict.ok:
        raise PolicyError(f"the audit log does not verify, so no checkpoint is exported: {verdict.problem}")
    checkpoint = signer.sign(verdict.records, verdict.head_hash)
    entries = [tc.checkpoint.to_json() for tc in pinned]
    entries.append({**checkpoint.to_json(), "exported_at": datetime.now(UTC).isoformat(timespec="seconds")})
    body = {
        "format": WITNESS_FORMAT,
        "key_id": signer.key_id,
        "public_key": signer.public_b64,
        "checkpoints": entries,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return checkpoint


def verify_store(store: Store, witness: Path | None = None) -> ChainVerdict:
    """Verify the deployment's log with every piece of evidence at hand: the key (the witness's
    public key when a witness is given, else the local key file's), the head file beside the
    key, and the witness's checkpoints.

    Raises:
        InputError: the witness file is unusable.
    """
    public: Ed25519PublicKey | None = None
    checkpoints: list[TrustedCheckpoint] = []
    if witness is not None:
        public, checkpoints = read_witness(witness)
    signer = store.audit_signer
    if signer is not None:
        try:
            head = signer.read_head()
        except StoreError as exc:
            return ChainVerdict(False, 0, GENESIS_HASH, None, str(exc))
        if head is not None:
            checkpoints.append(TrustedCheckpoint(head, f"the head file {signer.head_file}"))
        if public is None and signer.exists():
            public = signer.public_key
    return verify_chain(store.governance.audit, public, checkpoints)
