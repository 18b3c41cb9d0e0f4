"""Remediation SLAs through the real API, on SQLite and PostgreSQL (BP-08).

Policies inherit from the partner default; open items follow the injected clock; time
to patch is recorded from agent job reports and survives the rescan that deletes the
missing-patch row; figures (mean, median, share within SLA) are checked on known
values; every view is scoped to the caller's clients.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_agent_api import scan_body
from test_install_jobs import report
from test_vulns import GLIBC_FIXED, GLIBC_OLD, _seed_ubuntu_device

from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.feeds.load import FeedKind, import_file
from patchfleet.server.services import vulns
from support.clock import START

DEFAULTS = {
    "kev_days": 7,
    "critical_days": 7,
    "high_days": 30,
    "medium_days": 90,
    "low_days": 180,
}
DEMO = "apt:demo-tool@1.0-2"
TOOL = {"name": "demo-tool", "version": "1.0-2", "arch": "all"}
MISSING_TOOL = {
    "name": "demo-tool",
    "installed_version": "1.0-1",
    "candidate_version": "1.0-2",
    "arch": "all",
    "classification": "bugfix",
}
LIBC = f"apt:libc6@{GLIBC_FIXED}"
STATUSES = ("within", "due-soon", "overdue", "met", "missed")


def at(**delta: float) -> str:
    """START + delta as the API writes it."""
    return (START + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def get(api, path, headers=None, **params):
    r = api.http.get(path, params=params, headers=headers or api.admin)
    assert r.status_code == 200, r.text
    return r.json()


def put_policy(api, body, headers=None, **params):
    return api.http.put(
        "/api/v1/sla/policy", json=body, params=params, headers=headers or api.admin
    )


def items(api, headers=None, **params):
    return get(api, "/api/v1/sla/items", headers, **params)


def summary(api, headers=None, **params):
    return get(api, "/api/v1/sla/summary", headers, **params)


def enroll_missing_tool(api, token, hostname, clock):
    device_id, cred = api.enroll(token, hostname)
    r = api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=[MISSING_TOOL]), headers=cred
    )
    assert r.status_code == 204, r.text
    return device_id, cred


def rescan_clean(api, cred, clock):
    """The agent's scan after the install: nothing missing any more."""
    r = api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=[]), headers=cred
    )
    assert r.status_code == 204, r.text


def install_tool(api, device_id):
    r = api.http.post(
        "/api/v1/install-now",
        json={"device_ids": [device_id], "patch_ids": [DEMO]},
        headers=api.admin,
    )
    assert r.status_code == 202, r.text
    [job] = r.json()["jobs"]
    return job


def run_job(api, cred, job, clock, outcome="installed"):
    """The agent's reports: installing first, then the outcome in the final one."""
    report(api, cred, job, clock, [{**TOOL, "status": "installing"}])
    return report(api, cred, job, clock, [{**TOOL, "status": outcome}], final=True)


def assert_tiles_equal_lists(api, headers=None, **params):
    totals = summary(api, headers, **params)["totals"]
    for status in STATUSES:
        listed = items(api, headers, status=status, **params)
        assert listed["total"] == totals[status.replace("-", "_")], status
        assert {i["status"] for i in listed["items"]} <= {status}
    assert items(api, headers, status="open", **params)["total"] == totals["open"]
    assert (
        items(api, headers, status="closed", **params)["total"]
        == (totals["remediated"])
    )
    return totals


# -------------------------------------------------------------------------- policies


