"""Agent configuration from TOML or an OpenWrt UCI file; unknown keys are errors.

Precedence: defaults < file < ``HOMESCOPE_*`` environment < command-line flags.
"""

from __future__ import annotations

import os
import re
import shlex
import zlib
from typing import Any
from urllib.parse import urlsplit

from agent.record import field, fields, record, replace


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@record(frozen=True)
class AgentConfig:
    """Everything the agent can be told. Units are in the names."""

    gateway_id: str = ""
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_ca_file: str = ""
    mqtt_cert_file: str = ""
    mqtt_key_file: str = ""
    interval_s: int = 900
    #: Publishing is spread over this many seconds after the window end, by gateway id.
    publish_spread_s: float = 120.0
    #: Random delay before the first connection, so a fleet restarted together does not stampede.
    startup_jitter_s: float = 30.0
    spool_path: str = "/var/lib/homescope/outbox.db"
    spool_quota_bytes: int = 2 * 1024 * 1024
    #: Unacknowledged records are sent again after this long.
    resend_after_s: float = 60.0
    #: At most this many records in flight (below the broker's in-flight window of 20).
    max_inflight: int = 16
    disabled_samplers: tuple[str, ...] = ()
    wan_interface: str = ""
    lan_interfaces: tuple[str, ...] = ()
    plan_down_kbps: int = 0
    plan_up_kbps: int = 0
    ping_target: str = ""
    operator_domains: tuple[str, ...] = ()
    competitor_ssid_patterns: tuple[str, ...] = ()
    #: "Operator=aa:bb:cc" OUIs of other operators' equipment (neighbour scan).
    competitor_ouis: tuple[str, ...] = ()
    #: Scan for neighbour networks every N windows; 0 never scans.
    neighbour_scan_windows: int = 4
    #: Run the capacity test every N windows; 0 (default) never does: it loads the line.
    capacity_test_windows: int = 0
    capacity_test_server: str = ""
    capacity_test_url: str = ""
    #: LAN bridge the DPI capture listens on; empty disables DPI.
    dpi_interface: str = "br-lan"
    #: Where byte counts come from: ``auto`` (conntrack when accounting is on), ``conntrack``, ``capture``.
    dpi_volumes: str = "auto"
    #: Per-flow events with host and remote address (privacy: off unless debugging).
    dpi_debug_events: bool = False
    #: The operator's own domain table (domains.tsv format), read at start; its entries override the
    #: packaged tables, so the operator extends the DPI without a release. Empty: none.
    dpi_extra_domains: str = ""
    #: Report, per window, this many registrable domains (``example.co.uk``) of the flows the DPI
    #: could not name, by bytes, with no station or address (the report's ``unclassified``), so the
    #: operator can extend the table. 0 (default): off, nothing is sent. At most 50.
    dpi_unclassified_domains: int = 0
    #: Answer the collector's commands (the installer's "measure now"); the broker ACL lets
    #: only collectors publish them.
    commands: bool = True
    #: When set, commands must also carry an HMAC with this key (shared with the collector).
    command_key: str = ""
    #: Send reports in the compact form of protocol 1.2 (docs/protocol.md, "Compact reports"):
    #: ~4x smaller. Collectors older than 1.2 refuse it (unknown frame flags): upgrade them first.
    compact_reports: bool = True
    log_level: str = "INFO"
    extra: dict[str, Any] = field(default_factory=dict)

    def publish_offset_s(self) -> float:
        """This gateway's fixed offset after the window end (stable per gateway id)."""
        spread = min(self.publish_spread_s, self.interval_s / 4)
        return (zlib.crc32(self.gateway_id.encode()) % 1000) / 1000.0 * spread


