"""The operator console in a real browser (Playwright driving Debian's Chromium): plate
candidates reviewed as plates, confirming with an undo, the review queue redrawn in place,
cases holding events, tracks and plate reads with an export history, the audit page (newest
first, filters, CSV, grouped media views), and every page on a 390 px phone for every role."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from test_browser import signed_in
from web_support import Live

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1440, "height": 900}
PLATE_PHOTO = "0b86cecf-67d1-4fc0-87c9-b36b0ee228bb"  # a real street photo: plate YG9X2G at 935,362 99x49


def _plate_candidate(live: Live, shared_data: Path, *, plate: str = "YG9X2G", read: str = "YG9X2G") -> tuple[str, str]:
    """A hotlist entry for ``plate`` and a pending plate candidate for it as the plates stage
    raises one: the real photo's plate crop as the probe, the photo as its track's snapshot,
    the read as ``observed``. Returns (candidate id, hotlist entry id)."""
    import cv2

    from vigil.core.accountability import Authorisation
    from vigil.core.clock import utcnow
    from vigil.core.ids import new_id
    from vigil.events import CandidateRaised, TrackEnded
    from vigil.events.models import BoundingBox
    from vigil.store.media import MediaStore, snapshot_path
    from vigil.store.plates import NewHotlistEntry

    photo = cv2.imread(str(shared_data / "plates" / "us" / f"{PLATE_PHOTO}.jpg"))
    x, y, w, h = 935, 362, 99, 49
    now = utcnow()
    media = MediaStore(live.cfg.data_dir / "media")
    track_id = f"cam-b-plate-{new_id()[:8]}"
    ended = TrackEnded(
        camera_id="cam-b", occurred_at=now, track_id=track_id, class_name="car",
        box=BoundingBox(x1=x - 200, y1=y - 150, x2=x + w + 200, y2=y + h + 60), confidence=0.9,
        frame_index=1, first_seen=now, last_seen=now, n_observations=5, best_confidence=0.9, snapshot=None,
    )  # fmt: skip
    snap = media.save_jpeg(snapshot_path("cam-b", ended.event_id, now), photo, keep_faces="plate candidate (test)")
    crop_id = new_id()
    crop = media.save_jpeg(snapshot_path("cam-b", crop_id, now).replace("snapshots/", "plates/", 1),
                           photo[y : y + h, x : x + w], keep_faces="plate crop (test)")  # fmt: skip
    auth = Authorisation("Stolen vehicle report SV-9001", "Sam Supervisor", "Olu Operator", now + _days(5))
    (entry,) = live.store.plates.add_entries([NewHotlistEntry(plate, auth, "blue saloon")],
                                             max_days=live.cfg.plates.max_hotlist_days)  # fmt: skip
    raised = CandidateRaised(camera_id="cam-b", occurred_at=now, kind="plate", list_entry_id=entry.entry_id,
                             track_id=track_id, score=0.87, probe_media=crop, observed=read)  # fmt: skip
    live.store.events.add_many([ended.model_copy(update={"snapshot": snap}), raised])
    return raised.event_id, entry.entry_id


def _days(n: int) -> Any:
    from datetime import timedelta

    return timedelta(days=n)


def test_plate_candidate_reviewed_as_a_plate_with_undo_and_the_queue_in_place(
    browser: Any, live: Live, shots: Path, shared_data: Path
) -> None:
    from vigil.core.clock import utcnow
    from vigil.events import CandidateRaised

    cand, entry = _plate_candidate(live, shared_data)
    with signed_in(browser, live, live.users["operator"], DESKTOP) as page:
        page.goto("/review?camera_id=cam-b")
        page.evaluate("() => { window.__notReloaded = true; }")
        queue = page.inner_text("[data-testid=queue]")
        assert "YG9X2G" in queue and entry not in queue  # the plate, not the hotlist UUID
        page.goto(f"/review?id={cand}")
        page.evaluate("() => { window.__notReloaded = true; }")
        card = page.locator("[data-testid=candidate]")
        text = card.inner_text()
        assert "Plate candidate: YG9X2G" in page.inner_text("h1")
        assert page.inner_text("[data-testid=listed-plate]") == "YG9X2G"
        assert "Stolen vehicle report SV-9001" in page.inner_text("[data-testid=listed-reason]")
        assert "confidence 87 %" in page.inner_text("[data-testid=plate-score]")
        for face_words in ("Similarity", "stranger", "ears and jaw", "Enrolled reference"):
            assert face_words not in page.content(), face_words
        assert entry not in page.content()  # no hotlist UUID anywhere on the page
        assert page.locator("[data-testid=probe]").evaluate("img => img.naturalWidth") == 99  # the plate crop
        assert page.locator("[data-testid=vehicle]").evaluate("img => img.naturalWidth") > 0
        assert "Car park" in text
        page.screenshot(path=str(shots / "review-plate.png"), full_page=True)

        # A single "c" does not confirm: it waits with an undo.
        page.keyboard.press("c")
        pending = page.locator("[data-testid=confirm-pending]")
        pending.wait_for(state="visible")
        assert "Confirming in" in pending.inner_text()
        page.screenshot(path=str(shots / "review-undo.png"), full_page=True)
        page.keyboard.press("u")
        assert pending.is_hidden()
        page.wait_for_timeout(6000)  # longer than the wait: nothing was sent
        assert live.store.candidates.get(cand).decisions == ()
        assert page.evaluate("() => window.__notReloaded === true")

        # The queue redraws in place when a candidate arrives (no reload).
        queued = page.locator(".queue-list li").count()
        later = CandidateRaised(camera_id="cam-a", occurred_at=utcnow(), kind="face", list_entry_id="astro",
                                track_id="cam-a-queue-1", score=0.55, threshold=0.403)  # fmt: skip
        live.store.events.add_many([later])
        page.wait_for_selector(f"[data-candidate='{later.event_id}']", timeout=5000)
        assert page.locator(".queue-list li").count() == queued + 1
        assert page.evaluate("() => window.__notReloaded === true")
        assert page.locator(f"li[aria-current] [data-candidate='{cand}']").count() == 1  # still judging this one

        # The Confirm button, left alone, sends after the wait.
        page.click("#confirm-form button.primary")
        page.wait_for_selector(".flash.notice", timeout=15_000)
        assert "confirmation is recorded (1 of 2)" in page.inner_text(".flash.notice")  # two-person rule here
    record = live.store.candidates.get(cand)
    assert [(d.actor, d.decision) for d in record.decisions] == [("operator-1", "confirm")]
    live.store.candidates.decide(later.event_id, actor="operator-1", decision="reject", reason="test queue entry",
                                 required_confirmations=2)  # fmt: skip
