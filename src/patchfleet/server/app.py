"""The ASGI application: ``create_app(settings)``; nothing runs at import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

import patchfleet
from patchfleet.server.api import (
    activity,
    agent,
    auth,
    clients,
    compliance,
    configurations,
    cves,
    devices,
    errors,
    health,
    jobs,
    overview,
    patches,
    policy,
    reports,
    scans,
    sla,
)
from patchfleet.server.api.limits import BodyLimitMiddleware
from patchfleet.server.db.engine import make_engine, make_sessionmaker
from patchfleet.server.notify.mail import make_mailer
from patchfleet.server.notify.webhooks import (
    HttpWebhookSender,
    Webhook,
    make_webhook_client,
    validate_url,
)
from patchfleet.server.scheduler.tick import lifespan
from patchfleet.server.services.summaries import Outlets
from patchfleet.server.settings import Settings
from patchfleet.server.web import pages

STATIC = Path(__file__).parent / "web" / "static"


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utc_now,
    run_scheduler: bool = False,
) -> FastAPI:
    """Build the app; the database schema must already be migrated.

    ``run_scheduler`` runs the periodic tasks in the background (``serve`` does;
    tests call ``scheduler.tick`` with their own clock instead).
    """
    settings = settings or Settings()
    engine = engine or make_engine(settings.resolved_database_url())
    app = FastAPI(
        lifespan=lifespan,
        title="patchfleet",
        version=patchfleet.__version__,
        description="Patch management for partners, their clients and their devices.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.clock = clock
    app.state.run_scheduler = run_scheduler
    app.state.outlets = _outlets(settings)
    errors.install(app)
    for module in (
        health,
        agent,
        auth,
        clients,
        devices,
        patches,
        policy,
        jobs,
        activity,
        configurations,
        compliance,
        scans,
        cves,
        sla,
        overview,
        reports,
    ):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        BodyLimitMiddleware,
        agent_limit=settings.max_agent_body_bytes,
        default_limit=settings.max_api_body_bytes,
    )
    return app


def _outlets(settings: Settings) -> Outlets:
    """Mail, and the signed webhook when one is configured."""
    if not settings.webhook_url:
        return Outlets(make_mailer(settings))
    hook = Webhook(
        url=validate_url(settings.webhook_url), secret=settings.webhook_secret
    )
    sender = HttpWebhookSender(make_webhook_client(settings))
    return Outlets(make_mailer(settings), sender, hook)


def serve_app() -> FastAPI:
    """The app ``patchfleet serve`` runs in each worker (settings from the environment)."""
    return create_app(run_scheduler=True)
