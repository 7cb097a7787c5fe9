"""Verifying the audit log: prove it intact or name the first broken record or the missing range.

Three layers of evidence, each catching what the one before cannot (docs/audit.md):

1. the hash chain: a record edited in place, deleted or moved without re-hashing;
2. the signatures (Ed25519, key outside the database): a record edited and re-hashed,
   records re-ordered or renumbered, a record forged at the end by someone without the key;
3. signed checkpoints kept outside the database (the head file beside the key, an auditor's
   witness file): records cut from the end, or the whole log emptied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigil.store.audit import GENESIS_HASH, AuditRepository, chain_hash, record_entry
from vigil.store.audit_keys import Checkpoint, key_id_of, public_key_bytes, signature_valid


@dataclass(frozen=True, slots=True)
class TrustedCheckpoint:
    """A checkpoint held outside the database, and where it came from (for messages)."""

    checkpoint: Checkpoint
    source: str


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Result of :func:`verify_chain`.

    Attributes:
        ok: the log is intact as far as the evidence given can tell.
        records: how many records were checked.
        head_hash: hash of the last record.
        first_bad_seq: the first record that fails (or the first missing one), or None.
        problem: what is wrong, in words.
        missing: ``(first, last)`` seq of records missing at the end, when that is the problem.
        unsigned_prefix: records written before signing began (hash chain only).
        checkpoints_checked: the outside checkpoints the log was matched against.
    """

    ok: bool
    records: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    missing: tuple[int, int] | None = None
    unsigned_prefix: int = 0
    checkpoints_checked: tuple[str, ...] = field(default_factory=tuple)


def verify_chain(
    audit: AuditRepository,
    public_key: Ed25519PublicKey | None = None,
    checkpoints: Sequence[TrustedCheckpoint] = (),
) -> ChainVerdict:
    """Walk the log in ``seq`` order; check every link, every signature and every outside checkpoint.

    Args:
        audit: the log.
        public_key: the key records must be signed with (the witness's, else the local key's).
            None checks the hash chain only (a deployment that never signed).
        checkpoints: signed checkpoints kept outside the database; each must match the log.

    The log fails when:

    * it is empty (a deployment's log is never empty once used; an outside checkpoint says
      how many records were cut);
    * a ``seq`` is missing, a record does not hash to its ``hash``, or its ``prev_hash`` is not
      the previous record's hash;
    * a record after the first signed one is unsigned, or its signature does not verify;
    * an outside checkpoint names a record the log does not have (cut from the end) or one
      whose hash differs (history rewritten and re-signed with another key).
    """
    key_id = key_id_of(public_key_bytes(public_key)) if public_key is not None else None
    wanted: dict[int, list[TrustedCheckpoint]] = {}
    for tc in checkpoints:
        if public_key is not None and not signature_valid(
            public_key, tc.checkpoint.seq, tc.checkpoint.hash, tc.checkpoint.sig
        ):
            return ChainVerdict(
                False,
                0,
                GENESIS_HASH,
                None,
                f"the checkpoint in {tc.source} (record {tc.checkpoint.seq}) is not signed by key {key_id}: "
                "it was edited, or the key in use is not the one that signed it",
            )
        wanted.setdefault(tc.checkpoint.seq, []).append(tc)
    sources = tuple(sorted({tc.source for tc in checkpoints}))
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    first_signed: int | None = None
    unsigned_prefix = 0

    def fail(seq: int | None, problem: str, missing: tuple[int, int] | None = None) -> ChainVerdict:
        return ChainVerdict(False, count, prev, seq, problem, missing, unsigned_prefix, sources)

    for record in audit.scan():
        if record.seq != expected_seq:
            return fail(
                expected_seq,
                f"records {expected_seq}..{record.seq - 1} are missing (deleted); the next record is {record.seq}",
                (expected_seq, record.seq - 1),
            )
        if chain_hash(record.prev_hash, record.seq, record.at, record_entry(record)) != record.hash:
            return fail(record.seq, f"record {record.seq} was edited or moved: its content does not match its hash")
        if record.prev_hash != prev:
            return fail(
                record.seq,
                f"record {record.seq} does not follow record {record.seq - 1}: records before it "
                "were deleted, replaced or reordered",
            )
        if public_key is None:
            if record.sig is not None:
                return fail(
                    record.seq,
                    f"record {record.seq} is signed (key {record.key_id}) but no public key was "
                    "given to check it: the key file is missing; verify against a witness (--witness)",
                )
        elif record.sig is None:
            if first_signed is not None:
                return fail(
                    record.seq,
                    f"record {record.seq} is not signed, although every record since "
                    f"{first_signed} is: it was written without the key (forged)",
                )
            unsigned_prefix += 1
        elif not signature_valid(public_key, record.seq, record.hash, record.sig):
            return fail(
                record.seq,
                f"record {record.seq}'s signature does not verify with key {key_id}: "
                "the record was edited and re-hashed, moved, or forged",
            )
        elif first_signed is None:
            first_signed = record.seq
        for tc in wanted.pop(record.seq, ()):
            if tc.checkpoint.hash != record.hash:
                return fail(
                    record.seq,
                    f"record {record.seq} is not the record {tc.source} signed: the log up to "
                    f"record {record.seq} was rewritten",
                )
        prev, expected_seq, count = record.hash, expected_seq + 1, count + 1
    if wanted:
        last = max(wanted)
        where = ", ".join(sorted({tc.source for tc in wanted[last]}))
        if count == 0:
            return fail(
                1,
                f"the audit log is empty, but {where} holds a signed checkpoint of record {last}: "
                f"records 1..{last} were deleted",
                (1, last),
            )
        return fail(
            count + 1,
            f"records {count + 1}..{last} are missing: the log ends at record {count} but {where} "
            f"holds a signed checkpoint of record {last} (cut from the end)",
            (count + 1, last),
        )
    if public_key is not None and first_signed is None and count > 0:
        return fail(
            1,
            f"none of the {count} records is signed with key {key_id}: signatures were stripped, "
            "or the log was written by another deployment",
        )
    if count == 0:
        return fail(
            None,
            "the audit log is empty: no record can be verified (a log in use is never empty; "
            "check it against a witness file with --witness)",
        )
    return ChainVerdict(True, count, prev, None, None, None, unsigned_prefix, sources)
