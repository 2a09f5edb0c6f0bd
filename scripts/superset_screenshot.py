#!/usr/bin/env python3
"""Screenshot a Superset dashboard with headless Chromium (Debian's `chromium` package).

Logs in through Superset's own login form (the session cookie goes to the browser), opens the
dashboard, waits until every chart has drawn, and saves a PNG. Chromium is driven over its
DevTools protocol on a pipe (--remote-debugging-pipe), so nothing beyond the standard library
and `requests` is needed:

    python scripts/superset_screenshot.py --url http://127.0.0.1:8088 --dashboard student-scores \\
        --out docs/img/superset_dashboard.png

`scripts/superset.sh screenshot` runs it against the Superset that `scripts/superset.sh run` started.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)

# Counts, in the page, the dashboard's chart slots, those still loading, those drawn and those
# that show an error. A slot is drawn when its chart put a canvas, an svg or a table in it.
PROGRESS_JS = """
(() => {
  const holders = [...document.querySelectorAll('.dashboard-chart, [data-test="chart-container"]')];
  const slots = [...document.querySelectorAll('[data-test="dashboard-component-chart-holder"]')];
  const loading = document.querySelectorAll('[data-test="loading-indicator"], .loading').length;
  const drawn = slots.filter(s => s.querySelector('canvas, svg, table')).length;
  const errors = [...document.querySelectorAll('[data-test="chart-error"], .ant-alert-error')]
      .map(e => e.innerText.slice(0, 300));
  return JSON.stringify({slots: slots.length, holders: holders.length, loading, drawn, errors});
})()
"""


class DevTools:
    """Chrome DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, chromium: str, user_data_dir: Path, width: int, height: int) -> None:
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={user_data_dir}",
            f"--window-size={width},{height}",
        ]
        # The shell hands our stdin/stdout pipes to Chromium as fds 3 and 4.
        self.process = subprocess.Popen(
            ["sh", "-c", 'exec "$@" 3<&0 4>&1 0</dev/null 1>&2', "chromium", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._in = self.process.stdin
        self._out = self.process.stdout
        self._next_id = 0
        self._buffer = b""
        self._lock = threading.Lock()

    def call(self, method: str, session: str | None = None, timeout: float = 60.0, **params: Any) -> Any:
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
            if session:
                message["sessionId"] = session
            self._in.write(json.dumps(message).encode() + b"\0")
            self._in.flush()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                reply = self._read()
                if reply.get("id") == message_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            raise TimeoutError(f"{method}: no answer in {timeout}s")

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._out.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def login_cookie(url: str, username: str, password: str) -> tuple[str, str]:
    """Log in through Superset's login form; the session cookie (name, value)."""
    session = requests.Session()
    page = session.get(f"{url}/login/", timeout=30)
    page.raise_for_status()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if not match:
        raise RuntimeError("no csrf_token on Superset's login page")
    response = session.post(
        f"{url}/login/",
        data={"csrf_token": match.group(1), "username": username, "password": password},
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code not in (302, 303) or "/login" in response.headers.get("Location", "/login"):
        raise RuntimeError(f"Superset login failed for {username!r} (HTTP {response.status_code})")
    for cookie in session.cookies:
        if cookie.name == "session" and cookie.value:
            return cookie.name, cookie.value
    raise RuntimeError("Superset set no session cookie")


def screenshot(
    url: str,
    dashboard: str,
    out: Path,
    *,
    username: str,
    password: str,
    width: int = 1600,
    height: int = 1500,
    timeout: float = 120.0,
    chromium: str | None = None,
) -> dict[str, Any]:
    """Save a PNG of the dashboard once all its charts have drawn; returns the last progress count."""
    browser = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        raise RuntimeError("chromium not found: apt-get install chromium")
    name, value = login_cookie(url, username, password)
    with tempfile.TemporaryDirectory(prefix="superset-shot-") as profile:
        tools = DevTools(browser, Path(profile), width, height)
        try:
            target = tools.call("Target.createTarget", url="about:blank")["targetId"]
            session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            tools.call("Network.setCookie", session, name=name, value=value, url=url, httpOnly=True)
            tools.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            tools.call("Page.navigate", session, url=f"{url}/superset/dashboard/{dashboard}/?standalone=1")
            progress = _wait_for_charts(tools, session, timeout)
            time.sleep(1.5)  # the charts' draw-in animation
            shot = tools.call("Page.captureScreenshot", session, format="png")
        finally:
            tools.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return progress


def _wait_for_charts(tools: DevTools, session: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    progress: dict[str, Any] = {}
    settled = 0
    while time.monotonic() < deadline:
        time.sleep(1)
        result = tools.call("Runtime.evaluate", session, expression=PROGRESS_JS, returnByValue=True)
        progress = json.loads(result.get("result", {}).get("value") or "{}")
        done = (
            progress.get("slots", 0) > 0 and progress["drawn"] + len(progress["errors"]) >= progress["slots"]
        )
        settled = settled + 1 if done and not progress.get("loading") else 0
        if settled >= 2:
            return progress
    raise TimeoutError(f"the dashboard did not finish drawing in {timeout}s: {progress}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("SUPERSET_URL", "http://127.0.0.1:8088"))
    parser.add_argument("--dashboard", default="student-scores", help="slug or id")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "docs" / "img" / "superset_dashboard.png",
    )
    parser.add_argument("--username", default=os.environ.get("SCORES_SUPERSET_ADMIN_USER", "admin"))
    parser.add_argument("--password", default=os.environ.get("SCORES_SUPERSET_ADMIN_PASSWORD", "admin"))
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1500)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    progress = screenshot(
        args.url.rstrip("/"),
        args.dashboard,
        args.out,
        username=args.username,
        password=args.password,
        width=args.width,
        height=args.height,
        timeout=args.timeout,
    )
    print(f"{args.out}: {progress['drawn']} of {progress['slots']} charts drawn", file=sys.stderr)
    for error in progress["errors"]:
        print(f"chart error: {error}", file=sys.stderr)
    return 1 if progress["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
