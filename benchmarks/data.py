"""The benchmarks' data files: the generated base file and a 1% delta of new scores and
corrections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.host import BIN
from benchmarks.measure import run_measured


def make_files(work: Path, rows: int, env: dict[str, str]) -> dict[str, Any]:
    """Generate the base file and the 1% delta: half new scores, half corrections of existing keys.

    New scores are the generator's rows after the first N (`--rows N+k --skip N`: new schools).
    Another `--seed` is not used for them: it builds another world (other grade spans and other
    districts for the same school ids), so its rows would move existing schools between districts.
    Corrections are existing scores picked at random over every school and test, re-scored
    (+-15 points) with the performance level recomputed from the cut scores.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from loaders.reference import load_reference
    from loaders.schema import INPUT_SCHEMA

    scores = str(BIN / "scores")
    base, new, delta = work / "base.parquet", work / "delta-new.parquet", work / "delta.parquet"
    made = work / "files.json"  # a kept --work-dir reuses its files (large ones are slow to make)
    if made.exists() and base.exists() and delta.exists():
        info: dict[str, Any] = json.loads(made.read_text())
        if info.get("rows") == rows:
            print(f"reusing {base} and {delta}", flush=True)
            return info
    info = {}
    step = run_measured([scores, "generate", "--rows", str(rows), "--out", str(base), "-q"], env)
    info["generate_seconds"] = round(step.seconds, 2)
    n_delta = max(rows // 100, 2)
    n_new = n_delta // 2
    run_measured(
        [scores, "generate", "--rows", str(rows + n_new), "--skip", str(rows), "--out", str(new), "-q"], env
    )
    source = pq.ParquetFile(base)
    rng = np.random.default_rng(7)
    picks = np.sort(rng.choice(rows, size=n_delta - n_new, replace=False))
    parts, offset = [], 0
    for batch in source.iter_batches(batch_size=500_000):
        local = picks[(picks >= offset) & (picks < offset + batch.num_rows)] - offset
        if len(local):
            parts.append(pa.Table.from_batches([batch]).take(pa.array(local)))
        offset += batch.num_rows
    corrections = pa.concat_tables(parts)
    old = corrections.column("overall_score").to_numpy().astype(np.int64)
    rescored = np.clip(old + rng.integers(-15, 16, len(picks)), 0, 100)
    reference = load_reference()
    subjects = corrections.column("subject").to_pylist()
    levels = [reference.level_for(s, int(v)) for s, v in zip(subjects, rescored, strict=True)]
    corrections = corrections.set_column(
        corrections.schema.get_field_index("overall_score"),
        "overall_score",
        pa.array(rescored.astype(np.uint8)),
    )
    corrections = corrections.set_column(
        corrections.schema.get_field_index("overall_performance_level"),
        "overall_performance_level",
        pa.array(levels, type=pa.uint8()),
    )
    table = pa.concat_tables([pq.read_table(new).cast(INPUT_SCHEMA), corrections.cast(INPUT_SCHEMA)])
    pq.write_table(table, delta)
    new.unlink()
    logical = sum(b.nbytes for b in source.iter_batches(batch_size=500_000))
    info |= {
        "rows": rows,
        "delta_rows": table.num_rows,
        "delta_new_rows": n_new,
        "delta_correction_rows": len(picks),
        "parquet_bytes": base.stat().st_size,
        "logical_bytes": logical,
    }
    made.write_text(json.dumps(info))
    return info
