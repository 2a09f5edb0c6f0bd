"""Landing batches in the raw tables: idempotent, crash-safe, nothing lost.

A load is a *batch*. Its life, recorded in ``load_audit`` (ReplacingMergeTree, read with FINAL):

1. ``started``: the audit record is written before any row.
2. Rows land in ``student_scores`` and rejected rows in ``quarantine``, tagged with the batch id.
   Landed rows are invisible to dbt: staging reads only rows of *committed* batches.
3. Duplicate keys inside the batch are moved to the quarantine (in SQL, at any scale).
4. ``committed``: the audit record gets ``committed_at``. This single-row insert is the commit
   marker; the counts are checked first (rows read = rows landed + rows quarantined).

A load killed at any moment leaves at most an uncommitted batch. The next load of the same source
(same sha256) finds it, deletes its rows, marks it ``aborted`` and loads again, so a re-run ends
with exactly the rows of one successful load. A source whose checksum is already committed is
skipped: loading the same file twice changes nothing. A bad file (unreadable, wrong header, ...)
rolls its batch back and records ``failed``.

Why a commit marker rather than insert deduplication tokens or ReplacingMergeTree: it makes a
whole file atomic (not one insert block), it works the same on chDB, a single server and a
cluster, and corrections stay expressible (a later batch with the same key wins in the fact table).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from loaders.audit import LoadAudit
from loaders.config import DEFAULT_RETENTION_YEARS
from loaders.fast_path import EmbeddedEngine
from loaders.leases import LOADER, alive
from loaders.pipeline import Pipeline
from loaders.quarantine import Quarantine
from loaders.raw_tables import RawTables
from loaders.schema import raw_table_ddl


class Landing:
    """The raw tables of one warehouse, and the steps of a load on them: its audit record
    (``audit``), its landing pipeline (``pipeline``), the quarantine of rows the pipeline does not
    check (``quarantine``), and what takes several of them (schema, roll-back)."""

    def __init__(
        self,
        client: Client,
        database: str,
        retention_years: int = DEFAULT_RETENTION_YEARS,
        engine_path: str | None = None,
    ) -> None:
        """``engine_path``: the embedded engine's data directory when ``client`` is on this
        process's embedded engine (inserts then read Arrow memory directly), else None."""
        self.retention_years = retention_years
        self.tables = RawTables(client, database)
        engine = EmbeddedEngine(engine_path) if engine_path is not None else None
        self.audit = LoadAudit(self.tables)
        self.pipeline = Pipeline(self.tables, self.audit, engine)
        self.quarantine = Quarantine(self.tables, engine)

    def ensure_schema(self) -> None:
        for statement in raw_table_ddl(self.tables.database, self.retention_years):
            self.tables.client.command(statement)
        self.audit.number_legacy_batches()

    def abort_unfinished(self, checksum: str) -> list[str]:
        """Roll back batches of this source left ``started`` by a load that died: its process is
        gone (same host) or it stopped renewing its lease. A load still running is left alone."""
        aborted = []
        for batch_id, owner, fresh in self.audit.started(checksum):
            if owner == LOADER or alive(owner, fresh):
                continue
            self.pipeline.close(batch_id)
            self.tables.delete_rows(batch_id)
            self.audit.set_status(batch_id, "aborted", "rolled back: the load did not finish")
            aborted.append(batch_id)
        return aborted

    def fail(self, batch_id: str, message: str) -> None:
        """Roll a batch back after an error: no row of it stays."""
        self.pipeline.close(batch_id)
        self.tables.delete_rows(batch_id)
        self.audit.set_status(batch_id, "failed", message)
