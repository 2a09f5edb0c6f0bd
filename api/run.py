"""The report API inside ``scores serve``: the process that owns the embedded engine.

``scores serve --api-port 8124`` starts it beside the ClickHouse HTTP endpoint, on the same
engine, so a `dbt build` through the endpoint runs while the API answers, and the API switches to
the new build when the run publishes it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import uvicorn

from api.app import create_app
from api.service import ChdbEngine, Reports
from endpoint.service import Endpoint
from endpoint.users import Users

DEFAULT_CACHE_MB = 256


def cache_bytes() -> int:
    """SCORES_API_CACHE_MB (default 256): the bytes of answers held per build."""
    text = os.environ.get("SCORES_API_CACHE_MB", "").strip() or str(DEFAULT_CACHE_MB)
    if not text.isdigit() or not 1 <= int(text) <= 1 << 20:
        raise ValueError(f"SCORES_API_CACHE_MB must be a whole number of MiB from 1, not {text!r}")
    return int(text) << 20


@dataclass
class RunningApi:
    reports: Reports
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.reports.stop()


def start_api(
    endpoint: Endpoint, users: Users, host: str, port: int, state_database: str, max_bytes: int
) -> RunningApi:
    options = endpoint.options
    reports = Reports(
        ChdbEngine(endpoint.open_raw),
        database=options.report_database,
        state_database=state_database,
        roster_database=options.roster_database,
        max_bytes=max_bytes,
    )
    reports.start()
    config = uvicorn.Config(
        create_app(reports, users), host=host, port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="scores-api", daemon=True)
    thread.start()
    return RunningApi(reports, server, thread)
