"""The bare-framework ceiling for bench_checkins.py: FastAPI with no database.

Served by the same uvicorn command line as the real server, so the difference between
these rows and the check-in rows is what patchfleet's own code costs per request.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel


class CheckIn(BaseModel):
    """The check-in body, reduced to the field the benchmark sends."""

    inventory_hash: str = ""


class CheckInResponse(BaseModel):
    """A check-in answer of the real shape."""

    inventory: str
    orders: list[str]
    checkin_interval_seconds: int


app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    """Readiness probe for the benchmark."""
    return {"status": "ok"}


@app.post("/ceiling/async")
async def ceiling_async() -> dict[str, object]:
    """The cheapest FastAPI endpoint: async, body ignored, a small JSON back."""
    return {"inventory": "none", "orders": [], "checkin_interval_seconds": 60}


@app.post("/ceiling/sync")
def ceiling_sync(body: CheckIn) -> CheckInResponse:
    """Shaped like the real check-in: sync (thread pool), body and response models."""
    return CheckInResponse(
        inventory="none" if body.inventory_hash else "full",
        orders=[],
        checkin_interval_seconds=60,
    )
