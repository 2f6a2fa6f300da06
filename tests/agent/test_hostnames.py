"""Host names reach ``socket`` and ``ssl`` without the ``idna`` codec (OpenWrt without python3-codecs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.publisher.hostnames import decode_ascii, encode_ascii

# A Python whose idna codec cannot load, exactly as on OpenWrt without python3-codecs: encodings/idna.py
# imports stringprep, which imports unicodedata (in python3-codecs there).
_WITHOUT_UNICODEDATA = "import sys; sys.modules['unicodedata'] = None\n"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_UNICODEDATA + code],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_without_unicodedata_a_str_host_cannot_even_be_resolved() -> None:
    """The failure the agent hit on the router: ``getaddrinfo`` of any ``str`` needs the codec."""
    result = _run("import socket; socket.getaddrinfo('127.0.0.1', 1883)")
    assert result.returncode != 0
    assert "LookupError: unknown encoding: idna" in result.stderr


def test_the_ascii_stand_in_lets_socket_and_ssl_use_host_names() -> None:
    code = """
import socket, ssl
from agent.publisher.hostnames import ensure_idna_codec
assert ensure_idna_codec() is True
socket.getaddrinfo('localhost', 1883)
print(ssl.create_default_context()._encode_hostname('Broker.example.net.'))
try:
    'br\\u00f6ker.example'.encode('idna')
except UnicodeError as exc:
    print(exc)
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Broker.example.net."
    assert "python3-codecs" in lines[1]


def test_with_the_real_codec_nothing_is_registered() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from agent.publisher.hostnames import ensure_idna_codec; print(ensure_idna_codec())",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("name", ["", "a..b", "x" * 64 + ".example", "\u00e9.example"])
def test_names_idna_would_refuse_are_refused(name: str) -> None:
    if not name:
        assert encode_ascii(name) == (b"", 0)
        return
    with pytest.raises(UnicodeError):
        encode_ascii(name)


def test_round_trip() -> None:
    assert encode_ascii("mqtt.example.net") == (b"mqtt.example.net", 16)
    assert decode_ascii(b"mqtt.example.net") == ("mqtt.example.net", 16)


def test_a_non_ascii_broker_url_is_a_configuration_error() -> None:
    """urlsplit would import unicodedata to check it: say what to write instead of crashing on the router."""
    from agent.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="xn--"):
        load_config(None, {"mqtt_url": "mqtts://br\u00f6ker.example:8883"})
