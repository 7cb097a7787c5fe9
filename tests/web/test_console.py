"""The operator console in a real browser (Playwright driving Debian's Chromium): plate
candidates reviewed as plates, confirming with an undo, the review queue redrawn in place,
cases holding events, tracks and plate reads with an export history, the audit page (newest
first, filters, CSV, grouped media views), and every page on a 390 px phone for every role."""

from __future__ import annotations

import re
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
    listed = [e for e in live.store.plates.list_entries() if e.plate == plate]
    (entry,) = listed or live.store.plates.add_entries([NewHotlistEntry(plate, auth, "blue saloon")],
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


UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def test_a_case_holds_candidates_plate_reads_tracks_and_events_and_keeps_its_exports(
    browser: Any, live: Live, shots: Path, shared_data: Path
) -> None:
    import io
    import json
    import zipfile

    cand, _ = _plate_candidate(live, shared_data, plate="AB12CDE", read="AB12CDE")
    track = next(e for e in live.store.events.search(type="track.ended", camera_id="cam-a", limit=50))
    alert = live.store.events.search(type="crowd.alert", limit=1)[0]
    with signed_in(browser, live, live.users["supervisor"], DESKTOP) as page:
        page.goto("/cases")
        page.fill("[data-testid=new-case] input[name=name]", "Stolen hatchback AB12CDE")
        page.fill("[data-testid=new-case] input[name=reason]", "Stolen vehicle report SV-8812, warrant W-90")
        page.click("[data-testid=new-case] button")
        page.wait_for_url(re.compile(r".*/cases/.+"))
        case_url = page.url
        # A plate read, from the plate search.
        page.goto("/plates?plate=AB12CDE&reason=stolen+vehicle+SV-8812")
        page.locator("[data-testid=plate-reads] [data-testid=add-to-case] button").first.click()
        page.wait_for_url(case_url)
        assert "Added the plate read" in page.inner_text(".flash.notice")
        # The plate candidate, from the review page.
        page.goto(f"/review?id={cand}")
        page.click("[data-testid=add-to-case] button")
        page.wait_for_url(case_url)
        # A track and an event, by their ids on the case page.
        for kind, item_id in (("track", str(track.track_id)), ("event", alert.event_id)):
            page.select_option("[data-testid=add-item] select[name=item_type]", kind)
            page.fill("[data-testid=add-item] input[name=item_id]", item_id)
            page.click("[data-testid=add-item] button")
            page.wait_for_url(case_url)
        rows = page.locator("[data-testid=case-items] tbody tr").all_inner_texts()
        assert len(rows) == 4, rows
        text = "\n".join(rows)
        assert UUID.search(text) is None, text  # items say what they are, not bare ids
        assert "plate read" in rows[0] and "AB12CDE" in rows[0] and "Car park" in rows[0]
        assert "plate candidate" in rows[1] and "listed AB12CDE" in rows[1]
        assert "person track" in rows[2] and "Main entrance" in rows[2]
        assert "crowd alert" in rows[3] and "Concourse" in rows[3] and "over capacity · zone north" in rows[3]
        assert "Not exported yet" in page.inner_text("[data-testid=export-history]")

        page.fill("[data-testid=export] input[name=reason]", "disclosure to the prosecutor, ref P-2")
        with page.expect_download() as info:
            page.click("[data-testid=export] button")
        data = Path(info.value.path()).read_bytes()
        done = page.locator("[data-testid=export-done]")
        done.wait_for(state="visible")
        assert "Exported case-" in done.inner_text() and "files" in done.inner_text()
        assert not page.locator("[data-testid=export] button").is_disabled()  # ready for another
        assert page.locator("[data-testid=export-history] tbody tr").count() == 1
        page.screenshot(path=str(shots / "case-exported.png"), full_page=True)
        page.reload()  # the history is the audit log's, not the page's memory
        history = page.locator("[data-testid=export-history] tbody tr").all_inner_texts()
        assert len(history) == 1 and "supervisor-1" in history[0] and "disclosure to the prosecutor" in history[0]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        events = json.loads(z.read("events.json"))
        names = z.namelist()
    assert [r["plate"] for r in events["plate_reads"]] == ["AB12CDE"]
    assert {c["kind"] for c in events["candidates"]} == {"plate"}
    assert any(e["type"] == "crowd.alert" for e in events["events"])
    assert any(n.startswith("media/plates/") for n in names)
    exports = [r for r in live.store.governance.audit.list(action="export.create", limit=1000)
               if r.object_id == case_url.rsplit("/", 1)[-1]]  # fmt: skip
    assert len(exports) == 1 and exports[0].detail["redacted"] is True


def test_audit_log_newest_first_filtered_exported_with_routine_views_grouped(
    browser: Any, live: Live, shots: Path, shared_data: Path
) -> None:
    import csv
    import io
    from datetime import timedelta

    from vigil.core.clock import utcnow

    cand, _ = _plate_candidate(live, shared_data, plate="GR0UP1", read="GR0UP1")
    crop = live.store.candidates.get(cand).probe_media
    with signed_in(browser, live, live.users["operator"]) as page:  # an operator looks at one crop 30 times
        for _ in range(30):
            assert page.request.get(f"/api/media/{crop}").status == 200
    views = [r for r in live.store.governance.audit.list(action="media.view", actor="operator-1", limit=10_000)
             if r.object_id == crop]  # fmt: skip
    assert len(views) == 30
    total = live.store.governance.audit.count()

    with signed_in(browser, live, live.users["auditor"], DESKTOP) as page:
        page.goto("/audit")
        seqs = [int(t) for t in page.locator("[data-testid=audit-log] tbody tr td:first-child").all_inner_texts()]
        assert seqs == sorted(seqs, reverse=True) and seqs[0] >= total - 5  # newest first, from the top
        actions = page.locator("[data-testid=audit-log] tbody tr td:nth-child(4)").all_inner_texts()
        assert "media.view" not in actions  # routine views are counted, not listed
        groups = page.locator("[data-testid=routine-group]").all_inner_texts()
        mine = [g for g in groups if "operator-1" in g and "media.view" in g and "Car park" in g]
        assert mine and max(int(g.split("\t")[4]) for g in mine) >= 30, groups
        page.screenshot(path=str(shots / "audit-grouped.png"), full_page=True)

        page.fill("[data-testid=audit-filters] input[name=actor]", "supervisor-1")
        page.click("[data-testid=audit-filters] button")
        who = set(page.locator("[data-testid=audit-log] tbody tr td:nth-child(3)").all_inner_texts())
        assert who == {"supervisor-1"}, who
        later = (utcnow() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
        page.goto(f"/audit?since={later}")
        assert "No records match" in page.inner_text("main")
        page.goto("/audit?routine=each&actor=operator-1&action=media.view")
        assert page.locator("[data-testid=audit-log] tbody tr").count() >= 30

        page.goto("/audit?actor=operator-1")
        with page.expect_download() as info:
            page.click("[data-testid=audit-csv]")
        rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text())))
    assert rows[0][:4] == ["seq", "at", "actor", "action"]
    body = rows[1:]
    assert body and {r[2] for r in body} == {"operator-1"}
    assert sum(1 for r in body if r[3] == "media.view" and r[5] == crop) == 30  # the CSV has every record
    assert [int(r[0]) for r in body] == sorted((int(r[0]) for r in body), reverse=True)
    (export,) = live.store.governance.audit.list(action="audit.export", actor="auditor-1")
    assert export.detail["actor_filter"] == "operator-1" and export.detail["results"] == len(body)
    from vigil.governance.witness import verify_store

    assert verify_store(live.store).ok  # grouping is presentation: the chain is as written


