"""Client side of the live DPI test, run inside the test's network namespace (``ip netns exec``).

Resolves names against the test's DNS responder, then makes a TLS connection with SNI, one without SNI
(named only through the DNS answer), a plain HTTP request and a QUIC v1 Initial, reading the servers'
replies so that there are bytes to attribute. Prints one JSON line of what it received.

Usage: netns_client.py DNS_SERVER
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run as a script: the repository root
from tests.agent.dpi import dpi_wire as w


def resolve(server: str, name: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(w.dns_query(name, ident=os.getpid() & 0xFFFF), (server, 53))
        reply, _ = sock.recvfrom(2048)
    return socket.inet_ntoa(reply[-4:])  # the responder puts one A record last


def tls_get(address: str, sni: str | None) -> int:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    received = 0
    with (
        socket.create_connection((address, 443), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=sni) as conn,
    ):
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        while chunk := conn.recv(65536):
            received += len(chunk)
    return received


def http_get(address: str, host: str) -> int:
    received = 0
    with socket.create_connection((address, 80), timeout=5) as conn:
        conn.sendall(f"GET /item/1 HTTP/1.1\r\nHost: {host}\r\nUser-Agent: t\r\n\r\n".encode())
        while chunk := conn.recv(65536):
            received += len(chunk)
    return received


def quic_exchange(address: str, sni: str) -> int:
    hello = w.client_hello(sni, pq=True, quic=True, alpn=("h3",))
    dcid, scid = os.urandom(8), os.urandom(8)
    half = len(hello) // 2  # a post-quantum hello spans two Initial packets, as browsers send it now
    first = w.quic_initial(dcid, scid, w.crypto_frame(0, hello[:half]), pn=0)
    second = w.quic_initial(dcid, scid, w.crypto_frame(half, hello[half:]), pn=1)
    received = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect((address, 443))
        sock.send(first)
        sock.send(second)
        try:
            while True:
                data = sock.recv(2048)
                if data == b"END":
                    break
                received += len(data)
        except TimeoutError:
            pass
    return received


def main() -> int:
    dns_server = sys.argv[1]
    netflix = resolve(dns_server, "www.netflix.com")
    tiktok = resolve(dns_server, "www.tiktok.com")
    jd = resolve(dns_server, "item.jd.com")
    steam = resolve(dns_server, "store.steampowered.com")
    result = {
        "tls": tls_get(netflix, "www.netflix.com"),
        "tls_no_sni": tls_get(steam, None),
        "http": http_get(jd, "item.jd.com"),
        "quic": quic_exchange(tiktok, "www.tiktok.com"),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
