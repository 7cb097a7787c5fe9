"""The plate hotlist: add, import a CSV, list, show, remove and purge, whichever door asks.

Every entry carries a legal basis, an authoriser, the person who entered it (the actor, never
a typed name) and an expiry read by the one rule of :func:`vigil.core.accountability.parse_expiry`.
Each change is written with its audit record in one transaction (:mod:`vigil.services.recorder`),
and the record has one shape at every door: ``hotlist.add`` / ``hotlist.import`` with the plate,
the authoriser and ``expires_at``; ``hotlist.remove`` with the reason and the plate.

A CSV import is all or nothing unless ``partial``: a bad row (a missing field, an expiry out of
bounds, a plate an earlier line lists, a plate on the hotlist already, a region no grammar knows)
is named by its line and nothing is written; with ``partial`` the good rows are imported and the
bad ones listed.

An entry may name the plate region it is listed for (:func:`listed_region`): one of the built-in
grammar regions or the deployment's own ``plates.formats``. A hit on a read that looks to be from
another region is flagged ``other_region`` on its candidate (``vigil.plates.hotlist.other_region``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from vigil.config.plates import PLATE_REGIONS, PlatesConfig
from vigil.core.accountability import Authorisation, parse_expiry
from vigil.core.clock import utcnow
from vigil.core.errors import BadRowsError, InputError, PolicyError
from vigil.plates.hotlist import BadRow, HotlistRow, decode_hotlist, parse_hotlist_text
from vigil.plates.text import parse_plate
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.recorder import Recorder
from vigil.services.rules import need_reason, optional_reason
from vigil.store.plates import HotlistEntryRecord, NewHotlistEntry

MANAGE = "hotlist.manage"
READ = "hotlist.read"
MAX_LISTED_ROWS = 10
"""Bad rows named in the one-line refusal (all of them are in ``BadRowsError.rows``)."""


@dataclass(frozen=True, slots=True)
class HotlistEntryIn:
    """A hotlist entry as a person types it (any door): the expiry is text, read by one rule."""

    plate: str
    legal_basis: str
    authorised_by: str
    expires: str
    note: str | None = None
    region: str | None = None
    """The plate region it is listed for (``us``, ``uk`` …; any case), blank or None for any."""


def known_regions(cfg: PlatesConfig) -> list[str]:
    """The regions an entry may name: the built-in grammars and the deployment's own formats."""
    return sorted({*PLATE_REGIONS, *cfg.formats})