PHONE = {"width": 390, "height": 844}
ROLES = ("viewer", "operator", "supervisor", "auditor", "admin")


def _pages(live: Live) -> dict[str, str]:
    """Every page, with the ids a detail page needs taken from what the earlier tests stored."""
    case = live.store.governance.cases.list(limit=1)
    cand = live.store.candidates.list(status=None, kind="plate", limit=1)
    snap = next(
        t.snapshot for t in live.store.tracks.list(camera_id="cam-b", limit=50, newest_first=True) if t.snapshot
    )
    pages = {
        "overview": "/",
        "live": "/live",
        "live-camera": "/live/cam-c",
        "review": "/review",
        "review-plate": f"/review?id={cand[0].candidate_id}&status={cand[0].status}" if cand else "/review",
        "events": "/events?reason=incident+2291+review",
        "media-view": f"/media/view?path={snap}",
        "timeline": "/subjects/astro?reason=incident+2291+movements",
        "plates": "/plates?plate=AB12CDE&reason=stolen+vehicle+SV-8812",
        "crowd": "/crowd?camera_id=cam-c",
        "lists": "/lists",
        "cases": "/cases",
        "calibration": "/calibration",
        "transparency": "/transparency",
        "audit": "/audit",
        "policies": "/policies",
        "users": "/users",
    }
    if case:
        pages["case"] = f"/cases/{case[0].case_id}"
    return pages


