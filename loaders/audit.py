"""The audit record of each batch (``load_audit``): started, renewed while its load runs,
then committed, failed or aborted; the commit marker and the order of committed loads."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

from loaders.leases import HEARTBEAT_SECONDS, LEASE_SECONDS, LOADER, alive
from loaders.raw_tables import RawTables
from loaders.schema import AUDIT_COLUMNS, AUDIT_TABLE


def new_batch_id() -> str:
    # the start time makes ids readable; the order of loads is load_sequence, not the id
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:12]


class LoadInProgress(Exception):  # noqa: N818 (a state, not an error)
    """Another load of the same source went first: ``batch_id`` runs it (or committed it)."""

    def __init__(self, batch_id: str, committed: bool) -> None:
        super().__init__(batch_id)
        self.batch_id, self.committed = batch_id, committed


@dataclass(frozen=True)
class PreviousLoad:
    batch_id: str
    source: str
    committed_at: dt.datetime
    rows_landed: int
    rows_quarantined: int


@dataclass(frozen=True)
class BatchCounts:
    rows_read: int
    rows_landed: int
    rows_quarantined: int


class LoadAudit:
    """The audit records of one warehouse's batches."""

    def __init__(self, tables: RawTables) -> None:
        self.tables = tables
        self.client = tables.client
        self.audit_table = tables.table(AUDIT_TABLE)
        self._heartbeats: dict[str, float] = {}  # batch -> when its lease was last renewed

    def number_legacy_batches(self) -> None:
        """Give batches committed before load_sequence existed their order: by batch id, which
        was the rule then (ids began with the load's start time)."""
        legacy = [
            r[0]
            for r in self.client.query(
                f"""
                SELECT batch_id FROM {self.audit_table} FINAL
                WHERE status = 'committed' AND load_sequence = 0 ORDER BY batch_id
                """
            ).result_rows
        ]
        if not legacy:
            return
        self.client.command(
            f"""
            INSERT INTO {self.audit_table} ({", ".join(AUDIT_COLUMNS)})
            SELECT batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                   rows_quarantined, status, message, started_at, finished_at, committed_at, now64(6),
                   (SELECT max(load_sequence) FROM {self.audit_table} FINAL)
                       + indexOf({{ids:Array(String)}}, batch_id),
                   loader
            FROM {self.audit_table} FINAL WHERE has({{ids:Array(String)}}, batch_id)
            """,
            parameters={"ids": legacy},
        )

    def previous_load(self, checksum: str) -> PreviousLoad | None:
        rows = self.client.query(
            f"""
            SELECT batch_id, source, committed_at, rows_landed, rows_quarantined
            FROM {self.audit_table} FINAL
            WHERE source_checksum = {{checksum:String}} AND status = 'committed'
            ORDER BY committed_at LIMIT 1
            """,
            parameters={"checksum": checksum},
        ).result_rows
        return PreviousLoad(*rows[0]) if rows else None

    def started(self, checksum: str) -> list[tuple[str, str, bool]]:
        """(batch id, loader, fresh) of this source's batches still ``started``, oldest first;
        fresh: its loader wrote a heartbeat within LEASE_SECONDS."""
        rows = self.client.query(
            f"""
            SELECT batch_id, loader, _updated_at >= now64(6) - toIntervalSecond({LEASE_SECONDS})
            FROM {self.audit_table} FINAL
            WHERE source_checksum = {{checksum:String}} AND status = 'started'
            ORDER BY started_at, batch_id
            """,
            parameters={"checksum": checksum},
        ).result_rows
        return [(str(b), str(owner), bool(fresh)) for b, owner, fresh in rows]

    def begin(self, source: str, checksum: str, source_bytes: int, force: bool = False) -> str:
        """Start a batch. Raises :class:`LoadInProgress` if another live load of the same source
        began first (or, without ``force``, committed meanwhile): a file commits at most once."""
        batch_id = new_batch_id()
        self.client.command(
            f"""
            INSERT INTO {self.audit_table}
                (batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                 rows_quarantined, status, message, started_at, _updated_at, loader)
            -- SELECT, not VALUES: a ClickHouse endpoint may refuse expressions inside VALUES data
            SELECT {{b:String}}, {{s:String}}, {{c:String}}, {{n:UInt64}}, 0, 0, 0, 'started', '',
                   now64(6), now64(6), {{o:String}}
            """,
            parameters={"b": batch_id, "s": source, "c": checksum, "n": source_bytes, "o": LOADER},
        )
        self._heartbeats[batch_id] = time.monotonic()
        # every concurrent load of the source sees the same set of batches once its own row is
        # in: the oldest live one goes ahead, the others step back
        live = [b for b, owner, fresh in self.started(checksum) if b == batch_id or alive(owner, fresh)]
        winner = live[0] if live else batch_id
        committed = None if force else self.previous_load(checksum)
        if winner != batch_id or committed is not None:
            other = committed.batch_id if committed is not None else winner
            self.set_status(batch_id, "aborted", f"another load of the same file went first (batch {other})")
            self._heartbeats.pop(batch_id, None)
            raise LoadInProgress(other, committed is not None)
        return batch_id

    def record_refused(self, source: str, checksum: str, source_bytes: int, message: str) -> str:
        """An audit record (status failed, no rows) for a file refused before its batch began."""
        batch_id = new_batch_id()
        self.client.command(
            f"""
            INSERT INTO {self.audit_table}
                (batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                 rows_quarantined, status, message, started_at, finished_at, _updated_at, loader)
            SELECT {{b:String}}, {{s:String}}, {{c:String}}, {{n:UInt64}}, 0, 0, 0, 'failed', {{m:String}},
                   now64(6), now64(6), now64(6), {{o:String}}
            """,
            parameters={
                "b": batch_id,
                "s": source,
                "c": checksum,
                "n": source_bytes,
                "m": message[:2000],
                "o": LOADER,
            },
        )
        return batch_id

    def heartbeat(self, batch_id: str) -> None:
        """Renew the batch's lease (at most every HEARTBEAT_SECONDS): the load is alive."""
        last = self._heartbeats.get(batch_id)
        if last is None or time.monotonic() - last < HEARTBEAT_SECONDS:
            return
        self._heartbeats[batch_id] = time.monotonic()
        self.set_status(batch_id, "started", "")

    def wait_for(self, batch_id: str, timeout: float) -> str:
        """Wait until a batch is no longer ``started`` (or its load died); its final status."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.client.query(
                f"""
                SELECT status, loader, _updated_at >= now64(6) - toIntervalSecond({LEASE_SECONDS})
                FROM {self.audit_table} FINAL WHERE batch_id = {{b:String}}
                """,
                parameters={"b": batch_id},
            ).result_rows
            if not rows:
                return "missing"
            status, owner, fresh = str(rows[0][0]), str(rows[0][1]), bool(rows[0][2])
            if status != "started":
                return status
            if not alive(owner, fresh):
                return "dead"
            if time.monotonic() > deadline:
                return "started"
            time.sleep(0.5)

    def commit(self, batch_id: str, rows_read: int, message: str = "") -> BatchCounts:
        landed, quarantined = self.tables.counts(batch_id)
        if landed + quarantined != rows_read:
            raise RuntimeError(
                f"batch {batch_id}: read {rows_read} rows but landed {landed} and quarantined {quarantined}"
            )
        # load_sequence: one more than any committed batch, read in the same statement, so a load
        # that commits after another always ranks after it (latest load wins, by construction).
        # Two loads committing at the same instant can read the same maximum: the one with the
        # larger batch id then commits again, after the other.
        for _ in range(100):
            self.client.command(
                f"""
                INSERT INTO {self.audit_table} ({", ".join(AUDIT_COLUMNS)})
                SELECT batch_id, source, source_checksum, source_bytes,
                       {{r:UInt64}}, {{l:UInt64}}, {{q:UInt64}}, 'committed', {{m:String}},
                       started_at, now64(6), now64(6), now64(6),
                       (SELECT max(load_sequence) FROM {self.audit_table} FINAL) + 1, loader
                FROM {self.audit_table} FINAL WHERE batch_id = {{b:String}}
                """,
                parameters={"b": batch_id, "r": rows_read, "l": landed, "q": quarantined, "m": message},
            )
            clash = self.client.query(
                f"""
                SELECT count() FROM {self.audit_table} FINAL
                WHERE status = 'committed' AND batch_id < {{b:String}} AND load_sequence = (
                    SELECT load_sequence FROM {self.audit_table} FINAL WHERE batch_id = {{b:String}}
                )
                """,
                parameters={"b": batch_id},
            ).result_rows[0][0]
            if not clash:
                break
        self._heartbeats.pop(batch_id, None)
        return BatchCounts(rows_read, landed, quarantined)

    def set_status(self, batch_id: str, status: str, message: str) -> None:
        if status != "started":
            self._heartbeats.pop(batch_id, None)
        self.client.command(
            f"""
            INSERT INTO {self.audit_table} ({", ".join(AUDIT_COLUMNS)})
            SELECT batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                   rows_quarantined, {{st:String}}, if({{st:String}} = 'started', message, {{m:String}}),
                   started_at, if({{st:String}} = 'started', NULL, now64(6)), NULL, now64(6), 0, loader
            FROM {self.audit_table} FINAL WHERE batch_id = {{b:String}}
            """,
            parameters={"b": batch_id, "st": status, "m": message[:2000]},
        )
