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
    #: How long a command (the installer's "measure now") waits for the gateway's answer.
    command_ttl_s: int = Field(default=60, ge=5, le=300)
    #: When set, commands carry an HMAC with this key; gateways configured with the same
    #: ``command_key`` refuse unsigned ones (defence in depth beside the broker ACL).
    command_key: str = ""
    #: ``user:password`` pairs separated by commas; the operator login.
    users: str = ""
    #: Roles of operator users as ``user:role`` pairs (admin, marketing, analyst, installer,
    #: auditor), separated by commas; users not named are admins.
    roles: str = ""
    #: Bearer tokens accepted by the REST API, separated by commas.
    api_tokens: str = ""
    #: No longer used: sessions are server-side (kept so old environments still start).
    session_secret: str = ""
    #: Sessions end after this long without a request, and this long after sign-in (docs/security.md).
    session_idle_s: int = Field(default=30 * 60, ge=60, le=24 * 3600)
    session_absolute_s: int = Field(default=12 * 3600, ge=300, le=7 * 86400)
    #: Serve HTTPS with this certificate chain and key (PEM); HSTS and Secure cookies follow.
    tls_cert: str = ""
    tls_key: str = ""
    #: Browsers reach us over TLS through a reverse proxy (Secure cookies and HSTS without tls_cert).
    behind_tls_proxy: bool = False
    #: ``https://host[:port]`` as browsers see us; state-changing requests must come from it.
    #: Empty: the request's own scheme and Host (right when nothing rewrites them).
    public_origin: str = ""
    #: ``mqtts://``: the CA to trust for the broker's certificate (empty: the system's), and our
    #: client certificate and key when the broker asks for one.
    mqtt_ca: str = ""
    mqtt_cert: str = ""
    mqtt_key: str = ""
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
    #: Per-gateway ingest quota (collector/ingest/quota.py): messages an hour, and the burst allowed
    #: at once (a week of spooled reports resent after an outage is ~700).
    ingest_quota_per_hour: int = Field(default=3600, ge=1)
    ingest_quota_burst: int = Field(default=2000, ge=1)
    #: Privacy (collector/privacy/): the pseudonym key's file (default: beside a SQLite store);
    #: keep neighbours' SSIDs; store DPI debug flow events (hostnames, remote addresses).
    privacy_key_file: str = ""
    keep_neighbour_names: bool = False
    store_dpi_debug: bool = False
    #: Retention of the security tables: security events, ended sessions (docs/security.md).
    retention_security_days: int = Field(default=400, ge=1)
    retention_sessions_days: int = Field(default=30, ge=1)
    #: Daily rollups, home-day rollups, result history, evaluation runs (collector/privacy/retention.py).
    retention_daily_days: int = Field(default=800, ge=1)
    #: The report archive (its files list homes whose Wi-Fi got worse), and the file sender's
    #: drop-folder batches (one row per subscriber; the pick-up has long taken them by then).
    retention_reports_days: int = Field(default=400, ge=1)
    retention_files_days: int = Field(default=14, ge=1)
    #: The unclassified-domains view (collector/dpi/, docs/dpi.md): a domain is shown for a week only
    #: when at least this many distinct homes sent it (never fewer than 2: no single home shows);
    #: its per-home memberships are kept this many ISO weeks (this one included).
    dpi_unclassified_min_homes: int = Field(default=5, ge=2)
    retention_unclassified_weeks: int = Field(default=8, ge=1, le=520)
    #: A TOML file of the operator's domain categories (``[domains] "example.org" = "video"``), loaded
    #: at start: the same rules the page sets, for operators who deploy by file. Empty: none.
    dpi_domains_file: str = ""
    #: How far a gateway's clock may be from ours before its messages are flagged.
    max_clock_skew_s: int = 300
