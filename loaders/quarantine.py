"""Rows that go to the quarantine outside the pipeline's checks: lines the readers rejected, keys
repeated inside a batch, districts reported under another state."""

from __future__ import annotations

import pyarrow as pa

from loaders.fast_path import EmbeddedEngine
from loaders.raw_tables import RawTables
from loaders.schema import AUDIT_TABLE, INPUT_COLUMN_NAMES, QUARANTINE_TABLE, SCORES_TABLE
from loaders.validation import Rejected

KEY = ("school_year", "test_id", "student_id")


class Quarantine:
    """The quarantine of one warehouse: rejected lines inserted as they are, duplicates and state
    conflicts moved there from a batch's landed rows by SQL."""

    def __init__(self, tables: RawTables, engine: EmbeddedEngine | None) -> None:
        self.tables = tables
        self.client = tables.client
        self._engine = engine

    def add_rejected(self, batch_id: str, source: str, rejected: Rejected) -> None:
        """Rows rejected before validation (malformed lines): straight to the quarantine."""
        if not len(rejected):
            return
        n = len(rejected)
        table = pa.table(
            {
                "_batch_id": pa.array([batch_id] * n, pa.string()),
                "source": pa.array([source] * n, pa.string()),
                "row_number": pa.array(rejected.row_numbers, pa.uint64()),
                "column": pa.array([""] * n, pa.string()),
                "reason": pa.array(rejected.reasons, pa.string()),
                "raw_row": pa.array(rejected.raw_rows, pa.string()),
            }
        )
        if self._engine is None:
            self.client.insert_arrow(QUARANTINE_TABLE, table, database=self.tables.database)
        else:
            self._engine.insert_arrow(self.tables.table(QUARANTINE_TABLE), table)

    def duplicates(self, batch_id: str, source: str) -> int:
        """Move rows whose key repeats an earlier row of the same batch to the quarantine.

        The first row of a key stays; later rows go to the quarantine naming the first row. A hash
        pass finds candidate keys first, so memory stays small at any batch size.
        """
        scores, key = self.tables.table(SCORES_TABLE), ", ".join(KEY)
        values = ", ".join(INPUT_COLUMN_NAMES)
        params = {"b": batch_id, "s": source}
        duplicated_keys = f"""
            SELECT {key}, min(_row_number) AS first_row, uniqExact(cityHash64({values})) = 1 AS exact
            FROM {scores}
            WHERE _batch_id = {{b:String}}
              AND cityHash64({key}) IN (
                  SELECT cityHash64({key}) AS h FROM {scores} WHERE _batch_id = {{b:String}}
                  GROUP BY h HAVING count() > 1)
            GROUP BY {key} HAVING count() > 1
        """
        before = self.tables.counts(batch_id)[1]
        self.client.command(
            f"""
            INSERT INTO {self.tables.table(QUARANTINE_TABLE)}
                (_batch_id, source, row_number, column, reason, raw_row)
            SELECT {{b:String}}, {{s:String}}, s._row_number, 'student_id',
                   concat(if(d.exact, 'duplicate of row ',
                             'conflicting duplicate: same school_year, test_id and student_id as row '),
                          toString(d.first_row)),
                   formatRowNoNewline('JSONEachRow', {", ".join(f"s.{c}" for c in INPUT_COLUMN_NAMES)})
            FROM {scores} AS s INNER JOIN ({duplicated_keys}) AS d USING ({key})
            WHERE s._batch_id = {{b:String}} AND s._row_number != d.first_row
            """,
            parameters=params,
        )
        return self._moved_to_quarantine(batch_id, before)

    def state_conflicts(self, batch_id: str, source: str) -> int:
        """Move rows that put a district in another state to the quarantine.

        A district is in one state: the marts group districts by state, and a district reported
        under two states would be counted twice. The state known from committed loads wins; a
        district new to the warehouse takes the state of its first row in this batch.
        """
        scores, audit = self.tables.table(SCORES_TABLE), self.tables.table(AUDIT_TABLE)
        params = {"b": batch_id, "s": source}
        before = self.tables.counts(batch_id)[1]
        self.client.command(
            f"""
            INSERT INTO {self.tables.table(QUARANTINE_TABLE)}
                (_batch_id, source, row_number, column, reason, raw_row)
            WITH
                batch_districts AS (
                    SELECT district_id, argMin(state_id, _row_number) AS first_state,
                           argMin(_row_number, _row_number) AS first_row
                    FROM {scores} WHERE _batch_id = {{b:String}} GROUP BY district_id
                ),
                known AS (
                    SELECT district_id, any(state_id) AS state
                    FROM {scores}
                    WHERE _batch_id IN (SELECT batch_id FROM {audit} FINAL WHERE status = 'committed')
                      AND district_id IN (SELECT district_id FROM batch_districts)
                    GROUP BY district_id
                )
            SELECT {{b:String}}, {{s:String}}, r._row_number, 'state_id',
                   if(k.district_id != '',
                      concat('district ', r.district_id, ' is in state ', k.state,
                             ' (earlier loads); this row says ', r.state_id),
                      concat('district ', r.district_id, ' is in state ', d.first_state, ' (row ',
                             toString(d.first_row), ' of this file); this row says ', r.state_id)),
                   formatRowNoNewline('JSONEachRow', {", ".join(f"r.{c}" for c in INPUT_COLUMN_NAMES)})
            FROM {scores} AS r
            INNER JOIN batch_districts AS d ON r.district_id = d.district_id
            LEFT JOIN known AS k ON r.district_id = k.district_id
            WHERE r._batch_id = {{b:String}}
              AND r.state_id != if(k.district_id != '', k.state, d.first_state)
            SETTINGS join_use_nulls = 0
            """,
            parameters=params,
        )
        return self._moved_to_quarantine(batch_id, before)

    def _moved_to_quarantine(self, batch_id: str, quarantined_before: int) -> int:
        """Delete from the landed rows those just copied to the quarantine; how many there were.
        Rejected rows never landed, so every quarantined row number of the batch can go."""
        moved = self.tables.counts(batch_id)[1] - quarantined_before
        if moved:
            scores, quarantine = self.tables.table(SCORES_TABLE), self.tables.table(QUARANTINE_TABLE)
            self.client.command(
                f"""
                DELETE FROM {scores} WHERE _batch_id = {{b:String}} AND _row_number IN (
                    SELECT row_number FROM {quarantine} WHERE _batch_id = {{b:String}})
                """,
                parameters={"b": batch_id},
            )
        return moved
