"""Starting ``scores serve`` on the embedded warehouse: its users, the engine's per-role limits and
the HTTP server's, from the command line's options (cli/main.py)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from endpoint.engine_access import READER_LIMITS, WRITER_LIMITS, EngineAccess
from endpoint.server import EndpointServer, Limits
from endpoint.service import Endpoint, Options
from endpoint.users import Users
from loaders.config import Settings


@dataclass(frozen=True)
class ServeConfig:
    """How to serve: where to listen, the largest request, the longest queries."""

    host: str
    port: int
    max_request_mb: int
    allowed_hosts: tuple[str, ...]
    user_files: Path | None
    reader_timeout: int  # seconds
    writer_timeout: int
    socket_timeout: float


@dataclass
class Serving:
    server: EndpointServer  # bound; serve_forever() runs it
    users: Users
    users_file: Path
    generated: bool  # the users file was made now, with random passwords


def serve_directory(chdb_path: str | os.PathLike[str]) -> Path:
    """Where the endpoint keeps its engine configuration and generated users file."""
    real = Path(os.path.realpath(chdb_path))
    return real.with_name(real.name + ".serve")


def start(settings: Settings, config: ServeConfig) -> Serving:
    """Open the warehouse and bind the endpoint."""
    directory = serve_directory(settings.chdb_path)
    users_file = directory / "users.json"
    generated = not users_file.exists() and not (
        os.environ.get("SCORES_SERVE_USERS") or os.environ.get("SCORES_SERVE_USERS_FILE")
    )
    users = Users.from_env(users_file)
    options = Options(databases=(settings.database, settings.raw_database), user_files=config.user_files)
    limits = Limits(
        max_request_bytes=config.max_request_mb << 20,
        allowed_hosts=frozenset(config.allowed_hosts),
        socket_seconds=config.socket_timeout,
        body_seconds=max(config.socket_timeout, 300.0),
    )
    access = EngineAccess(
        directory,
        reader=dataclasses.replace(READER_LIMITS, max_execution_time=config.reader_timeout),
        writer=dataclasses.replace(WRITER_LIMITS, max_execution_time=config.writer_timeout),
    )
    endpoint = Endpoint(str(settings.chdb_path), access, options)
    try:
        server = EndpointServer((config.host, config.port), endpoint, users, limits)
    except BaseException:
        endpoint.close()
        raise
    return Serving(server, users, users_file, generated)
