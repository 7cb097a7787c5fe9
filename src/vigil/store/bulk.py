"""PostgreSQL's fast path for storing a batch of events (the indexer's whole job).

The portable path (:meth:`EventRepository.add_many` on SQLite) inserts with
``INSERT … ON CONFLICT DO NOTHING RETURNING`` and folds tracks through the ORM, a round trip
per track: about 1,600 events/s on PostgreSQL here. This path does the same in a fixed number
of statements whatever the batch size, with the same results:

1. ``COPY`` the validated events' JSON (``model_dump_json``), one row each, as one block into a
   per-connection temporary table of ``jsonb`` (cleared at commit);
2. one statement (data-modifying CTEs) that
   - inserts into ``events``, the columns read from each payload by PostgreSQL, ``ON CONFLICT
     (event_id[, occurred_at]) DO NOTHING RETURNING``: only the new events go on (a redelivered
     event is skipped, exactly as before), and their ids come back;
   - upserts one ``tracks`` row per track of the new track events, with the fold's rules in
     SQL (the latest ``track.ended`` summary wins; otherwise running totals; after an end,
     updates change nothing), in track id order (two indexers cannot deadlock);
   - upserts ``camera_health`` with each camera's newest snapshot, never over a newer one;
   - inserts the new crowd samples' rows into ``crowd_counts`` (the whole frame and each zone).

Why in SQL: in Python the same work (a tuple per row through ``write_row``, the aggregation per
track, a dict per camera) was a quarter of the indexer's CPU; PostgreSQL does it in C from the
payloads it parses anyway (``tests/store/test_bulk_store.py`` checks every table against the
ORM path). Other feature events (candidates, faces, plates, crowd lines and alerts) are few and
go through their own folds, in the same transaction.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigil.events import AnyEvent
from vigil.store.feature_folds import fold_features

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS vigil_payload_stage (payload jsonb) ON COMMIT DELETE ROWS
"""

