"""Helpers that drive the real API in-process (Starlette's TestClient is an httpx.Client)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patchfleet.server.app import create_app
from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.services import auth
from patchfleet.server.settings import Settings

ADMIN_PASSWORD = "admin-password-1"


@dataclass
class Api:
    """A TestClient plus the admin's bearer token and the bootstrap client."""

    http: TestClient
    admin: dict[str, str]
    client_id: int
    enrollment_token: str

    def login(self, username: str, password: str) -> dict[str, str]:
        """Bearer headers for a user."""
        r = self.http.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def new_client(self, name: str) -> tuple[int, str]:
        """Create a client and an enrollment token for it."""
        r = self.http.post("/api/v1/clients", json={"name": name}, headers=self.admin)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        t = self.http.post(
            f"/api/v1/clients/{cid}/enrollment-tokens",
            json={"label": "t"},
            headers=self.admin,
        )
        assert t.status_code == 201, t.text
        return cid, t.json()["token"]

    def enroll(
        self, token: str, hostname: str, **facts: Any
    ) -> tuple[str, dict[str, str]]:
        """Enroll a device; returns its id and bearer headers."""
        body = {
            "enrollment_token": token,
            "facts": {"hostname": hostname, "os_family": "debian", **facts},
        }
        r = self.http.post("/agent/v1/enroll", json=body)
        assert r.status_code == 201, r.text
        data = r.json()
        return data["device_id"], {"Authorization": f"Bearer {data['credential']}"}


@pytest.fixture
def api(engine: Engine, clock) -> Iterator[Api]:
    """The app in-process on the parametrised database, bootstrapped."""
    result = auth.bootstrap(
        make_sessionmaker(engine)(), now=clock(), password=ADMIN_PASSWORD
    )
    assert result is not None
    app = create_app(
        Settings(checkin_interval_seconds=1, public_url="http://testserver"),
        engine=engine,
        clock=clock,
    )
    with TestClient(app) as http:
        r = http.post(
            "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert r.status_code == 200, r.text
        login = {"Authorization": f"Bearer {r.json()['token']}"}
        # A token without expiry, so tests may move the clock by days.
        t = http.post("/api/v1/tokens", json={"name": "tests"}, headers=login)
        assert t.status_code == 201, t.text
        yield Api(
            http,
            {"Authorization": f"Bearer {t.json()['token']}"},
            result.client_id,
            result.enrollment_token,
        )
