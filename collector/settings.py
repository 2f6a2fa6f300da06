"""Collector settings: defaults < ``HOMESCOPE_*`` environment < command-line flags."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the collector can be told; validated at start-up."""

    model_config = SettingsConfigDict(env_prefix="HOMESCOPE_", extra="forbid")

    db: str = "sqlite:///homescope.db"
    mqtt: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_client_id: str = "homescope-collector"
    #: ``$share/<group>/...`` subscriptions when set, so several collectors split the load.
    share_group: str = ""
    http: str = "127.0.0.1:8080"
    #: ``user:password`` pairs separated by commas; the operator login.
    users: str = ""
    #: Roles of operator users as ``user:role`` pairs (admin, marketing, analyst, installer,
    #: auditor), separated by commas; users not named are admins.
    roles: str = ""
    #: Bearer tokens accepted by the REST API, separated by commas.
    api_tokens: str = ""
    #: Secret for session cookies; random per start when empty (sessions end on restart).
    session_secret: str = ""
    batch_max: int = Field(default=1000, ge=1, le=5000)
    batch_wait_ms: int = Field(default=150, ge=5, le=5000)
    #: ``process``: batches are planned and committed by a child process (a core of its own);
    #: ``thread``: by a thread of this process (always so for an in-memory SQLite store).
    store_writer: Literal["process", "thread"] = "process"
    #: Retention: raw reports and events, 15-minute facts, hourly rollups (daily rollups are kept).
    retention_raw_days: int = Field(default=35, ge=1)
    retention_facts_days: int = Field(default=90, ge=1)
    retention_hourly_days: int = Field(default=400, ge=1)
    retention_every_s: int = Field(default=3600, ge=10)
    #: How far a gateway's clock may be from ours before its messages are flagged.
    max_clock_skew_s: int = 300