def test_every_page_fits_a_phone_for_every_role_with_screenshots(browser: Any, live: Live, shots: Path) -> None:
    """At 390x844 no page scrolls sideways (a wide table becomes cards or scrolls in its box),
    for each role on every page it may open; each page is screenshotted at 1440x900 and 390x844."""
    pages = _pages(live)
    wide: dict[str, int] = {}
    opened: dict[str, set[str]] = {}
    desktop_done: set[str] = set()
    for role in ROLES:
        user = live.users[role]
        with signed_in(browser, live, user, PHONE) as page:
            for name, path in pages.items():
                response = page.goto(path)
                assert response is not None
                if response.status == 403:
                    continue  # not this role's page (the role tests check who may open what)
                assert response.status == 200, (role, name, response.status)
                page.wait_for_load_state("load")
                width = int(page.evaluate("() => document.documentElement.scrollWidth"))
                if width > PHONE["width"]:
                    wide[f"{role}:{name}"] = width
                opened.setdefault(name, set()).add(role)
                page.screenshot(path=str(shots / f"phone-{role}-{name}.png"), full_page=True)
        todo = [n for n in opened if role in opened[n] and n not in desktop_done]
        if todo:
            with signed_in(browser, live, user, DESKTOP) as page:
                for name in todo:
                    page.goto(pages[name])
                    page.wait_for_load_state("load")
                    page.screenshot(path=str(shots / f"desktop-{name}.png"), full_page=True)
                    desktop_done.add(name)
    assert wide == {}, f"pages wider than a {PHONE['width']} px phone: {wide}"
    assert set(opened) == set(pages), set(pages) - set(opened)  # every page was walked by some role
    assert opened["audit"] == {"auditor", "admin"} and "viewer" in opened["overview"]


def test_overview_counts_update_in_place_and_the_plan_marks_raised_crowd_alerts(browser: Any, live: Live) -> None:
    from vigil.core.clock import utcnow
    from vigil.events import CandidateRaised

    with signed_in(browser, live, live.users["operator"], DESKTOP) as page:
        page.evaluate("() => { window.__notReloaded = true; }")
        # The seeded over-capacity alert at the Concourse was raised and never cleared.
        assert page.text_content("[data-testid=plan-crowd-cam-c]") == "1"
        assert "over capacity · zone north (41 / 40)" in page.inner_text("[data-testid=crowd-open-cam-c]")
        assert "crowd alert raised" in str(page.text_content("[data-testid=plan-cam-c] title"))
        page.wait_for_timeout(1500)  # the first summary
        day = int(page.inner_text("[data-testid=day-cam-a]"))
        raised = CandidateRaised(camera_id="cam-a", occurred_at=utcnow(), kind="face", list_entry_id="astro",
                                 track_id="cam-a-day-1", score=0.52, threshold=0.403)  # fmt: skip
        live.store.events.add_many([raised])
        page.wait_for_function(f"() => document.querySelector('[data-testid=day-cam-a]').textContent == '{day + 1}'",
                               timeout=5000)  # fmt: skip
        assert page.evaluate("() => window.__notReloaded === true")
        page.goto("/crowd?camera_id=cam-c")  # the heatmap over the camera's still; y ticks never repeat
        assert page.get_attribute("[data-testid=heatmap-frame]", "href") == "/cameras/cam-c/latest"
        for chart in page.locator("[data-testid^=zone-] svg").all():
            ticks = chart.locator("text.tick[text-anchor=end]").all_text_contents()
            numbers = [t for t in ticks if t.isdigit()]
            assert len(numbers) == len(set(numbers)) >= 2, ticks
    live.store.candidates.decide(raised.event_id, actor="operator-1", decision="reject", reason="test entry",
                                 required_confirmations=2)  # fmt: skip
