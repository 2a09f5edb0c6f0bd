"""Which process loads a batch, and whether it is still alive: the lease a running load renews.

A running load renews its batch's lease every HEARTBEAT_SECONDS; a batch whose lease is older
than LEASE_SECONDS belongs to a load that died on another host (on this host, the process id tells
at once). Only then may another load of the same file roll it back.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HEARTBEAT_SECONDS = 10
LEASE_SECONDS = 120


def _process_start(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


LOADER = f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def alive(loader: str, fresh: bool) -> bool:
    """A batch's load is running: its lease is fresh and its process is not known to be gone."""
    return fresh and not dead(loader)


def dead(loader: str) -> bool:
    """Whether the loading process named ``loader`` (host:pid:start) is known to be gone: only a
    process of this host can be checked; elsewhere the lease decides."""
    host, _, rest = loader.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    return _process_start(int(pid_text)) != start