_TUPLE_KEYS = {f.name for f in fields(AgentConfig) if f.type in ("tuple[str, ...]",)}
_INT_KEYS = {f.name for f in fields(AgentConfig) if f.type == "int"}
_FLOAT_KEYS = {f.name for f in fields(AgentConfig) if f.type == "float"}
_BOOL_KEYS = {f.name for f in fields(AgentConfig) if f.type == "bool"}
_KNOWN = {f.name for f in fields(AgentConfig)} - {"extra"}
#: Options read by the init system (procd), not by the agent.
_INIT_KEYS = ("enabled",)
_GATEWAY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _coerce(key: str, value: Any) -> Any:
    if key not in _KNOWN:
        raise ConfigError(f"unknown configuration key {key!r} (known: {', '.join(sorted(_KNOWN))})")
    try:
        if key in _TUPLE_KEYS:
            if isinstance(value, str):
                return tuple(v for v in re.split(r"[\s,]+", value) if v)
            return tuple(str(v) for v in value)
        if key in _INT_KEYS:
            return int(value)
        if key in _FLOAT_KEYS:
            return float(value)
        if key in _BOOL_KEYS:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true/false")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {value!r} is not a valid value: {exc}") from exc
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def parse_uci(text: str, section_type: str = "agent") -> dict[str, Any]:
    """The options of the first ``config <section_type>`` section of a UCI file."""
    out: dict[str, Any] = {}
    inside = False
    for number, raw in enumerate(text.splitlines(), 1):
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        if words[0] == "config":
            if inside:
                break
            inside = len(words) > 1 and words[1] == section_type
        elif inside and words[0] == "option" and len(words) == 3:
            out[words[1]] = words[2]
        elif inside and words[0] == "list" and len(words) == 3:
            out.setdefault(words[1], []).append(words[2])
        elif inside:
            raise ConfigError(f"line {number}: cannot parse {raw.strip()!r}")
    return out


def load_config(path: str | None = None, overrides: dict[str, Any] | None = None) -> AgentConfig:
    """Build and validate the configuration; raise :class:`ConfigError` with a clear message."""
    values: dict[str, Any] = {}
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
        raw = _toml(path, text) if path.endswith(".toml") else parse_uci(text)
        values.update(raw.get("agent", raw) if path.endswith(".toml") else raw)
        for key in _INIT_KEYS:
            values.pop(key, None)
    for key in _KNOWN:
        env = os.environ.get(f"HOMESCOPE_{key.upper()}")
        if env is not None:
            values[key] = env
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    config = replace(AgentConfig(), **{k: _coerce(k, v) for k, v in values.items()})
    return _validated(config)


def _toml(path: str, text: str) -> dict[str, Any]:
    # imported here: a gateway configured by UCI never loads the TOML parser (~0.4 MiB)
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _validated(config: AgentConfig) -> AgentConfig:
    if config.gateway_id and not _GATEWAY_ID.fullmatch(config.gateway_id):
        raise ConfigError(f"gateway_id {config.gateway_id!r} must match {_GATEWAY_ID.pattern}")
    if not config.mqtt_url.isascii():  # urlsplit and the resolver would need unicodedata (python3-codecs)
        raise ConfigError(f"mqtt_url {config.mqtt_url!r} is not ASCII: give the host name in its xn-- form")
    url = urlsplit(config.mqtt_url)
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
        raise ConfigError(
            f"mqtt_url {config.mqtt_url!r} must look like mqtt://host:1883 or mqtts://host:8883"
        )
    if not 1 <= config.interval_s <= 86400:
        raise ConfigError(f"interval_s {config.interval_s} must be between 1 and 86400")
    if config.spool_quota_bytes < 64 * 1024:
        raise ConfigError("spool_quota_bytes must be at least 65536")
    if config.neighbour_scan_windows < 0 or config.capacity_test_windows < 0:
        raise ConfigError("neighbour_scan_windows and capacity_test_windows must be 0 or more")
    if config.dpi_volumes not in ("auto", "conntrack", "capture"):
        raise ConfigError("dpi_volumes must be auto, conntrack or capture")
    if not 0 <= config.dpi_unclassified_domains <= 50:
        raise ConfigError("dpi_unclassified_domains must be between 0 (off) and 50")
    if not 1 <= config.max_inflight <= 1000:
        raise ConfigError("max_inflight must be between 1 and 1000")
    return config
