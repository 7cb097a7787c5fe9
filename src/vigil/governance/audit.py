"""Verifying the hash-chained audit log: prove it intact or name the first broken record."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.store.audit import GENESIS_HASH, AuditRepository, chain_hash, record_entry


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Result of :func:`verify_chain`.

    Attributes:
        ok: the chain is intact.
        records: how many records were checked.
        head_hash: hash of the last record (publish it elsewhere to detect a truncated tail).
        first_bad_seq: the first record that fails, or None.
        problem: what is wrong with it, in words.
    """

    ok: bool
    records: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(audit: AuditRepository) -> ChainVerdict:
    """Walk the chain in ``seq`` order and recompute every link.

    * a gap in ``seq`` → the missing record was deleted;
    * a record whose content no longer hashes to its ``hash`` → it was edited (or moved:
      ``seq`` is part of the hashed content, so a reordered record fails here too);
    * a record whose ``prev_hash`` is not the previous record's hash → the record before it
      was replaced or records were deleted and renumbered.
    """
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    for record in audit.scan():
        if record.seq != expected_seq:
            return ChainVerdict(
                False,
                count,
                prev,
                expected_seq,
                f"record {expected_seq} is missing (deleted); the next record is {record.seq}",
            )
        if chain_hash(record.prev_hash, record.seq, record.at, record_entry(record)) != record.hash:
            return ChainVerdict(
                False,
                count,
                prev,
                record.seq,
                f"record {record.seq} was edited or moved: its content does not match its hash",
            )
        if record.prev_hash != prev:
            return ChainVerdict(
                False,
                count,
                prev,
                record.seq,
                f"record {record.seq} does not follow record {record.seq - 1}: records before it were "
                "deleted, replaced or reordered",
            )
        prev, expected_seq, count = record.hash, expected_seq + 1, count + 1
    return ChainVerdict(True, count, prev)
