"""Mosquitto configuration for homescope: listener, persistence, per-gateway accounts, ACL.

``homescope-collector broker-config --out DIR --gateways ids.txt`` writes:

- ``mosquitto.conf``: no anonymous access, ``use_username_as_clientid`` (a gateway cannot
  take over another's session), persistence saved every second, a packet-size cap;
  optionally a TLS listener where the client certificate's CN is the username.
- ``acl``: a gateway may write only ``homescope/v1/<its id>/{report,event,status}`` and
  read only its own ``ack``/``cmd``; a collector account may read every gateway's uplink
  and write only ``ack`` and ``cmd``.
- ``passwd``: PBKDF2-SHA512 hashes (``mosquitto_passwd -U`` when installed, else the
  same ``$7$`` format written here).
- ``credentials`` (mode 0600): the clear-text passwords, one ``username password`` per
  line, for provisioning. Run again with more ids: existing passwords are kept.

The collector takes the gateway id from the topic, so with this ACL a payload is
credited to the account that sent it, whatever it claims (see docs/broker-tls.md).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from collector.broker_dynsec import dynsec_text, find_plugin
from protocol.topics import ROOT, TOPIC_VERSION, UPLINK_KINDS, Kind, is_valid_gateway_id

#: Mosquitto 2.0's defaults for ``$7$`` (sha512-pbkdf2) hashes.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
#: A valid frame is at most 256 KiB (protocol.codec.MAX_FRAME); allow the MQTT header beside it.
MAX_PACKET_BYTES = 256 * 1024 + 4096


class BrokerConfigError(ValueError):
    """The requested broker configuration cannot be written as asked."""


@dataclass
class BrokerPlan:
    """What to generate; paths in the output are absolute so the broker can run anywhere."""

    out: Path
    gateways: list[str]
    collectors: list[str] = field(default_factory=lambda: ["_collector"])
    listen: str = ""  # HOST:PORT for gateways; default 0.0.0.0:1883, or :8883 with TLS
    collector_listen: str = ""  # an extra password listener for collectors, e.g. 127.0.0.1:1883
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""
    persistence_dir: str = ""  # default: OUT/data
    log_file: str = ""  # default: stderr
    run_as: str = ""  # the broker's user after binding (Mosquitto's default: "mosquitto")
    max_queued_messages: int = 10_000
    hasher: str = "auto"  # auto | mosquitto_passwd | builtin
    #: auto: the dynamic security plugin where installed (refuses $share and foreign
    #: subscriptions at SUBSCRIBE), else the ACL file; or force dynsec | acl-file.
    access: str = "auto"
    #: The plugin's path (found by ``access=auto``/``dynsec``).
    dynsec_plugin: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.certfile)


def pbkdf2_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A Mosquitto ``$7$`` password hash: PBKDF2-HMAC-SHA512, 64-byte key, base64 fields."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_pbkdf2(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (ours or mosquitto_passwd's)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    salt = base64.b64decode(parts[3])
    return secrets.compare_digest(pbkdf2_hash(password, salt, int(parts[2])), hashed)


def read_ids(path: str) -> list[str]:
    """Gateway ids from a file: one per line, ``#`` comments and blank lines ignored."""
    ids: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            ids.append(word)
    return ids


def _topic(gateway: str, kind: Kind) -> str:
    return f"{ROOT}/{TOPIC_VERSION}/{gateway}/{kind.value}"


def acl_text(collectors: list[str]) -> str:
    """The ACL file: gateways by pattern (``%u`` is the username, which is the client id)."""
    lines = [
        "# homescope broker ACL, written by `homescope-collector broker-config`; regenerate, do not edit.",
        "# Gateways: username = client id = gateway id. Own uplink topics only; own downlink only.",
    ]
    lines += [f"pattern write {_topic('%u', kind)}" for kind in UPLINK_KINDS]
    lines += [f"pattern read {_topic('%u', kind)}" for kind in (Kind.ACK, Kind.CMD)]
    for name in collectors:
        lines += ["", f"# Collector {name}: reads every gateway's uplink, writes only ack and cmd."]
        lines += [f"user {name}"]
        lines += [f"topic read {_topic('+', kind)}" for kind in UPLINK_KINDS]
        lines += [f"topic write {_topic('+', kind)}" for kind in (Kind.ACK, Kind.CMD)]
    return "\n".join(lines) + "\n"


def _hostport(value: str, default_port: int) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        return value or "0.0.0.0", default_port
    return host or "0.0.0.0", int(port)