def test_client_policies_inherit_the_partner_default(api):
    partner = get(api, "/api/v1/sla/policy")
    assert (partner["client_id"], partner["source"]) == (None, "default")
    assert partner["effective"] == DEFAULTS
    assert partner["own"] is None

    mine = get(api, "/api/v1/sla/policy", client_id=api.client_id)
    assert (mine["use_parent_level"], mine["source"]) == (True, "default")

    stricter = {**DEFAULTS, "critical_days": 3, "high_days": 14}
    r = put_policy(api, stricter)
    assert r.status_code == 200, r.text
    assert (r.json()["source"], r.json()["effective"]) == ("partner", stricter)
    mine = get(api, "/api/v1/sla/policy", client_id=api.client_id)
    assert (mine["source"], mine["effective"], mine["own"]) == (
        "partner",
        stricter,
        None,
    )
    assert mine["inherited"] == stricter

    own = {**DEFAULTS, "critical_days": 1, "kev_days": 2}
    r = put_policy(api, {"use_parent_level": False, **own}, client_id=api.client_id)
    assert r.status_code == 200, r.text
    assert (r.json()["source"], r.json()["effective"]) == ("client", own)
    assert get(api, "/api/v1/sla/policy")["effective"] == stricter  # partner unchanged

    # Use Parent Level again: the partner's values apply, the client's are kept.
    r = put_policy(api, {"use_parent_level": True}, client_id=api.client_id)
    assert r.status_code == 200, r.text
    back = r.json()
    assert (back["use_parent_level"], back["source"]) == (True, "partner")
    assert (back["effective"], back["own"]) == (stricter, own)
    r = put_policy(api, {"use_parent_level": False, **own}, client_id=api.client_id)
    assert r.json()["effective"] == own

    roll_up = summary(api)["clients"]
    assert [(c["client_id"], c["policy_source"]) for c in roll_up] == [
        (api.client_id, "client")
    ]


@pytest.mark.parametrize(
    ("body", "params", "field"),
    [
        pytest.param({**DEFAULTS, "use_parent_level": True}, {}, "use_parent_level",
                     id="parent level at the partner level"),
        pytest.param({"critical_days": 3}, {}, "kev_days", id="some days missing"),
        pytest.param({}, {}, "body", id="no days and no parent level"),
        pytest.param({**DEFAULTS, "high_days": 0}, {}, "high_days", id="zero days"),
        pytest.param({**DEFAULTS, "low_days": 3651}, {}, "low_days", id="too many"),
        pytest.param({**DEFAULTS, "colour": 1}, {}, "colour", id="unknown field"),
    ],
)  # fmt: skip
def test_bad_policies_are_refused_where_they_are_wrong(api, body, params, field):
    r = put_policy(api, body, **params)
    assert r.status_code == 422, r.text
    assert field in str(r.json()["detail"][0]["loc"])
    assert get(api, "/api/v1/sla/policy")["source"] == "default"


def test_only_admins_set_policies_and_client_users_stay_in_their_client(api, clock):
    globex, _token = api.new_client("Globex")
    users = {
        "partner-operator": {"role": "operator"},
        "globex-admin": {"role": "admin", "client_id": globex},
        "globex-viewer": {"role": "viewer", "client_id": globex},
    }
    headers = {}
    for name, extra in users.items():
        r = api.http.post(
            "/api/v1/users",
            json={"username": name, "password": "password-123", **extra},
            headers=api.admin,
        )
        assert r.status_code == 201, r.text
        headers[name] = api.login(name, "password-123")

    assert put_policy(api, DEFAULTS, headers["partner-operator"]).status_code == 403
    assert put_policy(api, DEFAULTS, headers["globex-viewer"]).status_code == 403
    # A client admin sets its own client's policy; it never reaches the partner level.
    r = put_policy(api, {**DEFAULTS, "medium_days": 45}, headers["globex-admin"])
    assert (r.status_code, r.json()["client_id"]) == (200, globex), r.text
    assert get(api, "/api/v1/sla/policy")["source"] == "default"
    r = put_policy(
        api, DEFAULTS, headers["globex-admin"], client_id=api.client_id
    )  # another client: not found, never forbidden
    assert r.status_code == 404
    r = api.http.get(
        "/api/v1/sla/items",
        params={"client_id": api.client_id},
        headers=headers["globex-viewer"],
    )
    assert r.status_code == 404


# ----------------------------------------------------------------- open items (KEV)


