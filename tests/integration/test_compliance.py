"""Patch compliance through the API on SQLite and PostgreSQL (CMP-01..CMP-19)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from test_agent_api import scan_body

from patchfleet.server.db.compliance_rows import ComplianceResultRow, ComplianceRunRow
from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.db.queries import compliance as compliance_rows
from patchfleet.server.scheduler.tick import tick

DEMO = "apt:demo-tool@1.0-2"
LIB = "apt:demo-lib@1.1-1"
SSL = "apt:openssl@3.0.15-2"
DEMO_UPDATE = {
    "name": "demo-tool",
    "installed_version": "1.0-1",
    "candidate_version": "1.0-2",
    "arch": "all",
    "classification": "security",
    "severity": "high",
}
LIB_UPDATE = {
    "name": "demo-lib",
    "installed_version": "1.0-1",
    "candidate_version": "1.1-1",
    "arch": "all",
    "classification": "bugfix",
}
SSL_UPDATE = {
    "name": "openssl",
    "installed_version": "3.0.15-1",
    "candidate_version": "3.0.15-2",
    "arch": "amd64",
    "classification": "bugfix",
}
DAILY_0600_NY = {
    "frequency": "daily",
    "time_of_day": "06:00",
    "timezone": "America/New_York",
}
ON_DEMAND = {"frequency": "on_demand"}


def scan(api, clock, cred, updates, **extra):
    r = api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=updates, **extra), headers=cred
    )
    assert r.status_code == 204, r.text


@pytest.fixture
def fleet(api, clock):
    """web-1 misses demo-tool and demo-lib, web-2 demo-lib and openssl, web-3 was
    never scanned, win-1 is Windows (missing demo-tool too)."""
    hosts = {}
    for name, updates in (
        ("web-1", [DEMO_UPDATE, LIB_UPDATE]),
        ("web-2", [LIB_UPDATE, SSL_UPDATE]),
        ("web-3", None),
        ("win-1", [DEMO_UPDATE]),
    ):
        family = "windows" if name.startswith("win") else "debian"
        device_id, cred = api.enroll(api.enrollment_token, name, os_family=family)
        if updates is not None:
            scan(api, clock, cred, updates)
        hosts[name] = (device_id, cred)
    return hosts


def params(client_id):
    return {"client_id": client_id} if client_id else {}


def create(api, client_id=None, expect=201, headers=None, **body):
    body.setdefault("name", "Demo fixed")
    body.setdefault("os_type", "linux")
    body.setdefault("schedule", ON_DEMAND)
    if "patch_query" not in body:
        body.setdefault("selected_patches", [DEMO])
    if "static_devices" not in body:
        body.setdefault("device_query", "hostname = *")
    r = api.http.post(
        "/api/v1/compliance",
        json=body,
        params=params(client_id),
        headers=headers or api.admin,
    )
    assert r.status_code == expect, r.text
    return r.json()


def get(api, path, client_id=None, headers=None, expect=200, **query):
    r = api.http.get(
        f"/api/v1/compliance{path}",
        params={**params(client_id), **query},
        headers=headers or api.admin,
    )
    assert r.status_code == expect, r.text
    return r.json()


def post(api, path, body=None, client_id=None, headers=None):
    return api.http.post(
        f"/api/v1/compliance{path}",
        json=body,
        params=params(client_id),
        headers=headers or api.admin,
    )


def statuses(api, config_id, client_id=None):
    return {
        d["hostname"]: (d["status"], d["missing"])
        for d in get(api, f"/{config_id}/devices", client_id)
    }


def error(response):
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    return detail["loc"], detail["msg"]


def test_statuses_follow_the_latest_scan(api, fleet, clock):
    config = create(api, api.client_id)
    assert statuses(api, config["id"]) == {
        "web-1": ("non_compliant", [DEMO]),
        "web-2": ("compliant", []),
        "web-3": ("unknown", []),  # never scanned (CMP-13); win-1 is Windows (CMP-05)
    }
    counts = get(api, f"/{config['id']}")["counts"]
    assert counts == {
        "compliant": 1,
        "non_compliant": 1,
        "unknown": 1,
        "devices": 3,
        "percent": 33.3,
    }
    clock.advance(minutes=5)
    scan(api, clock, fleet["web-1"][1], [LIB_UPDATE])  # demo-tool installed (CMP-19)
    scan(api, clock, fleet["web-3"][1], [], status="failed", error="apt broke")
    assert statuses(api, config["id"]) == {
        "web-1": ("compliant", []),
        "web-2": ("compliant", []),
        "web-3": ("unknown", []),  # a failed scan says nothing about patches
    }


def test_windows_compliance_checks_windows_devices_only(api, fleet):
    config = create(api, api.client_id, os_type="windows", name="Windows")
    assert statuses(api, config["id"]) == {"win-1": ("non_compliant", [DEMO])}


def test_dynamic_selection_and_the_blocklist(api, fleet):
    config = create(
        api, api.client_id, patch_selection="dynamic", patch_query="category = security"
    )
    assert statuses(api, config["id"])["web-1"] == ("non_compliant", [DEMO])
    assert get(api, f"/{config['id']}/patches") == [
        {
            "patch_id": DEMO,
            "backend": "apt",
            "name": "demo-tool",
            "version": "1.0-2",
            "devices_missing": 1,
        }
    ]
    r = api.http.post(
        "/api/v1/patches/rate",
        json={"patch_ids": [DEMO], "rating": "blocklisted"},
        headers=api.admin,
    )
    assert r.status_code == 204
    assert statuses(api, config["id"])["web-1"] == ("compliant", [])
    assert get(api, f"/{config['id']}/patches") == []


def test_patches_tab_lists_every_hand_picked_patch(api, fleet):
    config = create(api, api.client_id, selected_patches=[DEMO, LIB, SSL])
    found = {
        p["patch_id"]: p["devices_missing"]
        for p in get(api, f"/{config['id']}/patches")
    }
    assert found == {LIB: 2, DEMO: 1, SSL: 1}


def test_scope_matrix(api, fleet):
    acme = api.client_id
    globex, token = api.new_client("Globex")
    g1, _ = api.enroll(token, "g-1")
    web1 = fleet["web-1"][0]
    # Partner level: query only, All or Select Clients (CMP-12).
    r = post(
        api,
        "",
        {
            "name": "P",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "static_devices": [web1],
            "selected_patches": [DEMO],
        },
    )
    assert error(r)[0] == ["body", "static_devices"]
    r = post(
        api,
        "",
        {
            "name": "P",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "device_query": "hostname = *",
            "clients": [999_999],
            "selected_patches": [DEMO],
        },
    )
    assert error(r)[0] == ["body", "clients"]
    partner = create(api, name="Globex only", clients=[globex])
    assert (partner["level"], partner["clients"]) == ("partner", [globex])
    assert statuses(api, partner["id"]) == {"g-1": ("unknown", [])}
    everyone = create(api, name="Everyone")
    assert sorted(statuses(api, everyone["id"])) == ["g-1", "web-1", "web-2", "web-3"]
    # Client level: static or query, never Select Clients (CMP-16).
    r = post(
        api,
        "",
        {
            "name": "C",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "device_query": "hostname = *",
            "clients": [acme],
            "selected_patches": [DEMO],
        },
        client_id=acme,
    )
    assert error(r)[0] == ["body", "clients"]
    r = post(
        api,
        "",
        {
            "name": "C",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "static_devices": [g1],
            "selected_patches": [DEMO],
        },
        client_id=acme,
    )
    assert error(r) == (
        ["body", "static_devices"],
        f"device {g1} is not in this client",
    )
    static = create(api, acme, name="Pinned", static_devices=[web1])
    assert statuses(api, static["id"]) == {"web-1": ("non_compliant", [DEMO])}
    # Visibility: partner objects at All Clients only; clients see their own.
    assert {c["name"] for c in get(api, "")} == {"Globex only", "Everyone", "Pinned"}
    assert [c["name"] for c in get(api, "", acme)] == ["Pinned"]
    assert get(api, "", globex) == []
    get(api, f"/{partner['id']}", acme, expect=404)
    get(api, f"/{static['id']}", globex, expect=404)
    assert post(api, f"/{static['id']}/run", client_id=globex).status_code == 404


def test_client_user_is_pinned_and_viewers_may_not_change(api, fleet):
    globex, _ = api.new_client("Globex")
    acme_config = create(api, api.client_id)
    for username, role, client in (
        ("g-op", "operator", globex),
        ("viewer", "viewer", None),
    ):
        r = api.http.post(
            "/api/v1/users",
            json={
                "username": username,
                "password": "long-password-1",
                "role": role,
                "client_id": client,
            },
            headers=api.admin,
        )
        assert r.status_code == 201, r.text
    operator = api.login("g-op", "long-password-1")
    assert get(api, "", headers=operator) == []
    get(api, f"/{acme_config['id']}", headers=operator, expect=404)
    mine = create(api, headers=operator, name="Globex check")
    assert mine["client_id"] == globex
    viewer = api.login("viewer", "long-password-1")
    assert len(get(api, "", headers=viewer)) == 2
    assert post(api, "", {"name": "x"}, headers=viewer).status_code == 422  # body first
    create(api, headers=viewer, name="Not allowed", expect=403)
    assert post(api, f"/{acme_config['id']}/run", headers=viewer).status_code == 403


def test_limits(api, fleet):
    r = post(
        api,
        "",
        {
            "name": "Many",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "static_devices": [str(uuid.uuid4()) for _ in range(101)],
            "selected_patches": [DEMO],
        },
        client_id=api.client_id,
    )
    assert error(r) == (["body", "static_devices"], "Device ids must not exceed 100")
    hundred = [f"apt:pkg{i}@1.0-1" for i in range(100)]
    r = post(
        api,
        "",
        {
            "name": "Many",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "device_query": "hostname = *",
            "selected_patches": [*hundred, DEMO],
        },
        client_id=api.client_id,
    )
    assert error(r) == (
        ["body", "selected_patches"],
        "Selection must not exceed 100 patches",
    )
    create(api, api.client_id, name="Hundred", selected_patches=hundred)
    ids = [str(uuid.uuid4()) for _ in range(101)]
    for action in ("/run", "/remove"):
        loc, msg = error(post(api, action, {"ids": ids}))
        assert (loc, "at most 100" in msg) == (["body", "ids"], True)


@pytest.mark.parametrize(
    "field", ["reboot", "notify", "notifications", "maintenance_window"]
)
def test_install_options_are_refused(api, field):
    r = post(
        api,
        "",
        {
            "name": "x",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "device_query": "hostname = *",
            "selected_patches": [DEMO],
            field: "yes",
        },
    )
    loc, msg = error(r)
    assert loc == ["body", field]
    assert "never install" in msg
    assert f"'{field}' does not apply" in msg
    schema = api.http.get("/openapi.json").json()["components"]["schemas"]
    assert field not in schema["ComplianceIn"]["properties"]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        pytest.param({"name": ""}, ["body", "name"], id="name-required"),
        pytest.param({"os_type": "beos"}, ["body", "os_type"], id="os-type"),
        pytest.param(
            {"patch_selection": "approved"},
            ["body", "patch_selection"],
            id="no-approved",
        ),
        pytest.param(
            {
                "schedule": {
                    "frequency": "yearly",
                    "start_date": "2026-12-01",
                    "months": [1],
                }
            },
            ["body", "schedule"],
            id="no-yearly",
        ),
        pytest.param(
            {"device_query": "hostnme = x"}, ["body", "device_query"], id="query"
        ),
        pytest.param(
            {"selected_patches": []}, ["body", "selected_patches"], id="no-patches"
        ),
        pytest.param(
            {"selected_patches": ["nonsense"]},
            ["body", "selected_patches"],
            id="bad-id",
        ),
        pytest.param(
            {
                "patch_selection": "dynamic",
                "selected_patches": [],
                "patch_query": "nme = x",
            },
            ["body", "patch_query"],
            id="patch-query",
        ),
    ],
)
def test_invalid_bodies_point_at_the_field(api, change, loc):
    body = {
        "name": "x",
        "os_type": "linux",
        "schedule": ON_DEMAND,
        "device_query": "hostname = *",
        "selected_patches": [DEMO],
        **change,
    }
    r = post(api, "", body, client_id=api.client_id)
    assert r.status_code == 422, r.text
    assert loc in [d["loc"] for d in r.json()["detail"]]


def test_scheduled_run_through_tick_records_history_and_approves(api, fleet, clock):
    config = create(
        api,
        api.client_id,
        name="Daily",
        schedule=DAILY_0600_NY,
        device_query="hostname = web-*",
        approve_missing=True,
    )
    assert config["next_run_at"] == "2026-11-28T11:00:00Z"  # 06:00 EST
    sessions = api.http.app.state.sessionmaker
    clock.now = datetime(2026, 11, 28, 10, 59, tzinfo=UTC)
    assert tick(sessions, clock())["compliance_runs"] == 0
    clock.now = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert tick(sessions, clock())["compliance_runs"] == 1
    assert tick(sessions, clock())["compliance_runs"] == 0  # once per instant
    again = get(api, f"/{config['id']}")
    assert (again["last_run_at"], again["next_run_at"]) == (
        "2026-11-28T11:00:00Z",
        "2026-11-29T11:00:00Z",
    )
    (run,) = get(api, f"/{config['id']}/runs")
    assert {
        k: run[k]
        for k in (
            "trigger",
            "is_partial",
            "compliant",
            "non_compliant",
            "unknown",
            "approved",
            "percent",
        )
    } == {
        "trigger": "schedule",
        "is_partial": False,
        "compliant": 1,
        "non_compliant": 1,
        "unknown": 1,
        "approved": 1,
        "percent": 33.3,
    }
    detail = get(api, f"/{config['id']}/runs/{run['id']}")
    assert [(r["hostname"], r["status"], r["missing"]) for r in detail["results"]] == [
        ("web-1", "non_compliant", [DEMO]),
        ("web-2", "compliant", []),
        ("web-3", "unknown", []),
    ]
    log = api.http.get(
        "/api/v1/activity", params={"object_type": "Compliance"}, headers=api.admin
    ).json()["items"]
    assert [(e["action"], e["actor"]) for e in log] == [
        ("run (schedule)", "patchfleet"),
        ("approve", "patchfleet"),
        ("create", "admin"),
    ]


def test_approval_toggle_approves_missing_selected_patches_once(api, fleet):
    acme = api.client_id
    for path, body in (
        ("/api/v1/patches/rate", {"patch_ids": [LIB], "rating": "blocklisted"}),
        ("/api/v1/patches/unapprove", {"patch_ids": [SSL]}),
    ):
        assert (
            api.http.post(
                path, json=body, params={"client_id": acme}, headers=api.admin
            ).status_code
            == 204
        )
    config = create(api, acme, selected_patches=[DEMO, LIB, SSL], approve_missing=True)
    first = post(api, f"/{config['id']}/run", client_id=acme)
    assert first.status_code == 202, first.text
    assert first.json()["approved"] == 1  # blocklisted and hand-decided patches kept
    listing = api.http.get(
        "/api/v1/missing-patches/by-patch",
        params={"client_id": acme},
        headers=api.admin,
    ).json()["items"]
    assert {p["patch_id"]: p["approval"] for p in listing} == {
        DEMO: "approved",
        LIB: "rejected",
        SSL: "not_approved",
    }
    assert post(api, f"/{config['id']}/run", client_id=acme).json()["approved"] == 0
    without = create(api, acme, name="No toggle", selected_patches=[LIB])
    assert post(api, f"/{without['id']}/run").json()["approved"] == 0


def test_run_now_for_chosen_devices_is_partial(api, fleet, clock):
    config = create(api, api.client_id)
    full = post(api, f"/{config['id']}/run")
    assert (full.status_code, full.json()["percent"]) == (202, 33.3)
    clock.advance(minutes=1)
    web1 = fleet["web-1"][0]
    part = post(api, f"/{config['id']}/run", {"device_ids": [web1]}).json()
    assert (part["is_partial"], part["compliant"], part["non_compliant"]) == (
        True,
        0,
        1,
    )
    loc, msg = error(
        post(api, f"/{config['id']}/run", {"device_ids": [fleet["win-1"][0]]})
    )
    assert msg.startswith("not checked by this compliance configuration")
    assert loc == ["body", "device_ids"]
    assert [r["is_partial"] for r in get(api, f"/{config['id']}/runs")] == [True, False]
    (today,) = get(api, "/trend", days=1)
    assert today["percent"] == 33.3  # the partial run is left out
    many = post(api, "/run", {"ids": [config["id"], create(api, name="Other")["id"]]})
    assert many.status_code == 202
    assert len(many.json()["runs"]) == 2


def test_summary_non_compliant_devices_and_trend(api, fleet, clock):
    acme = api.client_id
    a = create(api, acme, name="A demo", device_query="hostname = web-*")
    b = create(
        api, acme, name="B lib", selected_patches=[LIB], device_query="hostname = web-*"
    )
    create(api, acme, name="C disabled", selected_patches=[SSL], enabled=False)
    summary = get(api, "/summary")
    assert [
        (i["name"], i["compliant"], i["non_compliant"], i["unknown"], i["percent"])
        for i in summary["items"]
    ] == [("A demo", 1, 1, 1, 33.3), ("B lib", 0, 2, 1, 0.0)]
    devices = get(api, "/non-compliant-devices")
    assert [(d["hostname"], d["configurations"], d["missing"]) for d in devices] == [
        ("web-1", ["A demo", "B lib"], [LIB, DEMO]),
        ("web-2", ["B lib"], [LIB]),
    ]
    assert summary["non_compliant_devices"] == len(devices) == 2  # CMP-18
    globex, _ = api.new_client("Globex")
    assert get(api, "/summary", globex) == {"items": [], "non_compliant_devices": 0}
    assert get(api, "/non-compliant-devices", globex) == []

    for config in (a, b):
        post(api, f"/{config['id']}/run")
    clock.advance(days=1)
    scan(api, clock, fleet["web-1"][1], [])
    for config in (a, b):
        post(api, f"/{config['id']}/run")
    trend = get(api, "/trend", days=3)
    assert [(p["day"], p["percent"]) for p in trend] == [
        ("2026-11-26", None),
        ("2026-11-27", 16.7),
        ("2026-11-28", 50.0),
    ]
    assert get(api, "/trend", globex, days=2)[-1]["percent"] is None
    assert (
        api.http.get(
            "/api/v1/compliance/trend", params={"days": 0}, headers=api.admin
        ).status_code
        == 422
    )


def test_edit_and_remove(api, fleet):
    acme = api.client_id
    config = create(api, acme, name="Edit me")
    other = create(api, acme, name="Taken")
    path = f"/api/v1/compliance/{config['id']}"
    r = api.http.patch(
        path, json={"name": "Renamed", "schedule": DAILY_0600_NY}, headers=api.admin
    )
    assert r.status_code == 200, r.text
    assert (
        r.json()["name"],
        r.json()["selected_patches"],
        r.json()["next_run_at"],
    ) == ("Renamed", [DEMO], "2026-11-28T11:00:00Z")
    assert error(api.http.patch(path, json={"reboot": "yes"}, headers=api.admin))[
        0
    ] == ["body", "reboot"]
    assert error(api.http.patch(path, json={"name": None}, headers=api.admin))[0] == [
        "body",
        "name",
    ]
    assert (
        api.http.patch(path, json={"name": "Taken"}, headers=api.admin).status_code
        == 409
    )
    create(api, acme, name="Taken", expect=409)
    r = api.http.put(
        path,
        json={
            "name": "Replaced",
            "os_type": "linux",
            "schedule": ON_DEMAND,
            "device_query": "hostname = web-2",
            "patch_selection": "dynamic",
            "patch_query": "category = bugfix",
        },
        headers=api.admin,
    )
    assert r.status_code == 200, r.text
    assert (
        r.json()["selected_patches"],
        r.json()["next_run_at"],
        r.json()["updated_at"],
    ) == ([], None, "2026-11-27T12:00:00Z")
    assert statuses(api, config["id"]) == {"web-2": ("non_compliant", [LIB, SSL])}
    assert api.http.delete(path, headers=api.admin).status_code == 204
    assert api.http.get(path, headers=api.admin).status_code == 404
    assert post(api, "/remove", {"ids": [other["id"]]}).status_code == 204
    assert get(api, "") == []
    log = api.http.get(
        "/api/v1/activity", params={"object_type": "Compliance"}, headers=api.admin
    ).json()["items"]
    assert [e["action"] for e in log] == [
        "delete",
        "delete",
        "update",
        "update",
        "create",
        "create",
    ]


def test_history_is_bounded(api, fleet, clock, engine):
    config = create(api, api.client_id)
    for _ in range(3):
        post(api, f"/{config['id']}/run")
    clock.advance(days=401)
    post(api, f"/{config['id']}/run")
    assert len(get(api, f"/{config['id']}/runs")) == 1  # older than 400 days: gone

    for _ in range(4):
        clock.advance(minutes=1)
        post(api, f"/{config['id']}/run")
    sessions = make_sessionmaker(engine)
    with sessions() as session, session.begin():
        row = compliance_rows.by_uuid(
            session, partner_id=1, config_uuid=uuid.UUID(config["id"])
        )
        assert row is not None
        compliance_rows.prune(
            session,
            row.id,
            keep_runs=3,
            keep_results=2,
            before=clock() - timedelta(days=400),
        )
    with sessions() as session:
        runs = session.scalars(
            select(ComplianceRunRow).order_by(ComplianceRunRow.started_at.desc())
        ).all()
        with_results = session.scalar(
            select(func.count(ComplianceResultRow.run_id.distinct()))
        )
    assert len(runs) == 3
    assert with_results == 2
    newest = get(api, f"/{config['id']}/runs/{runs[0].id}")["results"]
    oldest = get(api, f"/{config['id']}/runs/{runs[-1].id}")
    assert len(newest) == 3
    assert oldest["results"] == []  # counts stay, details go
    assert oldest["compliant"] == 1


def test_logs_and_openapi(api, fleet):
    config = create(api, api.client_id)
    paths = api.http.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/compliance",
        "/api/v1/compliance/summary",
        "/api/v1/compliance/non-compliant-devices",
        "/api/v1/compliance/trend",
        "/api/v1/compliance/{config_id}",
        "/api/v1/compliance/{config_id}/run",
        "/api/v1/compliance/{config_id}/devices",
        "/api/v1/compliance/{config_id}/patches",
        "/api/v1/compliance/{config_id}/runs",
    } <= set(paths)
    assert set(paths["/api/v1/compliance/{config_id}"]) == {
        "get",
        "put",
        "patch",
        "delete",
    }
    assert get(api, "", search="demo")[0]["id"] == config["id"]
    assert get(api, "", search="nothing like it") == []
    r = api.http.get("/api/v1/compliance", params={"colour": "red"}, headers=api.admin)
    assert r.status_code == 422


def test_approve_action_without_the_toggle(api, fleet):
    acme = api.client_id
    config = create(api, acme, selected_patches=[DEMO, LIB])
    assert post(api, f"/{config['id']}/run").json()["approved"] == 0
    listing = api.http.get(
        "/api/v1/missing-patches/by-patch",
        params={"client_id": acme},
        headers=api.admin,
    ).json()["items"]
    assert {p["patch_id"]: p["approval"] for p in listing}[DEMO] == "not_approved"
    first = post(api, f"/{config['id']}/approve", client_id=acme)
    assert (first.status_code, first.json()) == (200, {"approved": 2})
    assert post(api, f"/{config['id']}/approve").json() == {"approved": 0}
    listing = api.http.get(
        "/api/v1/missing-patches/by-patch",
        params={"client_id": acme},
        headers=api.admin,
    ).json()["items"]
    approvals = {p["patch_id"]: p["approval"] for p in listing}
    assert (approvals[DEMO], approvals[LIB]) == ("approved", "approved")
