"""Registrable domains (eTLD+1): ``r3---sn-x.video.example.co.uk`` -> ``example.co.uk``.

What the agent reports of a flow the DPI could not name is this, never the full hostname: the
name an operator would add to the domain table, and the least that identifies it (a full name
can carry a user or a device: ``john-laptop.dyn.example.net``, ``u123.cdn.example``).

Not the Public Suffix List (10,000 rules, a download to keep current, ~1 MiB in memory on the
gateway): a small table of the multi-label public suffixes of the markets this product serves,
plus one rule for the common ccTLD second levels (``co``, ``com``, ``net``, ``org``, ``gov``,
``edu``, ``ac``, ``or``, ``ne``, ``go`` under a two-letter TLD: ``example.com.cn``,
``example.co.jp``, ``example.com.au``). Its limits (docs/dpi.md):

- private suffixes (``github.io``, ``cloudfront.net``, ``blogspot.com``, ``herokuapp.com``)
  are not suffixes here: every site under one reports as the platform's domain
  (``cloudfront.net``), which the packaged CDN patterns name where a label tells the app;
- rarer second levels not in the table or the rule (``kyoto.jp``, ``k12.ca.us``,
  ``pvt.k12.ma.us``) report one label too few: still a name, shared by more sites;
- IDNs stay in their ``xn--`` form (the gateway has no ``idna`` codec).
"""

from __future__ import annotations

import re

#: Multi-label public suffixes the ccTLD rule below does not cover (it covers ``co.xx``,
#: ``com.xx``... for every two-letter ``xx``).
MULTI_LABEL = frozenset({
    # United Kingdom, Ireland, Commonwealth
    "ltd.uk", "plc.uk", "me.uk", "nhs.uk", "police.uk", "sch.uk", "ltd.ie", "plc.ie",
    "id.au", "asn.au", "csiro.au", "info.au", "conf.au", "govt.nz", "school.nz", "geek.nz", "kiwi.nz",
    # China, Hong Kong, Taiwan, Macau
    "idv.hk", "idv.tw", "game.tw", "club.tw", "ebiz.tw",
    "ah.cn", "bj.cn", "cq.cn", "fj.cn", "gd.cn", "gs.cn", "gx.cn", "gz.cn", "ha.cn", "hb.cn", "he.cn", "hi.cn",
    "hk.cn", "hl.cn", "hn.cn", "jl.cn", "js.cn", "jx.cn", "ln.cn", "mo.cn", "nm.cn", "nx.cn", "qh.cn", "sc.cn",
    "sd.cn", "sh.cn", "sn.cn", "sx.cn", "tj.cn", "tw.cn", "xj.cn", "xz.cn", "yn.cn", "zj.cn",
    # Japan, Korea
    "ad.jp", "ed.jp", "gr.jp", "lg.jp", "re.kr", "pe.kr", "hs.kr", "ms.kr", "es.kr", "sc.kr", "kg.kr",
    # South and South-East Asia
    "firm.in", "gen.in", "ind.in", "res.in", "biz.id", "my.id", "web.id", "sch.id",
    "in.th", "mi.th", "biz.pk", "web.pk", "edu.pk", "name.vn", "info.vn", "biz.vn",
    # Latin America, Africa, Middle East, Europe
    "art.br", "blog.br", "eco.br", "eng.br", "ind.br", "inf.br", "log.br", "tv.br", "nom.br",
    "gob.mx", "gob.ar", "int.ar", "nom.co", "web.co", "gob.pe", "nom.pe",
    "gen.tr", "web.tr", "bel.tr", "biz.tr", "info.tr", "tv.tr", "sch.sa", "med.sa", "pub.sa",
    "nom.za", "web.za", "mil.za", "priv.at", "gv.at", "int.ru", "msk.ru", "spb.ru",
})  # fmt: skip
#: Second-level labels that are public under (almost) every two-letter country code.
CCTLD_SECOND = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "mil", "gob"})
#: Names that never leave the home as an internet domain (RFC 6761/6762/8375 and common home-router suffixes).
LOCAL_SUFFIXES = (
    "local",
    "lan",
    "home",
    "internal",
    "localdomain",
    "home.arpa",
    "arpa",
    "localhost",
    "invalid",
    "test",
)
_LABELS = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))+$")
_NUMERIC = re.compile(r"^[0-9.]+$")


def registrable_domain(host: str) -> str | None:
    """The registrable domain of an internet host name, or ``None`` for anything that is not one:
    an address literal, a single label, a LAN name (``.local``, ``.lan``, ``home.arpa``...), a name
    with characters no DNS name has, or a bare public suffix (``co.uk``)."""
    name = host.strip().lower().rstrip(".")
    if len(name) > 253 or ":" in name or not _LABELS.match(name) or _NUMERIC.match(name):
        return None
    labels = name.split(".")
    if any(name == s or name.endswith("." + s) for s in LOCAL_SUFFIXES):
        return None
    tld = labels[-1]
    if tld.isdigit():
        return None
    keep = 2
    if len(labels) >= 2:
        second = ".".join(labels[-2:])
        if second in MULTI_LABEL or (len(tld) == 2 and labels[-2] in CCTLD_SECOND):
            keep = 3
    if len(labels) < keep:
        return None  # a bare public suffix: nothing registrable
    return ".".join(labels[-keep:])