def test_kev_items_move_from_within_to_due_soon_to_overdue(
    api, engine, clock, shared_data
):
    """Real OSV and KEV data: CVE-2023-4911 was due 2023-12-12, long before the
    devices were first seen, so its items get kev_days (7) from detection."""
    session = make_sessionmaker(engine)()
    for kind, path in (
        (FeedKind.OSV, "osv/ubuntu/UBUNTU-CVE-2023-4911.json"),
        (FeedKind.KEV, "kev/known_exploited_vulnerabilities.json"),
    ):
        import_file(session, kind, shared_data / path, now=clock())
    _seed_ubuntu_device(api, clock, "u-1", GLIBC_OLD, candidate=GLIBC_FIXED)
    _seed_ubuntu_device(
        api, clock, "u-2", GLIBC_OLD, candidate=GLIBC_FIXED, state="held"
    )
    _seed_ubuntu_device(api, clock, "u-3", GLIBC_OLD)
    vulns.refresh(session, now=clock())

    found = items(api)
    assert found["total"] == 5
    rows = {(i["kind"], i["hostname"]): i for i in found["items"]}
    assert sorted(rows) == [
        ("cve", "u-1"),
        ("cve", "u-2"),
        ("cve", "u-3"),
        ("patch", "u-1"),
        ("patch", "u-2"),
    ]
    patch = rows[("patch", "u-1")]
    assert (patch["key"], patch["band"], patch["kev"], patch["cves"]) == (
        LIBC,
        "critical",
        True,
        ["CVE-2023-4911"],
    )
    assert patch["kev_due_date"] == "2023-12-12"
    assert patch["rule"] == "kev-after-detection"
    assert patch["due_at"] == at(days=7)
    assert patch["days_left"] == 7.0
    assert rows[("cve", "u-3")]["fix_state"] == "fixed-not-installable"
    assert {i["status"] for i in found["items"]} == {"within"}
    assert assert_tiles_equal_lists(api)["within"] == 5

    clock.advance(days=4, seconds=1)  # less than 3 days left
    assert {i["status"] for i in items(api)["items"]} == {"due-soon"}
    assert assert_tiles_equal_lists(api)["due_soon"] == 5

    clock.advance(days=3)  # 7 days and a second after detection
    totals = assert_tiles_equal_lists(api)
    assert (totals["overdue"], totals["open"]) == (5, 5)
    late = items(api, kind="patch", status="overdue")["items"]
    assert [(i["hostname"], i["days_left"]) for i in late] == [
        ("u-1", pytest.approx(-1 / 86400)),
        ("u-2", pytest.approx(-1 / 86400)),
    ]

    # A more lenient client policy moves the open items' deadlines at once.
    r = put_policy(
        api, {**DEFAULTS, "kev_days": 10}, client_id=api.client_id
    )  # 3 days minus a second left
    assert r.status_code == 200, r.text
    assert {i["status"] for i in items(api)["items"]} == {"due-soon"}

    assert items(api, kind="cve", search="U-3")["total"] == 1
    assert items(api, band="high")["total"] == 0
    assert items(api, band="critical", kind="patch")["total"] == 2


# ------------------------------------------------------------- remediation history


def test_time_to_patch_is_recorded_from_job_reports(api, clock):
    """Three installs at known times against a 2-day policy: 1 d and 1.5 d met, 3 d
    missed; a failed install leaves the item open and records nothing."""
    r = put_policy(api, {**DEFAULTS, "low_days": 2})
    assert r.status_code == 200, r.text
    devices = {
        host: enroll_missing_tool(api, api.enrollment_token, host, clock)
        for host in ("a", "b", "c", "d")
    }
    r = api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    assert r.status_code == 204
    # A 2-day window is inside the 3-day "due soon" floor from the start.
    assert {i["status"] for i in items(api)["items"]} == {"due-soon"}
    assert items(api)["items"][0]["due_at"] == at(days=2)

    done = {}
    for host, after, outcome in (
        ("a", {"days": 1}, "installed"),
        ("b", {"hours": 12}, "installed"),
        ("c", {"days": 1, "hours": 12}, "installed"),
        ("d", {}, "failed"),
    ):
        clock.advance(**after)
        device_id, cred = devices[host]
        job = install_tool(api, device_id)
        done[host] = run_job(api, cred, job, clock, outcome)
        if outcome == "installed":
            rescan_clean(api, cred, clock)  # deletes the missing-patch row

    # At-least-once delivery: a repeated final report changes nothing.
    _device, cred_a = devices["a"]
    assert api.http.post("/agent/v1/jobs", json=done["a"], headers=cred_a).is_success

    closed = items(api, status="closed")["items"]
    assert [
        (i["hostname"], i["status"], i["time_to_patch_days"], i["installed_at"])
        for i in closed
    ] == [
        ("a", "met", 1.0, at(days=1)),
        ("b", "met", 1.5, at(days=1.5)),
        ("c", "missed", 3.0, at(days=3)),
    ]
    assert {(i["key"], i["band"], i["fix_state"]) for i in closed} == {
        (DEMO, "none", "installed")
    }
    assert [
        (i["hostname"], i["status"]) for i in items(api, status="open")["items"]
    ] == [("d", "overdue")]
    totals = assert_tiles_equal_lists(api)
    assert (totals["met"], totals["missed"], totals["overdue"]) == (2, 1, 1)
    assert totals["mean_days"] == pytest.approx(5.5 / 3)
    assert totals["median_days"] == 1.5
    assert totals["within_sla_percent"] == pytest.approx(200 / 3)
    [row] = summary(api)["clients"]
    assert (row["met"], row["missed"], row["median_days"]) == (2, 1, 1.5)

    # The window: 90 days by default, counted back from now.
    clock.advance(days=88, hours=12)  # a's install is now 90.5 days ago
    assert [i["hostname"] for i in items(api, status="closed")["items"]] == ["b", "c"]
    assert summary(api)["totals"]["median_days"] == 2.25
    assert items(api, status="met", window_days=365)["total"] == 2
    assert summary(api, window_days=1)["totals"]["within_sla_percent"] is None


