"""What the samplers read and how it is parsed: pure ``parse_*`` functions of device text
(``procfs``, ``wireless``/``assoc`` for iw and hostapd, ``board``, ``leases`` for DHCP/ARP/FDB
tables, ``oui``), and the few readers over :class:`agent.system.System` that feed them
(``device``: which tools exist, ubus calls; ``capacity``: the optional capacity test).

The samplers themselves, one module each, are in :mod:`agent.samplers` (the registry is there).
"""
