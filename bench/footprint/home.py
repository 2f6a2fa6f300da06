"""The bench home: a generated gateway with 12 Wi-Fi stations on 3 radios and one wired terminal.

The constructed Archer C6 fixture set, grown to a third radio on 6 GHz and twelve stations,
as a recorded-system fake; ``home(step)`` is the gateway ``step`` windows after the first
reading (counters grown). Shared by ``bench/agent.py`` and ``bench/footprint/daemon.py``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.agent.samplers.recorded import MISSING, RecordedSystem, recorded

BOARD = "archer-c6-v3-23.05"
WINDOW = 900
RADIOS = {
    # device: (phy, MHz, channel, htmode, hwmode, tx power, noise, BSSID)
    "phy0-ap0": ("phy0", 2437, 6, "HE20", "ax", 20, -92, "C0:4A:00:11:22:33"),
    "phy1-ap0": ("phy1", 5180, 36, "HE80", "ax", 23, -91, "C0:4A:00:11:22:34"),
    "phy2-ap0": ("phy2", 6135, 37, "HE160", "ax", 24, -94, "C0:4A:00:11:22:35"),
}
# MAC, hostname, radio, signal, PHY rate kbps, standard flag; vendors as homes have them
STATIONS = [
    ("f0:b4:79:10:00:01", "MacBook-Pro", "phy1-ap0", -48, 1_201_000, "he"),
    ("5a:21:4c:10:00:02", "iPhone-15", "phy1-ap0", -55, 864_800, "he"),
    ("8c:77:12:10:00:03", "Galaxy-S23", "phy2-ap0", -51, 2_041_000, "he"),
    ("72:0e:9b:10:00:04", "Pixel-8", "phy2-ap0", -60, 1_441_000, "he"),
    ("24:0a:c4:10:00:05", "ESP_100005", "phy0-ap0", -67, 65_000, "ht"),
    ("24:0a:c4:10:00:06", "ESP_100006", "phy0-ap0", -71, 58_500, "ht"),
    ("00:fc:8b:10:00:07", "echo-dot", "phy0-ap0", -58, 72_200, "ht"),
    ("f4:f5:d8:10:00:08", "chromecast", "phy1-ap0", -53, 433_300, "vht"),
    ("48:a6:b8:10:00:09", "sonos-living", "phy0-ap0", -62, 144_400, "ht"),
    ("98:b6:e9:10:00:0a", "switch", "phy1-ap0", -64, 390_000, "vht"),
    ("b8:27:eb:10:00:0b", "raspberrypi", "phy0-ap0", -57, 72_200, "ht"),
    ("3c:a9:f4:10:00:0c", "thinkpad", "phy2-ap0", -49, 2_402_000, "he"),
]


def _ubus(path: str, method: str, device: str | None = None) -> list[str]:
    argv = ["ubus", "call", path, method]
    return [*argv, json.dumps({"device": device}, separators=(",", ":"))] if device else argv


def _station(n: int, step: int, mac: str, radio: str, signal: int, rate: int, flag: str) -> dict[str, Any]:
    grow = 1 + step
    flags = {
        "ht": flag in ("ht", "vht", "he"),
        "vht": flag in ("vht", "he"),
        "he": flag == "he",
        "eht": False,
    }
    rateinfo = {**flags, "mhz": 80, "rate": rate, "mcs": 9, "nss": 2}
    return {
        "mac": mac.upper(),
        "signal": signal,
        "signal_avg": signal,
        "noise": RADIOS[radio][6],
        "inactive": 200 * n,
        "connected_time": 3600 + WINDOW * step,
        "thr": rate // 2 if flag == "he" else 0,
        "authorized": True,
        "authenticated": True,
        "preamble": "short",
        "wme": True,
        "mfp": True,
        "tdls": False,
        "mesh llid": 0,
        "mesh plid": 0,
        "mesh plink": "",
        "mesh local PS": "",
        "mesh peer PS": "",
        "mesh non-peer PS": "",
        "rx": {"drop_misc": 0, "packets": 40_000 * n * grow, "bytes": 9_000_000 * n * grow, **rateinfo},
        "tx": {
            "failed": 3 * n * grow,
            "retries": 900 * n * grow,
            "packets": 90_000 * n * grow,
            "bytes": 120_000_000 * n * grow,
            **rateinfo,
        },
    }


def home(step: int) -> RecordedSystem:
    """The gateway as the samplers see it ``step`` windows after the first reading."""
    system = recorded(BOARD)
    system.add_command(_ubus("iwinfo", "devices"), json.dumps({"devices": list(RADIOS)}))
    ubus_list = system.recording(["ubus", "list"])
    system.add_command(["ubus", "list"], ubus_list + "hostapd.phy2-ap0\n")
    leases, arp, net_dev = (
        [],
        ["IP address       HW type     Flags       HW address            Mask     Device"],
        [],
    )
    for dev, (phy, mhz, channel, htmode, hwmode, power, noise, bssid) in RADIOS.items():
        info = {
            "phy": phy,
            "ssid": "HomeNet",
            "bssid": bssid,
            "mode": "Master",
            "channel": channel,
            "frequency": mhz,
            "txpower": power,
            "noise": noise,
            "htmode": htmode,
            "hwmode": hwmode,
        }
        system.add_command(_ubus("iwinfo", "info", dev), json.dumps(info))
        survey = {
            "results": [
                {
                    "mhz": mhz,
                    "noise": noise,
                    "active_time": 900_000 * (step + 4),
                    "busy_time": 250_000 * (step + 4),
                    "busy_time_ext": 0,
                    "rx_time": 120_000 * (step + 4),
                    "tx_time": 90_000 * (step + 4),
                }
            ]
        }
        system.add_command(_ubus("iwinfo", "survey", dev), json.dumps(survey))
        mine = [(n, s) for n, s in enumerate(STATIONS, 1) if s[2] == dev]
        results = [
            _station(n, step, mac, radio, sig, rate, flag) for n, (mac, _, radio, sig, rate, flag) in mine
        ]
        system.add_command(_ubus("iwinfo", "assoclist", dev), json.dumps({"results": results}))
        clients = {
            r["mac"].lower(): {
                "assoc": True,
                "ht": r["tx"]["ht"],
                "vht": r["tx"]["vht"],
                "he": r["tx"]["he"],
                "airtime": {"rx": 1_000_000 * (step + 1), "tx": 9_000_000 * (step + 1)},
                "signal": r["signal"],
            }
            for r in results
        }
        system.add_command(
            _ubus(f"hostapd.{dev}", "get_clients"), json.dumps({"freq": mhz, "clients": clients})
        )
        scan = {
            "results": [
                {
                    "ssid": f"Livebox-{i:04X}",
                    "bssid": f"A0:1B:29:00:{channel:02X}:{i:02X}",
                    "band": 2 if mhz < 3000 else 5,
                    "channel": channel,
                    "mhz": mhz,
                    "signal": -60 - i,
                }
                for i in range(8)
            ]
        }
        system.add_command(_ubus("iwinfo", "scan", dev), json.dumps(scan))
        net_dev.append(
            f"{dev}: {10**9 * (step + 1)} {10**6 * (step + 1)} 0 0 0 0 0 0 {4 * 10**9 * (step + 1)} {3 * 10**6 * (step + 1)} 0 0 0 0 0 0"
        )
    system.add_file("/sys/class/net/phy2-ap0/operstate", "up\n")
    system.add_file("/sys/class/net/phy2-ap0/address", "c0:4a:00:11:22:35\n")
    system.add_file("/sys/class/net/phy2-ap0/speed", MISSING)
    for n, (mac, hostname, _, _, _, _) in enumerate(STATIONS, 1):
        ip = f"192.168.1.{100 + n}"
        leases.append(f"{1_735_700_000 + n} {mac} {ip} {hostname} 01:{mac}")
        arp.append(f"{ip:<16} 0x1         0x2         {mac:<21} *        br-lan")
        reply = "\n".join(
            f"64 bytes from {ip}: seq={i} ttl=64 time={2.0 + n / 10 + i / 5:.3f} ms" for i in range(3)
        )
        system.add_command(
            ["ping", "-c", "3", "-W", "1", ip],
            reply + "\n3 packets transmitted, 3 packets received, 0% packet loss\n",
        )
    lease_text = system.recording("/tmp/dhcp.leases")
    system.add_file("/tmp/dhcp.leases", lease_text + "\n".join(leases) + "\n")
    wired = "192.168.1.136    0x1         0x2         e8:6a:64:3e:4a:3c     *        br-lan"
    system.add_file("/proc/net/arp", "\n".join([*arp, wired]) + "\n")
    base_dev = system.recording("/proc/net/dev")
    kept = [line for line in base_dev.splitlines() if "-ap0:" not in line]
    system.add_file("/proc/net/dev", "\n".join(kept + net_dev) + "\n")
    stat = system.recording("/proc/stat").splitlines()
    cpu = [int(v) for v in stat[0].split()[1:]]
    cpu = [v + (i == 0) * 3000 * step + (i == 3) * 30000 * step for i, v in enumerate(cpu)]
    system.add_file("/proc/stat", "cpu  " + " ".join(map(str, cpu)) + "\n" + "\n".join(stat[1:]) + "\n")
    system.dirs["/sys/class/net/br-lan/brif"] = [*system.dirs["/sys/class/net/br-lan/brif"], "phy2-ap0"]
    system.add_file("/sys/class/net/br-lan/brif/phy2-ap0/port_no", "0x7\n")
    return system
