"""Which Wi-Fi interfaces the device has, from ``ubus call iwinfo`` or ``iw dev``.

One :class:`WifiIface` per virtual interface (``phy0-ap0``, ``wlan1``, ``mesh0``); the radio is
its ``phy``. Also the frequency arithmetic every Wi-Fi sampler needs.
"""

from __future__ import annotations

import re
from typing import Any

from agent.parsers.device import Tools, tools_for, ubus_call
from agent.record import record
from agent.system import System, SystemAccessError

_IWINFO_MODES = {
    "Master": "ap",
    "Master (VLAN)": "ap",
    "Client": "sta",
    "Mesh Point": "mesh",
    "Ad-Hoc": "adhoc",
    "Monitor": "monitor",
}
_IW_TYPES = {"AP": "ap", "managed": "sta", "mesh point": "mesh", "IBSS": "adhoc", "monitor": "monitor"}
#: Best first, so the most capable standard a list mentions wins.
STANDARDS = ("be", "ax", "ac", "n", "g", "a", "b")


@record
class WifiIface:
    """One wireless network device."""

    name: str
    phy: str
    mode: str  # ap, sta, mesh, adhoc, monitor, other
    mac: str | None = None
    ssid: str | None = None
    freq_mhz: int | None = None
    width_mhz: int | None = None
    tx_power_dbm: int | None = None
    noise_dbm: int | None = None
    standard: str | None = None

    @property
    def band(self) -> str | None:
        """``2.4GHz``, ``5GHz``, ``6GHz`` or ``60GHz``."""
        return band_of(self.freq_mhz)

    @property
    def channel(self) -> int | None:
        """The primary channel number."""
        return channel_of(self.freq_mhz)


def band_of(freq_mhz: int | None) -> str | None:
    """The band of a centre frequency."""
    if not freq_mhz:
        return None
    if 2400 <= freq_mhz < 2500:
        return "2.4GHz"
    if 4900 <= freq_mhz < 5925:
        return "5GHz"
    if 5925 <= freq_mhz < 7200:
        return "6GHz"
    if 57000 <= freq_mhz < 72000:
        return "60GHz"
    return None


def channel_of(freq_mhz: int | None) -> int | None:
    """The IEEE channel number of a frequency (802.11-2020 Annex E)."""
    if not freq_mhz:
        return None
    if freq_mhz == 2484:
        return 14
    if 2407 < freq_mhz < 2484:
        return (freq_mhz - 2407) // 5
    if freq_mhz == 5935:
        return 2
    if 5950 < freq_mhz < 7200:
        return (freq_mhz - 5950) // 5
    if 5000 <= freq_mhz < 5925:
        return (freq_mhz - 5000) // 5
    if 4900 <= freq_mhz < 5000:
        return (freq_mhz - 4000) // 5
    if 57000 <= freq_mhz < 72000:
        return (freq_mhz - 56160) // 2160
    return None


def width_of_htmode(htmode: str | None) -> int | None:
    """Channel width from an iwinfo ``htmode`` (``HT20``, ``VHT80``, ``HE160``, ``VHT80+80``, ``NOHT``)."""
    if not htmode:
        return None
    if htmode.upper() == "NOHT":
        return 20
    match = re.search(r"(\d+)(\+(\d+))?$", htmode)
    if not match:
        return None
    return int(match.group(1)) + (int(match.group(3)) if match.group(3) else 0)


def standard_of(hwmode: str | None, htmode: str | None, band: str | None) -> str | None:
    """``be``, ``ax``, ``ac``, ``n``, ``g``, ``a`` or ``b`` from iwinfo's hwmode/htmode."""
    if hwmode in STANDARDS:
        return hwmode
    upper = (htmode or "").upper()
    for prefix, standard in (("EHT", "be"), ("HE", "ax"), ("VHT", "ac"), ("HT", "n")):
        if upper.startswith(prefix):
            return standard
    if hwmode:  # older iwinfo: "11bgn", "11a/n"
        letters = hwmode.lower().removeprefix("11")
        for standard in STANDARDS:
            if standard in letters.replace("/", ""):
                return standard
    return {"2.4GHz": "g", "5GHz": "a", "6GHz": "ax"}.get(band or "")


