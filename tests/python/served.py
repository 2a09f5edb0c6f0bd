"""`scores serve` as its own process, on its own data directory, for tests over real sockets."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loaders.config import PROJECT_DIR

USERS = {
    "bi": {"password": "bi-secret", "role": "readonly"},
    "loader": {"password": "l-secret", "role": "readwrite"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it does not leave."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    users_file: Path
    log: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        sql: str | bytes | None = None,
        user: str | None = "bi",
        params: dict[str, str] | None = None,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        password: str | None = None,
        connection: http.client.HTTPConnection | None = None,
        timeout: float = 60,
    ) -> Reply:
        all_headers = dict(headers or {})
        if user is not None:
            secret = password if password is not None else USERS.get(user, {}).get("password", "")
            all_headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        path = "/" + ("?" + urllib.parse.urlencode(params) if params else "")
        own = connection is None
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            body = sql.encode() if isinstance(sql, str) else sql
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            return Reply(response.status, data, {k.lower(): v for k, v in response.getheaders()})
        finally:
            if own:
                conn.close()

    def ok(self, sql: str, user: str = "loader", **kwargs: Any) -> str:
        reply = self.request(sql, user, **kwargs)
        assert reply.status == 200, f"{sql!r} as {user}: {reply.status} {reply.text}"
        return reply.text

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def alive(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/ping")
            return conn.getresponse().read() == b"Ok.\n"
        except OSError:
            return False
        finally:
            conn.close()


@contextmanager
def serving(
    tmp: Path,
    *args: str,
    users: dict[str, dict[str, str]] | None = None,
    env: dict[str, str] | None = None,
    databases: tuple[str, str] = ("scores", "scores_raw"),
) -> Iterator[Served]:
    """Start `scores serve` on a fresh data directory under ``tmp``; stop it afterwards."""
    data_dir = tmp / "chdb"
    users_file = tmp / "users.json"
    if users is not None or "SCORES_SERVE_USERS_FILE" not in (env or {}):
        users_file.write_text(json.dumps(users if users is not None else USERS))
    port = free_port()
    log = tmp / "serve.log"
    environment = {
        **os.environ,
        "SCORES_TARGET": "dev",
        "SCORES_CHDB_PATH": str(data_dir),
        "SCORES_DATABASE": databases[0],
        "SCORES_RAW_DATABASE": databases[1],
        "SCORES_SERVE_USERS_FILE": str(users_file),
        **(env or {}),
    }
    environment.pop("SCORES_SERVE_USERS", None)
    if env is not None and env.get("SCORES_SERVE_USERS_FILE") == "":
        environment.pop("SCORES_SERVE_USERS_FILE")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), *args],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, port, data_dir, users_file, log, environment)
    try:
        deadline = time.monotonic() + 60
        while not served.alive():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"scores serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield served
    finally:
        stop(process)