def conf_text(plan: BrokerPlan) -> str:
    """mosquitto.conf for the plan (Mosquitto 2.0 syntax)."""
    out = plan.out.resolve()
    data = Path(plan.persistence_dir or out / "data").resolve()
    host, port = _hostport(plan.listen, 8883 if plan.tls else 1883)
    lines = [
        "# homescope broker configuration, written by `homescope-collector broker-config`.",
        "# What the broker can lose and why it does not matter: docs/reliability.md.",
        "per_listener_settings false",
        "allow_anonymous false",
        *(
            [
                "# Access control: Mosquitto's dynamic security plugin, deny by default (broker_dynsec.py)",
                f"plugin {plan.dynsec_plugin}",
                f"plugin_opt_config_file {out / 'dynamic-security.json'}",
            ]
            if plan.dynsec_plugin
            else [f"password_file {out / 'passwd'}", f"acl_file {out / 'acl'}"]
        ),
        "",
        "# Sessions and queued messages survive a restart; a kill -9 loses at most the last second,",
        "# which the agents resend (they delete a record only on the collector's ack).",
        "persistence true",
        f"persistence_location {data}/",
        "autosave_interval 1",
        f"max_queued_messages {plan.max_queued_messages}",
        "max_inflight_messages 20",
        "# No valid homescope frame is larger: a hostile blob is refused at the door.",
        f"max_packet_size {MAX_PACKET_BYTES}",
    ]
    if plan.run_as:
        lines.append(f"user {plan.run_as}")
    if plan.log_file:
        lines += [f"log_dest file {plan.log_file}"]
    lines += ["log_type error", "log_type warning", "log_type notice", "connection_messages true", ""]
    # use_username_as_clientid is a listener option (before any listener it opens port 1883)
    client_id = [
        "# The username is the client id: gateway A cannot take over B's session by naming it.",
        "use_username_as_clientid true",
    ]
    lines += [f"listener {port} {host}", *client_id]
    if plan.tls:
        lines += [
            f"cafile {Path(plan.cafile).resolve()}",
            f"certfile {Path(plan.certfile).resolve()}",
            f"keyfile {Path(plan.keyfile).resolve()}",
            "tls_version tlsv1.2",
            "# Gateways prove who they are with a certificate from the private CA; its CN is the username.",
            "require_certificate true",
            "use_identity_as_username true",
        ]
    if plan.collector_listen:
        chost, cport = _hostport(plan.collector_listen, 1883)
        lines += ["", "# Collectors on the broker's host: password accounts, not reachable by gateways."]
        lines += [f"listener {cport} {chost}", *client_id]
    return "\n".join(lines) + "\n"


def _read_credentials(path: Path) -> dict[str, str]:
    creds: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#"):
                creds[parts[0]] = parts[1]
    return creds


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)  # an existing file keeps its old mode through O_CREAT


def _write_passwd(path: Path, creds: dict[str, str], hasher: str) -> str:
    tool = shutil.which("mosquitto_passwd") if hasher in ("auto", "mosquitto_passwd") else None
    if hasher == "mosquitto_passwd" and tool is None:
        raise BrokerConfigError("mosquitto_passwd is not installed (use --hasher builtin)")
    if tool:
        _write_private(path, "".join(f"{user}:{pw}\n" for user, pw in creds.items()), 0o640)
        done = subprocess.run([tool, "-U", str(path)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            path.unlink()
            raise BrokerConfigError(
                f"mosquitto_passwd -U failed: {done.stderr.strip() or done.stdout.strip()}"
            )
        return "mosquitto_passwd"
    text = "".join(f"{user}:{pbkdf2_hash(pw)}\n" for user, pw in creds.items())
    _write_private(path, text, 0o640)
    return "builtin"


def write_broker_config(plan: BrokerPlan, *, rotate: bool = False) -> dict[str, str]:
    """Write mosquitto.conf, acl, passwd and credentials into ``plan.out``; return a summary."""
    for gid in plan.gateways:
        if not is_valid_gateway_id(gid):
            raise BrokerConfigError(f"gateway id {gid!r} is not a valid topic segment / MQTT username")
    for name in plan.collectors:
        if is_valid_gateway_id(name) or not name or any(c in name for c in ":#+/ \t"):
            # a collector named like a gateway would be given that gateway's topics by the patterns
            raise BrokerConfigError(
                f"collector account {name!r} must not look like a gateway id (start it with _)"
            )
    if len(set(plan.gateways)) != len(plan.gateways):
        raise BrokerConfigError("a gateway id is listed twice")
    plan.out.mkdir(parents=True, exist_ok=True)
    data = Path(plan.persistence_dir or plan.out / "data")
    data.mkdir(parents=True, exist_ok=True)
    cred_path = plan.out / "credentials"
    known = {} if rotate else _read_credentials(cred_path)
    accounts = [*plan.collectors, *([] if plan.tls else plan.gateways)]
    creds = {user: known.get(user) or secrets.token_urlsafe(18) for user in accounts}
    header = (
        "# homescope broker accounts: username password (keep secret; provision each gateway with its line)\n"
    )
    _write_private(cred_path, header + "".join(f"{u} {p}\n" for u, p in creds.items()))
    if plan.access in ("auto", "dynsec") and not plan.dynsec_plugin:
        plan.dynsec_plugin = find_plugin() or ""
        if plan.access == "dynsec" and not plan.dynsec_plugin:
            raise BrokerConfigError("the dynamic security plugin is not installed (use --access acl-file)")
    if plan.dynsec_plugin:
        text = dynsec_text(plan.gateways, plan.collectors, creds)
        _write_private(plan.out / "dynamic-security.json", text, 0o640)
        hashed_by = "dynsec"
    else:
        hashed_by = _write_passwd(plan.out / "passwd", creds, plan.hasher)
        (plan.out / "acl").write_text(acl_text(plan.collectors), encoding="utf-8")
    (plan.out / "mosquitto.conf").write_text(conf_text(plan), encoding="utf-8")
    return {
        "conf": str(plan.out / "mosquitto.conf"),
        "gateways": str(len(plan.gateways)),
        "password_accounts": str(len(creds)),
        "hashed_by": hashed_by,
        "tls": "yes" if plan.tls else "no",
        "access": "dynsec" if plan.dynsec_plugin else "acl-file",
    }
