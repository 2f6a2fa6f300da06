"""TLS end to end: a gateway and the collector reach the broker over mqtts:// with client
certificates, and the operator reaches the collector over HTTPS with HSTS and Secure cookies."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from collector.cli import main as collector_cli
from collector.ingest.tls import BrokerTlsError, broker_address
from collector.service import Service
from collector.settings import Settings
from protocol.codec import encode
from protocol.topics import topic_for
from tests.broker import free_port
from tests.faults.harness import ROOT, wait_until
from tests.faults.test_identity import BrokerProc, Client
from tests.protocol.messages import report
from tests.security.conftest import PASSWORD

MAKE_CA = ROOT / "packaging" / "mosquitto" / "make-ca.sh"
pytestmark = pytest.mark.timeout(120)


def test_a_broker_password_never_crosses_the_network_in_clear() -> None:
    with pytest.raises(BrokerTlsError, match="in clear"):
        broker_address(Settings(mqtt="mqtt://broker.example:1883", mqtt_password="secret"))
    assert broker_address(Settings(mqtt="mqtt://127.0.0.1:1883", mqtt_password="secret")).tls is None
    assert broker_address(Settings(mqtt="mqtts://broker.example")).port == 8883
    with pytest.raises(BrokerTlsError, match="CERT"):
        broker_address(Settings(mqtt="mqtts://broker.example", mqtt_cert="/x.crt"))


async def test_tls_end_to_end(mosquitto_binary: str, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    pki = tmp_path / "pki"
    for step in (["ca"], ["server", "localhost", "127.0.0.1"], ["client", "_collector"], ["client", "id-a"]):
        subprocess.run(["sh", str(MAKE_CA), str(pki), *step], check=True, capture_output=True, timeout=60)
    port = free_port()
    out = tmp_path / "broker"
    argv = ["broker-config", "--out", str(out), "--gateway", "id-a", "--listen", f"127.0.0.1:{port}"]
    argv += [
        "--cafile",
        str(pki / "ca.crt"),
        "--certfile",
        str(pki / "server.crt"),
        "--keyfile",
        str(pki / "server.key"),
    ]
    argv += ["--run-as", getpass.getuser(), "--log-file", str(tmp_path / "mosquitto.log")]
    assert collector_cli(argv) == 0
    broker = BrokerProc(mosquitto_binary, out / "mosquitto.conf", port)
    svc = Service(
        Settings(
            db=f"sqlite:///{tmp_path}/tls.db",
            mqtt=f"mqtts://127.0.0.1:{port}",
            mqtt_ca=str(pki / "ca.crt"),
            mqtt_cert=str(pki / "_collector.crt"),
            mqtt_key=str(pki / "_collector.key"),
            http="127.0.0.1:0",
            tls_cert=str(pki / "server.crt"),
            tls_key=str(pki / "server.key"),
            users=f"root:{PASSWORD}",
            store_writer="thread",
        )
    )
    await svc.start()
    try:
        await asyncio.to_thread(wait_until, lambda: svc.ingest.connected, 15, "collector over mqtts")
        tls = {"ca": str(pki / "ca.crt"), "cert": str(pki / "id-a.crt"), "key": str(pki / "id-a.key")}
        gateway = await asyncio.to_thread(Client, port, "id-a", "id-a", None, **tls)
        assert (
            await asyncio.to_thread(gateway.publish, topic_for("id-a", "report"), encode(report("id-a")))
            == "allowed"
        )
        await asyncio.to_thread(
            wait_until, lambda: svc.ingest.stats.stored >= 1, 15, "report over TLS stored"
        )
        gateway.close()

        base = f"https://127.0.0.1:{svc.port}"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        connector = aiohttp.TCPConnector(ssl=context)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=jar, headers={"Origin": base}
        ) as client:
            login = await client.post(
                f"{base}/login",
                data={"user": "root", "password": PASSWORD, "next": "/"},
                allow_redirects=False,
            )
            assert login.status == 302
            assert login.headers["Strict-Transport-Security"].startswith("max-age=63072000")
            cookie = login.headers["Set-Cookie"]
            assert (
                cookie.startswith("__Host-homescope_session=") and "Secure" in cookie and "HttpOnly" in cookie
            )
            assert "SameSite=Strict" in cookie and "Path=/" in cookie
            page = await client.get(f"{base}/")
            assert page.status == 200 and "id-a" in await page.text()
        async with aiohttp.ClientSession() as plain:  # plain HTTP on the HTTPS port gets nowhere
            with pytest.raises(aiohttp.ClientError):
                await plain.get(f"http://127.0.0.1:{svc.port}/login")
    finally:
        await svc.stop()
        broker.stop()
