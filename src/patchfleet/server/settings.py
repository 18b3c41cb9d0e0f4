"""Server settings from the environment (``PATCHFLEET_*``); SQLite by default."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """The per-user data directory that holds the embedded database."""
    return Path(platformdirs.user_data_dir("patchfleet"))


class Settings(BaseSettings):
    """Everything the server reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="PATCHFLEET_", extra="ignore")

    data_dir: Path = default_data_dir()
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    workers: int = 1
    checkin_interval_seconds: int = 60
    max_agent_body_bytes: int = 16 * 1024 * 1024
    max_api_body_bytes: int = 1024 * 1024
    session_hours: int = 12
    secure_cookies: bool = False
    order_redelivery_seconds: int = 600
    smtp_host: str = ""  # empty: mail disabled (NullMailer)
    smtp_port: int = 25
    smtp_from: str = "patchfleet@localhost"
    smtp_starttls: bool = False
    smtp_username: str = ""  # empty: no AUTH
    smtp_password: str = ""
    smtp_timeout_seconds: float = 10
    webhook_timeout_seconds: float = 5
    webhook_url: str = ""  # job.finished / job.failed after each configuration run
    webhook_secret: str = ""

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'patchfleet.db'}"

    def resolved_public_url(self) -> str:
        """The URL agents use to reach this server."""
        return self.public_url or f"http://{self.host}:{self.port}"
