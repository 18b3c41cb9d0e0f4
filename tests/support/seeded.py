"""A fleet seeded over the real agent and management APIs, for browser tests.

Clients get enrollment tokens, devices enroll with Debian 12 facts, send inventories
and scan reports: exactly what real agents send, through real HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from patchfleet.core.packages import inventory_hash
from patchfleet.protocol import convert, v1
from support.clock import START


@dataclass
class Device:
    """A seeded device: its id, client and agent credential."""

    id: str
    hostname: str
    client: str
    credential: str

    @property
    def auth(self) -> dict[str, str]:
        """Bearer headers of the device's agent."""
        return {"Authorization": f"Bearer {self.credential}"}


@dataclass
class SeededFleet:
    """Clients and devices enrolled, inventoried and scanned through the APIs."""

    url: str
    http: httpx.Client
    admin: dict[str, str]
    clients: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)

    def add_client(self, name: str) -> None:
        """Create a client and an enrollment token for it."""
        r = self.http.post("/api/v1/clients", json={"name": name}, headers=self.admin)
        assert r.status_code == 201, r.text
        self.clients[name] = r.json()["id"]
        r = self.http.post(
            f"/api/v1/clients/{self.clients[name]}/enrollment-tokens",
            json={},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        self.tokens[name] = r.json()["token"]

    def enroll(self, client: str, hostname: str, ip: str) -> Device:
        """Enroll a Debian 12 device of ``client``."""
        facts = {
            "hostname": hostname,
            "os_family": "debian",
            "os_id": "debian",
            "os_name": "Debian GNU/Linux",
            "os_version": "12",
            "kernel": "6.1.0-28-amd64",
            "arch": "x86_64",
            "ips": [ip],
            "agent_version": "0.1.0",
            "package_manager": "apt",
        }
        r = self.http.post(
            "/agent/v1/enroll",
            json={"enrollment_token": self.tokens[client], "facts": facts},
        )
        assert r.status_code == 201, r.text
        device = Device(r.json()["device_id"], hostname, client, r.json()["credential"])
        self.devices[hostname] = device
        return device

    def inventory(self, device: Device, packages: list[dict[str, str]]) -> None:
        """Send a full inventory."""
        items = [v1.PackageItem(**p) for p in packages]
        digest = inventory_hash(convert.item_to_package(i) for i in items)
        body = {"kind": "full", "hash": digest, "packages": packages}
        r = self.http.post("/agent/v1/inventory", json=body, headers=device.auth)
        assert r.status_code == 204, r.text

    def scan(
        self, device: Device, updates: list[dict[str, object]], *, reboot: bool = False
    ) -> None:
        """Send an apt scan report that finished five minutes before the test start."""
        report = {
            "scan_id": str(uuid.uuid4()),
            "started_at": (START - timedelta(minutes=6)).isoformat(),
            "finished_at": (START - timedelta(minutes=5)).isoformat(),
            "backend": "apt",
            "reboot_required": reboot,
            "updates": updates,
        }
        r = self.http.post("/agent/v1/scans", json=report, headers=device.auth)
        assert r.status_code == 204, r.text

    def hosts(self, client: str | None = None) -> list[str]:
        """Hostnames, of one client or all, sorted."""
        return sorted(h for h, d in self.devices.items() if client in (None, d.client))