def test_a_rescan_before_the_first_report_falls_back_to_the_job_creation(api, clock):
    """After a crash the agent's rescan can reach the server before the job's report;
    the patch was missing at least since the job was created."""
    device_id, cred = enroll_missing_tool(api, api.enrollment_token, "a", clock)
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    clock.advance(days=3)
    job = install_tool(api, device_id)
    clock.advance(hours=6)
    rescan_clean(api, cred, clock)
    report(api, cred, job, clock, [{**TOOL, "status": "installed"}], final=True)
    [item] = items(api, status="closed")["items"]
    assert (item["first_seen_at"], item["installed_at"]) == (
        at(days=3),
        at(days=3, hours=6),
    )
    assert item["time_to_patch_days"] == 0.25


def test_a_policy_change_does_not_rewrite_history(api, clock):
    device_id, cred = enroll_missing_tool(api, api.enrollment_token, "a", clock)
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    clock.advance(days=10)
    run_job(api, cred, install_tool(api, device_id), clock)
    rescan_clean(api, cred, clock)
    assert put_policy(api, {**DEFAULTS, "low_days": 5}).status_code == 200
    [item] = items(api, status="closed")["items"]
    assert (item["status"], item["time_to_patch_days"]) == ("met", 10.0)
    assert item["due_at"] == at(days=180)


# -------------------------------------------------------------------------- scoping


def test_partner_roll_up_and_client_scoping(api, clock):
    globex, globex_token = api.new_client("Globex")
    api.new_client("Initech")  # no devices: a row of zeros
    enroll_missing_tool(api, api.enrollment_token, "acme-1", clock)
    enroll_missing_tool(api, globex_token, "globex-1", clock)
    enroll_missing_tool(api, globex_token, "globex-2", clock)

    everything = summary(api)
    assert everything["client_id"] is None
    assert [(c["client_name"], c["open"]) for c in everything["clients"]] == [
        ("Default Client", 1),
        ("Globex", 2),
        ("Initech", 0),
    ]
    assert everything["totals"]["open"] == 3
    assert items(api)["total"] == 3

    one = summary(api, client_id=globex)
    assert [c["client_id"] for c in one["clients"]] == [globex]
    assert one["totals"]["open"] == 2
    listed = items(api, client_id=globex)
    assert {(i["hostname"], i["client_name"]) for i in listed["items"]} == {
        ("globex-1", "Globex"),
        ("globex-2", "Globex"),
    }
    paged = items(api, page=2, page_size=2)
    assert (paged["total"], len(paged["items"])) == (3, 1)

    r = api.http.post(
        "/api/v1/users",
        json={"username": "g", "password": "password-123", "client_id": globex},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    user = api.login("g", "password-123")
    assert {i["hostname"] for i in items(api, user)["items"]} == {
        "globex-1",
        "globex-2",
    }
    assert [c["client_name"] for c in summary(api, user)["clients"]] == ["Globex"]
    assert get(api, "/api/v1/sla/policy", user)["client_id"] == globex


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/sla/items", {"colour": "red"}, "colour"),
        ("/api/v1/sla/items", {"status": "late"}, "status"),
        ("/api/v1/sla/items", {"window_days": 0}, "window_days"),
        ("/api/v1/sla/summary", {"window_days": 3651}, "window_days"),
        ("/api/v1/sla/summary", {"kind": "firmware"}, "kind"),
    ],
)
def test_bad_queries_are_clear_errors(api, path, params, field):
    r = api.http.get(path, params=params, headers=api.admin)
    assert r.status_code == 422, r.text
    assert field in str(r.json()["detail"])
