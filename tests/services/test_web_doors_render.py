"""The web pages that are doors onto the search and oversight services render their results
(the browser tests need Chromium; these run everywhere)."""

from __future__ import annotations

from api_support import Env
from doors import sign_in


def test_search_and_oversight_pages_render_service_results(env: Env) -> None:
    sup = sign_in(env, "supervisor-a")
    events = sup.get("/events?camera_id=cam-a&reason=incident+2291")
    assert events.status_code == 200 and env.seeded["cam-a"].track in events.text
    assert env.seeded["cam-b"].track not in events.text
    plates = sup.get("/plates?plate=ABC1234&reason=stolen+vehicle+8812")
    assert plates.status_code == 200 and "cam-a" in plates.text and "ABC1234" in plates.text
    timeline = sup.get("/subjects/subject-1?reason=incident+2291")
    assert timeline.status_code == 200 and env.seeded["cam-a"].candidate in timeline.text
    calibration = sup.get("/calibration")
    assert calibration.status_code == 200, calibration.text
    assert "/api/faces/calibrations/cal-1/figures/roc.png" in calibration.text
    auditor = sign_in(env, "auditor-a", landing="/")
    log = auditor.get("/audit?action=events.search")
    assert log.status_code == 200 and "incident 2291" in log.text
    assert "intact" in auditor.get("/audit?verify=1").text.lower()
    assert auditor.get("/transparency").status_code == 200
    actions = [r.action for r in env.store.governance.audit.list(limit=1000)]
    recorded_actions = ("events.search", "plates.search", "subject.timeline", "calibration.list", "audit.read")
    for recorded in (*recorded_actions, "report.view"):
        assert recorded in actions
