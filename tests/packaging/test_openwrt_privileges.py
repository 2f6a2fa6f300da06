"""The agent's privileges on the router: a user of its own, ujail's capability sets, ubusd's access list.

The rules are OpenWrt's, reimplemented:

- the user comes from the package's ``USERID`` (``Require-User`` in the control file, include/package-ipkg.mk),
  created at install by ``add_group_and_user`` in package/base-files/files/lib/functions.sh: each
  ``user[=uid]:group[=gid][:extra=gid,...]`` tuple adds the group (``group_add_next``: the first free gid
  from 32768 when none is given), then the user (``user_add``: the first free uid from 32768, that gid,
  home ``/var/run/<user>``, shell ``/bin/false``), then puts the user in the group;
- procd hands ``capabilities`` to ujail (``-C``, service/instance.c ``jail_run``), which reads an OCI-style
  JSON of five sets of ``CAP_*`` names (jail/capabilities.c; openwrt's own wpad.json has the shape); a
  capability survives the exec of python3, and of ping after it, only if it is ambient, and the kernel
  keeps ambient within permitted and inheritable;
- ubusd loads ``/usr/share/acl.d/*.json`` (ubusd_acl.c): ``user``, ``access`` (object -> ``methods``),
  ``subscribe`` (objects), ``listen`` (event patterns); a key ending in ``*`` matches by prefix; root passes
  every check, any other user only what a file grants, and a lookup (``ubus list``, ``ubus subscribe``'s
  own) shows an object only when one of its methods is granted.

The access list is checked against the ubus calls the agent really makes: the daemon's path (every sampler,
the station watch and the WAN event subscription) run over every recorded fixture board and its steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.publisher.outbox import Outbox
from agent.reporter import Reporter
from agent.runner import Runner
from agent.samplers import build_samplers
from tests.agent.samplers.recorded import FIXTURES, MISSING, recorded
from tests.packaging.conftest import FEED, Built

FILES = FEED / "homescope-agent" / "files"
SETS = ("bounding", "effective", "ambient", "permitted", "inheritable")
#: include/uapi/linux/capability.h, CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40).
LINUX_CAPABILITIES = frozenset(
    "CAP_" + name
    for name in [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
)


# -- the user ------------------------------------------------------------------------------------------


def add_group_and_user(rusers: str, passwd: list[str], group: list[str]) -> None:
    """functions.sh ``add_group_and_user`` over in-memory /etc/passwd and /etc/group lines."""

    def free(ids: list[str]) -> int:
        taken, n = set(ids), 32768
        while str(n) in taken:
            n += 1
        return n

    for entry in rusers.split():
        uname_part, gname_part, *rest = [*entry.split(":"), ""]
        uname, _, uid = uname_part.partition("=")
        gname, _, gid = gname_part.partition("=")
        groups = {line.split(":")[0]: line for line in group}
        if gname and gid:
            if gname not in groups:
                group.append(f"{gname}:x:{gid}:")
        elif gname:
            gid = (
                groups[gname].split(":")[2]
                if gname in groups
                else str(free([g.split(":")[2] for g in group]))
            )
            if gname not in groups:
                group.append(f"{gname}:x:{gid}:")
        if uname and not any(line.split(":")[0] == uname for line in passwd):
            uid = uid or str(free([p.split(":")[2] for p in passwd]))
            passwd.append(f"{uname}:x:{uid}:{gid or uid}:{uname}:/var/run/{uname}:/bin/false")
        if uname and gname:
            index = next(i for i, line in enumerate(group) if line.split(":")[0] == gname)
            members = [m for m in group[index].split(":")[3].split(",") if m]
            if uname not in members:
                group[index] = ":".join([*group[index].split(":")[:3], ",".join([*members, uname])])
        assert not [r for r in rest if r], "no extra groups are asked for"


def test_the_package_installs_a_user_and_group_of_its_own(built: Built) -> None:
    assert built.ipk.control["Require-User"] == "homescope:homescope"
    passwd = ["root:x:0:0:root:/root:/bin/ash", "network:x:101:101:network:/var/run/network:/bin/false"]
    group = ["root:x:0:", "network:x:101:", "other:x:32768:"]
    add_group_and_user(built.ipk.control["Require-User"], passwd, group)
    assert group[-1] == "homescope:x:32769:homescope"  # ids picked free: no clash with another package's
    assert passwd[-1] == "homescope:x:32768:32769:homescope:/var/run/homescope:/bin/false"  # no login shell


# -- ujail's capability sets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "granted"),
    [
        # ping (the link-quality sampler) opens a raw ICMP socket
        ("homescope.capabilities.json", {"CAP_NET_RAW"}),
        # with DPI: its AF_PACKET socket (CAP_NET_RAW) and /proc/net/nf_conntrack, mode 0440 root
        # (nf_conntrack_standalone.c): read permission, no write to anything (CAP_DAC_READ_SEARCH)
        ("homescope-dpi.capabilities.json", {"CAP_NET_RAW", "CAP_DAC_READ_SEARCH"}),
    ],
)
def test_capability_files_grant_only_what_the_readers_need(name: str, granted: set[str]) -> None:
    caps = json.loads((FILES / name).read_text())
    assert set(caps) == set(SETS)
    for key in SETS:
        assert isinstance(caps[key], list) and set(caps[key]) <= LINUX_CAPABILITIES, (key, caps[key])
        assert set(caps[key]) == granted, (
            key
        )  # the same in every set: ambient needs permitted and inheritable
    assert "CAP_NET_ADMIN" not in granted and "CAP_SYS_ADMIN" not in granted


# -- ubusd's access list ---------------------------------------------------------------------------------


def _ubus_use() -> tuple[set[tuple[str, str]], set[str], set[str]]:
    """(object, method) of every ``ubus call``, and the ``subscribe``/``listen`` targets, over every board."""
    calls: set[tuple[str, str]] = set()
    subscribed: set[str] = set()
    listened: set[str] = set()
    for board in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for steps in [[], *([s.name] for s in sorted(board.iterdir()) if s.is_dir())]:
            system = recorded(board.name, *steps)
            system.add_file("/sys/class/net/br-lan", MISSING)  # no capture here: DPI uses no ubus

            def stream(argv: list[str]) -> Iterator[str]:
                assert argv[:2] in (["ubus", "subscribe"], ["ubus", "listen"]), argv
                (subscribed if argv[1] == "subscribe" else listened).update(argv[2:])
                return iter(())

            system.stream = stream  # type: ignore[attr-defined]
            runner = Runner(
                AgentConfig(gateway_id="gw-acl"),
                system,
                Reporter(build_samplers()),
                Outbox(":memory:"),
                None,
                wall=lambda: 1_795_437_000.0,
                monotonic=lambda: 1000.0,
            )
            runner.prime()
            runner.watch_tick()
            runner.cycle(1_795_437_900)
            for call in system.calls:
                argv = call.split(" ")
                if argv[:2] == ["ubus", "call"]:
                    calls.add((argv[2], argv[3]))
                else:
                    assert argv[:2] != ["ubus"] or argv == ["ubus", "list"], call
    return calls, subscribed, listened


def _key(obj: str) -> str:
    # hostapd's objects are named after the device's interfaces (hostapd.phy0-ap0): one prefix key for all
    return "hostapd.*" if obj.startswith("hostapd.") else obj


def _matches(key: str, obj: str) -> bool:
    """ubusd_acl_check's match: the whole name, or a prefix for a key ending in ``*``."""
    return obj.startswith(key[:-1]) if key.endswith("*") else obj == key