def listed_region(cfg: PlatesConfig, region: str | None) -> str | None:
    """The region an entry names, as stored (lower case), or None when it names none.

    Raises:
        InputError: not a known region (one line naming the known ones).
    """
    if region is None or not region.strip():
        return None
    name = region.strip().lower()
    known = known_regions(cfg)
    if name not in known:
        raise InputError(
            f"plate region {region.strip()!r} is not known; use one of {', '.join(known)} "
            "(a deployment adds its own with plates.formats), or none for any region"
        )
    return name


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What a CSV import wrote, and the rows it skipped (``partial`` only)."""

    imported: list[HotlistEntryRecord]
    skipped: list[BadRow]


def add(services: Services, actor: Actor, entry: HotlistEntryIn) -> HotlistEntryRecord:
    """Add one plate; ``actor`` is recorded as the person who entered it.

    Raises:
        AccessDeniedError: the actor may not manage the hotlist (the attempt is recorded).
        PolicyError: no legal basis, authoriser or expiry, or an expiry out of bounds.
        InputError: the plate, the expiry or the region cannot be read.
        ConflictError: the plate is on the hotlist already.
    """
    recorder = services.recorder(actor)
    recorder.allow(MANAGE, object_type="hotlist_entry")
    if not entry.expires.strip():
        raise PolicyError("expires is required: every hotlist entry needs an expiry date")
    new = NewHotlistEntry(
        parse_plate(entry.plate),
        Authorisation(entry.legal_basis, entry.authorised_by, actor.username, parse_expiry(entry.expires)),
        optional_reason(entry.note),
        region=listed_region(services.config.plates, entry.region),
    )
    (record,) = services.store.plates.add_entries(
        [new], max_days=services.config.plates.max_hotlist_days, on_written=_AddedHook(recorder, "hotlist.add")
    )
    return record


@dataclass(frozen=True, slots=True)
class _AddedHook:
    """Appends one ``hotlist.add`` / ``hotlist.import`` record per added entry, in the change's
    transaction (reason: the entry's legal basis)."""

    recorder: Recorder
    action: str
    skipped: Sequence[BadRow] = ()

    def __call__(self, session: Session, records: Sequence[HotlistEntryRecord]) -> None:
        for r in records:
            self.recorder.within(
                session,
                self.action,
                object_type="hotlist_entry",
                object_id=r.entry_id,
                reason=r.legal_basis,
                plate=r.plate,
                authorised_by=r.authorised_by,
                expires_at=r.expires_at.isoformat(),
                region=r.region,
            )
        if self.skipped:
            self.recorder.within(
                session, "hotlist.import_skipped", object_type="hotlist", rows=[b.line for b in self.skipped]
            )


def refusal(source: str, bad: Sequence[BadRow]) -> str:
    """The one line that names the bad rows of an import that wrote nothing."""
    listed = "; ".join(f"line {b.line}: {b.problem}" for b in bad[:MAX_LISTED_ROWS])
    more = f" (and {len(bad) - MAX_LISTED_ROWS} more)" if len(bad) > MAX_LISTED_ROWS else ""
    return (
        f"{source}: {len(bad)} bad row(s), nothing imported (pass partial, --partial at the command line, "
        f"to import the rest): {listed}{more}"
    )


def import_csv(services: Services, actor: Actor, data: bytes, *, source: str, partial: bool) -> ImportResult:
    """Import a hotlist CSV (header ``plate,legal_basis,authorised_by,expires_at[,note][,region]``).

    Without ``partial`` every row must be importable, or nothing is written. A plate that an
    earlier line lists, or that is on the hotlist already, is a bad row like any other, so
    ``partial`` skips it rather than failing the batch.

    Raises:
        AccessDeniedError: the actor may not manage the hotlist (the attempt is recorded).
        BadRowsError: bad rows and not ``partial`` (``rows`` names each by line).
        InputError: unreadable, not UTF-8, no header, or a header without rows.
        ConflictError: a plate was listed by someone else while this import ran.
    """
    recorder = services.recorder(actor)
    recorder.allow(MANAGE, object_type="hotlist")
    now = utcnow()
    max_days = services.config.plates.max_hotlist_days
    parsed = parse_hotlist_text(decode_hotlist(data, source), source, actor.username, now, max_days)
    listed = {e.plate: e.entry_id for e in services.store.plates.list_entries(now=now)}
    rows, bad_regions = rows_with_regions(services.config.plates, parsed.good)
    good = [r for r in rows if r.plate not in listed]
    bad = sorted(
        [*parsed.bad, *bad_regions,
         *(BadRow(r.row, f"plate {r.plate} is on the hotlist already ({listed[r.plate]})")
           for r in rows if r.plate in listed)],
        key=lambda b: b.line,
    )  # fmt: skip
    if bad and not partial:
        raise BadRowsError(refusal(source, bad), [(b.line, b.problem) for b in bad])
    if not good and not bad:
        raise InputError(f"hotlist {source} has a header but no rows")
    if not good:
        recorder.read("hotlist.import_skipped", object_type="hotlist", rows=[b.line for b in bad])
        return ImportResult([], bad)
    entries = [
        NewHotlistEntry(
            r.plate, Authorisation(r.legal_basis, r.authorised_by, actor.username, r.expires_at), r.note,
            region=r.region,
        )
        for r in good
    ]  # fmt: skip
    added = services.store.plates.add_entries(
        entries, max_days=max_days, now=now, on_written=_AddedHook(recorder, "hotlist.import", bad)
    )
    return ImportResult(added, bad)


def rows_with_regions(cfg: PlatesConfig, rows: Sequence[HotlistRow]) -> tuple[list[HotlistRow], list[BadRow]]:
    """The rows with their region as stored (:func:`listed_region`), and those whose region is unknown."""
    good: list[HotlistRow] = []
    bad: list[BadRow] = []
    for r in rows:
        try:
            good.append(replace(r, region=listed_region(cfg, r.region)))
        except InputError as exc:
            bad.append(BadRow(r.row, str(exc)))
    return good, bad


@dataclass(frozen=True, slots=True)
class HotlistListing:
    """A page of entries (by plate), how many matched, and how many of those are active."""

    items: list[HotlistEntryRecord]
    total: int
    active: int


def entries(
    services: Services, actor: Actor, *, include_expired: bool = False, limit: int = 1000, offset: int = 0
) -> HotlistListing:
    """Entries by plate (expired ones not yet purged with ``include_expired``); the listing is audited."""
    recorder = services.recorder(actor)
    recorder.allow(READ, object_type="hotlist")
    now = utcnow()
    found = services.store.plates.list_entries(include_expired=include_expired, now=now)
    page = found[offset : offset + limit]
    recorder.read("hotlist.list", object_type="hotlist", results=len(page), include_expired=include_expired)
    return HotlistListing(page, len(found), sum(1 for e in found if e.expires_at > now))


def show(services: Services, actor: Actor, entry_id: str) -> HotlistEntryRecord:
    """One entry, expired or not; audited.

    Raises:
        NotFoundError: no such entry.
    """
    recorder = services.recorder(actor)
    recorder.allow(READ, object_type="hotlist_entry", object_id=entry_id)
    record = services.store.plates.get_entry(entry_id)
    recorder.read("hotlist.view", object_type="hotlist_entry", object_id=entry_id)
    return record


def remove(services: Services, actor: Actor, entry_id: str, reason: str | None) -> HotlistEntryRecord:
    """Remove an entry at once (it stops matching); the reason is recorded with it.

    Raises:
        AccessDeniedError: the actor may not manage the hotlist (the attempt is recorded).
        ReasonRequiredError: no reason, or too short a one.
        NotFoundError: no such entry.
    """
    recorder = services.recorder(actor)
    recorder.allow(MANAGE, object_type="hotlist_entry", object_id=entry_id)
    why = need_reason(services.config, reason, "removing a hotlist entry")

    def write(session: Session, record: HotlistEntryRecord) -> None:
        recorder.within(
            session, "hotlist.remove", object_type="hotlist_entry", object_id=record.entry_id, reason=why,
            plate=record.plate,
        )  # fmt: skip

    return services.store.plates.remove_entry(entry_id, on_written=write)


def purge_expired(services: Services, actor: Actor, reason: str | None = None) -> int:
    """Delete every expired entry (they stopped matching when they expired); audited by count."""
    recorder = services.recorder(actor)
    recorder.allow(MANAGE, object_type="hotlist")
    why = optional_reason(reason)

    def write(session: Session, n: int) -> None:
        recorder.within(session, "hotlist.purge_expired", object_type="hotlist", reason=why, entries=n)

    return services.store.plates.purge_expired(on_written=write)