def parse_iwinfo_devices(reply: dict[str, Any]) -> list[str]:
    """``ubus call iwinfo devices``."""
    return [d for d in reply.get("devices") or [] if isinstance(d, str)]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_iwinfo_info(name: str, reply: dict[str, Any]) -> WifiIface:
    """``ubus call iwinfo info {"device": name}``."""
    freq = _int(reply.get("frequency"))
    htmode = reply.get("htmode") if isinstance(reply.get("htmode"), str) else None
    hwmode = reply.get("hwmode") if isinstance(reply.get("hwmode"), str) else None
    noise = _int(reply.get("noise"))
    bssid = reply.get("bssid")
    mac = bssid.lower() if isinstance(bssid, str) and bssid != "00:00:00:00:00:00" else None
    return WifiIface(
        name=name,
        phy=str(reply.get("phy") or name),
        mode=_IWINFO_MODES.get(str(reply.get("mode")), "other"),
        mac=mac,
        ssid=reply.get("ssid") if isinstance(reply.get("ssid"), str) else None,
        freq_mhz=freq,
        width_mhz=width_of_htmode(htmode),
        tx_power_dbm=_int(reply.get("txpower")),
        noise_dbm=noise if noise else None,  # iwinfo says 0 when the driver does not know
        standard=standard_of(hwmode, htmode, band_of(freq)),
    )


def parse_iw_dev(text: str) -> list[WifiIface]:
    """``iw dev``: interfaces grouped under ``phy#N`` headers."""
    out: list[WifiIface] = []
    phy = ""
    current: WifiIface | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("phy#"):
            phy, current = "phy" + line[4:], None
        elif line.startswith("Interface "):
            current = WifiIface(name=line.split()[1], phy=phy, mode="other")
            out.append(current)
        elif line.startswith("Unnamed/non-netdev"):
            current = None
        elif current is None:
            continue
        elif line.startswith("addr "):
            current.mac = line.split()[1].lower()
        elif line.startswith("ssid "):
            current.ssid = line[5:]
        elif line.startswith("type "):
            current.mode = _IW_TYPES.get(line[5:].strip(), "other")
        elif line.startswith("channel "):
            freq = re.search(r"\((\d+)(?:\.\d+)? MHz\)", line)
            width = re.search(r"width: (\d+)", line)
            current.freq_mhz = int(freq.group(1)) if freq else None
            current.width_mhz = int(width.group(1)) if width else None
        elif line.startswith("txpower "):
            current.tx_power_dbm = round(float(line.split()[1]))
    for iface in out:
        if iface.band == "6GHz":
            iface.standard = "ax"  # 6 GHz is HE or later by definition
    return out


def discover(system: System, tools: Tools) -> list[WifiIface]:
    """Every Wi-Fi interface: through rpcd's iwinfo when ubus has it, else ``iw dev``."""
    if tools.has("ubus"):
        try:
            names = parse_iwinfo_devices(ubus_call(system, "iwinfo", "devices"))
            found = [parse_iwinfo_info(n, ubus_call(system, "iwinfo", "info", {"device": n})) for n in names]
        except SystemAccessError:
            found = []  # no rpcd-mod-iwinfo, or an interface vanished meanwhile: ask iw
        if found:
            return found
    if tools.has("iw"):
        return parse_iw_dev(system.run(["iw", "dev"]))
    return []


def wifi_interfaces(shared: dict[str, Any], system: System) -> list[WifiIface]:
    """:func:`discover`, once per window (radios, stations, neighbours and topology share it)."""
    found = shared.get("wifi")
    if not isinstance(found, list):
        found = shared["wifi"] = discover(system, tools_for(shared, system))
    return found


def wifi_tools_missing(tools: Tools) -> str | None:
    """Why Wi-Fi cannot be sampled here, or ``None``."""
    if tools.has("ubus") or tools.has("iw"):
        return None
    return "neither ubus nor iw is installed (no Wi-Fi tooling on this device)"