_INSERT_NEW = """
WITH new AS (
    INSERT INTO events (event_id, type, schema_version, camera_id, occurred_at, track_id, payload, stored_at)
    SELECT DISTINCT ON (event_id) * FROM (
        SELECT payload->>'event_id' AS event_id, payload->>'type' AS type,
               (payload->>'schema_version')::integer AS schema_version, payload->>'camera_id' AS camera_id,
               (payload->>'occurred_at')::timestamptz AS occurred_at,
               CASE WHEN payload->>'type' IN ('track.started', 'track.updated', 'track.ended')
                    THEN payload->>'track_id' END AS track_id,
               payload, %s::timestamptz AS stored_at
        FROM vigil_payload_stage
    ) AS staged
    ON CONFLICT ({key}) DO NOTHING
    RETURNING event_id, type, track_id, occurred_at, payload
), obs AS (
    SELECT event_id, track_id, occurred_at, payload, type = 'track.ended' AS ended FROM new WHERE track_id IS NOT NULL
), ends AS (
    -- A track.ended carries the tracker's summary of the whole track: the latest one wins.
    SELECT DISTINCT ON (track_id) track_id, payload->>'camera_id' AS camera_id, payload->>'class_name' AS class_name,
           (payload->>'first_seen')::timestamptz AS first_seen, (payload->>'last_seen')::timestamptz AS last_seen,
           (payload->>'n_observations')::integer AS n, (payload->>'best_confidence')::float8 AS best,
           payload->>'snapshot' AS snapshot, true AS ended
    FROM obs WHERE ended
    ORDER BY track_id, occurred_at DESC, event_id DESC
), live AS (
    -- Starts and updates of tracks that did not end in this batch, folded into running totals.
    SELECT track_id, (array_agg(payload->>'camera_id' ORDER BY occurred_at, event_id))[1] AS camera_id,
           (array_agg(payload->>'class_name' ORDER BY occurred_at DESC, event_id DESC))[1] AS class_name,
           min(occurred_at) AS first_seen, max(occurred_at) AS last_seen, count(*)::integer AS n,
           max((payload->>'confidence')::float8) AS best, NULL::varchar AS snapshot, false AS ended
    FROM obs WHERE NOT ended AND track_id NOT IN (SELECT track_id FROM ends)
    GROUP BY track_id
), folded AS (
    {upsert_tracks}
), health AS (
    -- The newest snapshot per camera; an older one never overwrites a newer (_UPSERT_HEALTH).
    SELECT * FROM (
        SELECT DISTINCT ON (payload->>'camera_id') payload->>'camera_id' AS camera_id, occurred_at AS updated_at,
               event_id, (payload->>'frames_in')::integer AS frames_in,
               (payload->>'frames_analysed')::integer AS frames_analysed,
               (payload->>'frames_dropped')::integer AS frames_dropped, (payload->>'reconnects')::integer AS reconnects,
               (payload->>'analysed_fps')::float8 AS analysed_fps, payload->>'last_error' AS last_error,
               payload->>'state' AS state, (payload->>'cpu_share')::float8 AS cpu_share
        FROM new WHERE type = 'camera.health'
        ORDER BY payload->>'camera_id', occurred_at DESC, event_id DESC
    ) AS h ORDER BY camera_id
), health_folded AS (
    {upsert_health}
), crowd AS (
    -- One row per zone and sample, the whole frame ('*') included: the rows fold_crowd adds.
    INSERT INTO crowd_counts (event_id, zone_id, camera_id, at, count, detection_count, density_count, method,
                              density_per_m2)
    SELECT n.event_id, z->>'zone_id', n.payload->>'camera_id', n.occurred_at, (z->>'count')::integer,
           (z->>'detection_count')::integer, (z->>'density_count')::float8, z->>'method',
           (z->>'density_per_m2')::float8
    FROM new AS n
    CROSS JOIN LATERAL (
        SELECT n.payload->'total' AS z UNION ALL SELECT jsonb_array_elements(n.payload->'zones')
    ) AS zones
    WHERE n.type = 'crowd.zone_count'
)
SELECT event_id FROM new
"""
"""The columns are read from the payload by PostgreSQL (in C) rather than formatted per row in
Python: the payload is the validated event's own JSON, so they are the event's fields (the
times carry their offset, ``Z``, so the session's time zone plays no part), and a track id only
for track events, as the ORM path stores it."""

_UPSERT_TRACKS = """
INSERT INTO tracks (track_id, camera_id, class_name, first_seen, last_seen, n_observations,
                    best_confidence, snapshot, ended)
SELECT * FROM (SELECT * FROM ends UNION ALL SELECT * FROM live) AS t ORDER BY track_id
ON CONFLICT (track_id) DO UPDATE SET
    class_name = CASE WHEN tracks.ended AND NOT excluded.ended THEN tracks.class_name ELSE excluded.class_name END,
    first_seen = CASE WHEN excluded.ended THEN excluded.first_seen WHEN tracks.ended THEN tracks.first_seen
                      ELSE LEAST(tracks.first_seen, excluded.first_seen) END,
    last_seen = CASE WHEN excluded.ended THEN excluded.last_seen WHEN tracks.ended THEN tracks.last_seen
                     ELSE GREATEST(tracks.last_seen, excluded.last_seen) END,
    n_observations = CASE WHEN excluded.ended THEN excluded.n_observations WHEN tracks.ended THEN tracks.n_observations
                          ELSE tracks.n_observations + excluded.n_observations END,
    best_confidence = CASE WHEN excluded.ended THEN excluded.best_confidence
                           WHEN tracks.ended THEN tracks.best_confidence
                           ELSE GREATEST(tracks.best_confidence, excluded.best_confidence) END,
    snapshot = CASE WHEN excluded.ended THEN excluded.snapshot ELSE tracks.snapshot END,
    ended = tracks.ended OR excluded.ended
"""

