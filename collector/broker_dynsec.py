"""The broker's access control through Mosquitto's dynamic security plugin (docs/broker-tls.md).

Why not only the ``acl_file``: Mosquitto grants every SUBSCRIBE under an ACL file and
filters deliveries afterwards, so a gateway could join the collectors' ``$share`` group;
each message then handed to it was refused at delivery and lost to the collectors (measured
on Mosquitto 2.0.11: with one gateway in the group, the collector received 10 of 20 reports).
The dynamic security plugin checks the subscription itself, ``$share/<group>/`` prefix
included, and denies by default. It does not substitute ``%u`` in its ACLs (2.0.11), so
each gateway gets a role of its own with literal topics: it may publish only its uplink
kinds and subscribe to, and receive, only its own ``ack`` and ``cmd``. Collectors may
subscribe to every gateway's uplink, plainly or in any ``$share`` group, and publish only
``ack`` and ``cmd``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

from protocol.topics import ROOT, TOPIC_VERSION, UPLINK_KINDS, Kind

#: Where Debian's and most distributions' mosquitto packages install the plugin.
PLUGIN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
ITERATIONS = 101
DOWNLINK = (Kind.ACK, Kind.CMD)


def find_plugin() -> str | None:
    """The dynamic security plugin's path, if installed."""
    return next((p for p in PLUGIN_PATHS if Path(p).exists()), None)


def _topic(gateway: str, kind: Kind) -> str:
    return f"{ROOT}/{TOPIC_VERSION}/{gateway}/{kind.value}"


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def _client(username: str, password: str | None, role: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"username": username, "roles": [{"rolename": role}]}
    if password is not None:  # certificate-authenticated gateways have none
        salt = secrets.token_bytes(12)
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
        entry |= {
            "password": base64.b64encode(digest).decode(),
            "salt": base64.b64encode(salt).decode(),
            "iterations": ITERATIONS,
        }
    return entry


def gateway_role(gateway: str) -> dict[str, Any]:
    """One gateway's role: its own uplink out, its own downlink in, nothing else."""
    acls = [_acl("publishClientSend", _topic(gateway, k)) for k in UPLINK_KINDS]
    acls += [_acl("subscribeLiteral", _topic(gateway, k)) for k in DOWNLINK]
    acls += [_acl("publishClientReceive", _topic(gateway, k)) for k in DOWNLINK]
    return {"rolename": f"gw:{gateway}", "acls": acls}


def collector_role() -> dict[str, Any]:
    acls = []
    for kind in UPLINK_KINDS:
        acls.append(_acl("subscribePattern", _topic("+", kind)))
        acls.append(_acl("subscribePattern", f"$share/+/{_topic('+', kind)}"))
        acls.append(_acl("publishClientReceive", _topic("+", kind)))
    acls += [_acl("publishClientSend", _topic("+", k)) for k in DOWNLINK]
    return {"rolename": "collector", "acls": acls}


def dynsec_config(gateways: list[str], collectors: list[str], passwords: dict[str, str]) -> dict[str, Any]:
    """The plugin's JSON: deny by default; ``passwords`` holds password accounts (TLS gateways have none)."""
    clients = [_client(name, passwords[name], "collector") for name in collectors]
    clients += [_client(gid, passwords.get(gid), f"gw:{gid}") for gid in gateways]
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": [collector_role(), *(gateway_role(g) for g in gateways)],
    }


def dynsec_text(gateways: list[str], collectors: list[str], passwords: dict[str, str]) -> str:
    return json.dumps(dynsec_config(gateways, collectors, passwords), indent=1) + "\n"
