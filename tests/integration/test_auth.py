"""No endpoint answers without auth except health and enrollment with a valid token."""

from __future__ import annotations

import re

OPEN = {
    ("GET", "/health"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/agent/v1/enroll"),
}


def concrete(path):
    return (
        re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        .replace("/clients/00000000-0000-0000-0000-000000000000", "/clients/1")
        .replace("/tokens/00000000-0000-0000-0000-000000000000", "/tokens/1")
    )


def test_every_operation_needs_auth(api):
    spec = api.http.get("/openapi.json").json()
    operations = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    assert len(operations) > 15
    for method, path in operations:
        if (method, path) in OPEN:
            continue
        r = api.http.request(method, concrete(path), json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)


def test_enrollment_needs_a_valid_token(api):
    body = {"enrollment_token": "x" * 40, "facts": {"hostname": "h"}}
    r = api.http.post("/agent/v1/enroll", json=body)
    assert r.status_code == 401
    assert "enrollment token" in r.json()["detail"]


def test_wrong_password_and_revoked_token(api):
    assert (
        api.http.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "nope"}
        ).status_code
        == 401
    )
    r = api.http.post("/api/v1/tokens", json={"name": "ci"}, headers=api.admin)
    assert r.status_code == 201
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.http.get("/api/v1/me", headers=token).json()["username"] == "admin"
    assert (
        api.http.delete(
            f"/api/v1/tokens/{r.json()['id']}", headers=api.admin
        ).status_code
        == 204
    )
    assert api.http.get("/api/v1/me", headers=token).status_code == 401


def test_expired_token_is_refused(api, clock):
    r = api.http.post(
        "/api/v1/tokens",
        json={"name": "short", "expires_in_days": 1},
        headers=api.admin,
    )
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.http.get("/api/v1/me", headers=token).status_code == 200
    clock.advance(days=2)
    assert api.http.get("/api/v1/me", headers=token).status_code == 401


def test_revoked_enrollment_token_stops_enrollment(api):
    cid, token = api.new_client("Initech")
    api.enroll(token, "before-revoke")
    tokens = api.http.get(
        f"/api/v1/clients/{cid}/enrollment-tokens", headers=api.admin
    ).json()
    assert tokens[0]["use_count"] == 1
    assert (
        api.http.delete(
            f"/api/v1/enrollment-tokens/{tokens[0]['id']}", headers=api.admin
        ).status_code
        == 204
    )
    r = api.http.post(
        "/agent/v1/enroll",
        json={"enrollment_token": token, "facts": {"hostname": "after"}},
    )
    assert r.status_code == 401


def test_unknown_query_parameters_are_rejected(api):
    r = api.http.get("/api/v1/devices?colour=blue", headers=api.admin)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "colour"]
    assert "colour" in r.json()["detail"][0]["msg"]


def test_session_and_api_tokens_are_not_interchangeable(api, clock):
    from patchfleet.server.services import auth

    session_token = auth.login(
        api.http.app.state.sessionmaker(),
        username="admin",
        password="admin-password-1",
        kind=auth.SESSION,
        now=clock(),
        lifetime=None,
    )
    assert (
        api.http.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {session_token}"}
        ).status_code
        == 401
    )
    assert (
        api.http.get(
            "/api/v1/me", headers={"Cookie": f"pf_session={session_token}"}
        ).status_code
        == 401
    )
    api_token = api.admin["Authorization"].split()[1]
    page = api.http.get(
        "/devices",
        headers={"Cookie": f"pf_session={api_token}"},
        follow_redirects=False,
    )
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
