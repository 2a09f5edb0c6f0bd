"""Fault injection for the crash-safety tests: die (SIGKILL) at a named point of a load.

Set SCORES_FAULT_INJECT=<point> in the environment of a loader process; nothing happens otherwise.
Points: after_begin, after_first_batch, before_commit, after_commit.
"""

from __future__ import annotations

import os
import signal

ENV = "SCORES_FAULT_INJECT"


def checkpoint(point: str) -> None:
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