def test_the_ubus_access_list_grants_exactly_the_calls_the_agent_makes() -> None:
    acl: dict[str, Any] = json.loads((FILES / "homescope.acl.json").read_text())
    assert set(acl) == {"user", "access", "subscribe", "listen"} and acl["user"] == "homescope"
    calls, subscribed, listened = _ubus_use()
    assert calls and subscribed and listened, "the fixtures exercise ubus"
    for obj, method in calls:  # every call passes ubusd's check
        assert any(_matches(k, obj) and method in v["methods"] for k, v in acl["access"].items()), (
            obj,
            method,
        )
    wanted: dict[str, set[str]] = {}
    for obj, method in calls:
        wanted.setdefault(_key(obj), set()).add(method)
    # and nothing more: a call the agent stopped making leaves the list
    assert {k: set(v["methods"]) for k, v in acl["access"].items()} == wanted
    assert set(acl["subscribe"]) == {_key(o) for o in subscribed}
    assert set(acl["listen"]) == listened
    # a subscription's lookup finds hostapd's objects only through a granted method (ubusd_send_obj)
    assert all(any(_matches(k, o) for k in acl["access"]) for o in subscribed)


def test_the_access_list_and_capability_files_are_installed_root_owned_and_not_writable(built: Built) -> None:
    """ubusd skips an ACL file not owned by root:root, group/other-writable or other-executable."""
    for path in ("usr/share/acl.d/homescope.json", "etc/capabilities/homescope.json"):
        mode = (built.idir / path).stat().st_mode & 0o777
        assert mode & 0o023 == 0 and mode & 0o001 == 0, (path, oct(mode))
    assert json.loads((built.idir / "usr/share/acl.d/homescope.json").read_text()) == json.loads(
        (FILES / "homescope.acl.json").read_text()
    )