_UPSERT_HEALTH = """
INSERT INTO camera_health (camera_id, updated_at, event_id, frames_in, frames_analysed, frames_dropped,
                           reconnects, analysed_fps, last_error, state, cpu_share)
SELECT * FROM health
ON CONFLICT (camera_id) DO UPDATE SET
    updated_at = excluded.updated_at, event_id = excluded.event_id, frames_in = excluded.frames_in,
    frames_analysed = excluded.frames_analysed, frames_dropped = excluded.frames_dropped,
    reconnects = excluded.reconnects, analysed_fps = excluded.analysed_fps, last_error = excluded.last_error,
    state = excluded.state, cpu_share = excluded.cpu_share
WHERE camera_health.updated_at <= excluded.updated_at
"""


_STORE_PLAIN = _INSERT_NEW.format(key="event_id", upsert_tracks=_UPSERT_TRACKS, upsert_health=_UPSERT_HEALTH)
_STORE_PARTITIONED = _INSERT_NEW.format(
    key="event_id, occurred_at", upsert_tracks=_UPSERT_TRACKS, upsert_health=_UPSERT_HEALTH
)
_FOLDED_IN_SQL = frozenset({"track.started", "track.updated", "track.ended", "camera.health", "crowd.zone_count"})
"""Event types the statement above folds; the others go to their features' folds."""

_STAGED: weakref.WeakSet[Any] = weakref.WeakSet()
"""Connections that already have the staging table (temporary tables live per connection)."""


def copy_block(events: Sequence[AnyEvent]) -> bytes:
    """The events' JSON (``model_dump_json``'s bytes exactly) as one ``COPY`` text-format block.

    One block for the whole batch: the payloads are compact JSON, which never holds a raw
    newline, tab or carriage return (JSON escapes them), so COPY's text format needs only its
    escape character doubled. A row per event through ``write_row`` cost a tenth of the
    indexer's CPU. Each event's serializer is called for bytes, as ``model_dump_json`` calls it
    before decoding them to ``str``: joining bytes skips that decode and the block's encode
    (1.4 instead of 2.0 µs per event, ``bench/indexer_decode_cost.py``).
    """
    return b"\n".join([e.__pydantic_serializer__.to_json(e) for e in events]).replace(b"\\", b"\\\\") + b"\n"


def add_many_postgres(
    session: Session, events: Sequence[AnyEvent], stored_at: datetime, *, partitioned: bool = False
) -> list[AnyEvent]:
    """Store the (distinct-id) ``events`` in ``session``'s transaction; return those that were new.

    ``partitioned``: ``events`` is time-partitioned (revision 0012), so its key is
    ``(event_id, occurred_at)`` (``store/partitions.py``).
    """
    raw: Any = session.connection().connection.driver_connection  # psycopg.Connection
    try:
        return _add(session, raw, events, stored_at, partitioned)
    except BaseException:
        # The transaction rolls back, and with it a staging table created inside it.
        _STAGED.discard(raw)
        raise


def _add(
    session: Session, raw: Any, events: Sequence[AnyEvent], stored_at: datetime, partitioned: bool
) -> list[AnyEvent]:
    with raw.cursor() as cur:
        if raw not in _STAGED:
            cur.execute(_STAGE_DDL)  # once per connection; ON COMMIT DELETE ROWS empties it
            _STAGED.add(raw)
        with cur.copy("COPY vigil_payload_stage (payload) FROM STDIN") as copy:
            copy.write(copy_block(events))
        cur.execute(_STORE_PARTITIONED if partitioned else _STORE_PLAIN, (stored_at,))
        new_ids = {row[0] for row in cur.fetchall()}
        new = [e for e in events if e.event_id in new_ids]
    # Every other feature event (candidates, faces, plates, crowd lines and alerts) is rare.
    fold_features(session, [e for e in new if e.type not in _FOLDED_IN_SQL])
    return new
