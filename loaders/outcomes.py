"""What a load did, in lines for a person: each source's outcome with a sample of the rows it
rejected, then a summary when there were several sources (the CLI prints them and chooses the
exit code)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from loaders.file_errors import printable
from loaders.load import LoadResult


@dataclass(frozen=True)
class Line:
    text: str  # control characters of file names and messages escaped
    to_stderr: bool = False
    failure: bool = False  # the message of a source that failed


def outcome_lines(results: list[LoadResult], raw_database: str, interrupted: int = 0) -> Iterator[Line]:
    """Every source's outcome, then one summary line (for several sources, or an interrupted load)."""
    for r in results:
        if r.status == "skipped":
            yield Line(printable(f"skipped {r.source}: {r.message}"))
        elif r.status == "failed":
            yield Line(printable(r.message), to_stderr=True, failure=True)
        else:
            yield from _loaded(r, raw_database)
    if len(results) > 1 or interrupted:
        failed = sum(r.status == "failed" for r in results)
        landed = sum(r.rows_landed for r in results)
        ok = len(results) - failed
        yield Line(f"{len(results)} sources: {ok} ok, {failed} failed; {landed:,} rows landed")
    if interrupted:
        yield Line(
            f"interrupted: {interrupted} source(s) not loaded (the one under way rolled back)", to_stderr=True
        )


def _loaded(r: LoadResult, raw_database: str) -> Iterator[Line]:
    speed = f"{r.rows_per_second:,.0f} rows/s" if r.seconds else ""
    yield Line(
        f"loaded {r.source}: {r.rows_read:,} rows read, {r.rows_landed:,} landed, "
        f"{r.rows_quarantined:,} quarantined in {r.seconds:.1f}s ({speed}); batch {r.batch_id}"
    )
    if r.message:
        yield Line(printable(f"  note: {r.message.strip()}"))
    for row, column, reason in r.rejected_sample:
        where = f"row {row}" + (f", column {column}" if column else "")
        yield Line(printable(f"  rejected {r.source}, {where}: {reason}"), to_stderr=True)
    if r.rows_quarantined > len(r.rejected_sample):
        yield Line(
            f"  ... {r.rows_quarantined - len(r.rejected_sample):,} more in "
            f"{raw_database}.quarantine (batch {r.batch_id})",
            to_stderr=True,
        )
