"""Progress display for long loads: rows, rows/s and elapsed time (quiet when asked)."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RowsPerSecondColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Task) -> Text:
        speed = task.fields.get("rows_per_second")
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


class LoadProgress:
    """One bar per source. Totals are rows when known, else bytes of the file."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            RowsPerSecondColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled,
            transient=False,
        )

    def __enter__(self) -> LoadProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(kind, value, tb)

    def start(self, description: str, total: int | None, unit: str) -> TaskID:
        return self._progress.add_task(description, total=total, unit=unit, rows_per_second=0.0)

    def update(self, task: TaskID, completed: int, rows: int, elapsed: float) -> None:
        speed = rows / elapsed if elapsed > 0 else 0.0
        self._progress.update(task, completed=completed, rows_per_second=speed)

    def finish(self, task: TaskID) -> None:
        total = self._progress.tasks[task].total
        if total is not None:
            self._progress.update(task, completed=total)
        self._progress.stop_task(task)


def interactive() -> bool:
    return sys.stderr.isatty()
