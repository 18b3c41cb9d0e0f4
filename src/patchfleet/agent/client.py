"""``ServerClient``: the agent's only way to the server, over an injected httpx.Client.

Contract: every method sends one request. ``ServerUnavailableError`` means try later
(connection refused, timeout, 5xx); ``ServerRejectedError`` means the server refused
this message for good (4xx) and resending it unchanged will not help;
``StaleBaseError`` (409 on a delta) means send the full inventory.
"""

from __future__ import annotations

import httpx

from patchfleet.protocol import v1


class ServerError(Exception):
    """Base of the client's errors."""


class ServerUnavailableError(ServerError):
    """The server could not be reached or failed; retry later."""


class ServerRejectedError(ServerError):
    """The server refused the request (4xx); the message says why."""

    def __init__(self, status: int, detail: str) -> None:
        """Keep the status and the server's explanation."""
        self.status = status
        self.detail = detail
        super().__init__(f"{status}: {detail}")


class StaleBaseError(ServerRejectedError):
    """The server holds a different inventory than the delta's base."""


class ServerClient:
    """Talks protocol v1 to one server."""

    def __init__(self, http: httpx.Client, credential: str | None = None) -> None:
        """Use ``http`` (its base_url points at the server)."""
        self._http = http
        self._credential = credential

    def _post(self, path: str, body: v1.Message | str) -> httpx.Response:
        headers = (
            {"Authorization": f"Bearer {self._credential}"} if self._credential else {}
        )
        content = body if isinstance(body, str) else body.model_dump_json()
        try:
            response = self._http.post(
                path,
                content=content,
                headers={**headers, "Content-Type": "application/json"},
            )
        except httpx.TransportError as exc:
            raise ServerUnavailableError(f"{path}: {exc}") from exc
        if response.status_code >= 500:
            raise ServerUnavailableError(f"{path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            detail = _detail(response)
            cls = StaleBaseError if response.status_code == 409 else ServerRejectedError
            raise cls(response.status_code, detail)
        return response

    def enroll(self, request: v1.EnrollRequest) -> v1.EnrollResponse:
        """Enroll this device."""
        return v1.EnrollResponse.model_validate_json(
            self._post("/agent/v1/enroll", request).content
        )

    def checkin(self, message: v1.CheckIn) -> v1.CheckInResponse:
        """Heartbeat; returns what the server wants."""
        return v1.CheckInResponse.model_validate_json(
            self._post("/agent/v1/checkin", message).content
        )

    def send_inventory(self, report: v1.InventoryReport) -> None:
        """Upload installed packages."""
        self._post("/agent/v1/inventory", report)

    def send_job_report(self, report: v1.JobReport | str) -> None:
        """Upload install-job progress or its end (a model, or its spooled JSON)."""
        self._post("/agent/v1/jobs", report)

    def send_scan(self, report: v1.ScanReport | str) -> None:
        """Upload a scan result (a model, or its spooled JSON as stored)."""
        self._post("/agent/v1/scans", report)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:500]
    return str(data.get("detail", data)) if isinstance(data, dict) else str(data)
