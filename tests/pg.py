"""A real PostgreSQL for tests: the machine's server, or a throwaway cluster.

Order: ``HOMESCOPE_TEST_PG`` (a server URL), the local server on 127.0.0.1:5432, then a
cluster made with ``initdb``/``pg_ctl`` on a free port (as the ``postgres`` user when
root, since initdb refuses root). Each test gets a database of its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from tests.broker import free_port


def _binaries() -> str | None:
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return str(Path(shutil.which("initdb") or "").parent)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else None


class Postgres:
    """One server for the session; ``database()`` makes a fresh database URL."""

    def __init__(self) -> None:
        self.admin_url: str | None = None
        self.skip_reason = ""
        self._cluster: Path | None = None
        self._bin: str | None = None

    def start(self) -> None:
        for url in filter(
            None, [os.environ.get("HOMESCOPE_TEST_PG"), "postgresql://postgres@127.0.0.1:5432/postgres"]
        ):
            try:
                with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                self.admin_url = url
                return
            except psycopg.Error:
                continue
        self._bin = _binaries()
        if self._bin is None:
            self.skip_reason = "no PostgreSQL server reachable and no initdb/pg_ctl binaries installed"
            return
        self._throwaway()

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def _throwaway(self) -> None:
        assert self._bin is not None
        self._cluster = Path(tempfile.mkdtemp(prefix="hs-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self._cluster, "postgres", "postgres")
        data = self._cluster / "data"
        port = free_port()
        subprocess.run(
            self._as_owner([f"{self._bin}/initdb", "-D", str(data), "-U", "postgres", "-A", "trust"]),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            self._as_owner(
                [
                    f"{self._bin}/pg_ctl",
                    "-D",
                    str(data),
                    "-l",
                    str(self._cluster / "log"),
                    "-w",
                    "-o",
                    f"-p {port} -k {self._cluster} -c listen_addresses=127.0.0.1",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def database(self) -> str:
        assert self.admin_url is not None
        name = f"hs_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop(self, url: str) -> None:
        assert self.admin_url is not None
        name = url.rsplit("/", 1)[1]
        deadline = time.monotonic() + 10
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while True:
                try:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                    return
                except psycopg.Error:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)

    def stop(self) -> None:
        if self._cluster is not None and self._bin is not None:
            subprocess.run(
                self._as_owner(
                    [f"{self._bin}/pg_ctl", "-D", str(self._cluster / "data"), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                check=False,
            )
            shutil.rmtree(self._cluster, ignore_errors=True)
