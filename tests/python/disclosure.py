"""Small-group suppression checked from the outside (macros/suppression.sql states the rule).

Two independent checks of the report views (rpt_*) and the lookups over them:
* ``expected_hidden`` recomputes, in plain Python from the recomputed group counts, which groups
  the rule hides, so a view can be compared with it cell by cell;
* ``assert_nothing_recoverable`` reads only what the outputs publish and tries to recover a
  hidden group by subtraction: a published total minus its published parts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

BANDS = ("excellent_count", "good_count", "fair_count", "needs_improvement_count")
Key = tuple[Any, ...]

# report view -> (its mart, grain, partitions as column lists): the cells of one published total
REPORT_VIEWS: dict[str, tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "rpt_classroom_scores": (
        "agg_classroom_scores",
        ("school_year", "teacher_id", "test_id", "subject", "school_id", "district_id"),
        (("school_year", "school_id", "test_id", "subject"),),
    ),
    "rpt_school_grade_scores": (
        "agg_school_grade_scores",
        ("school_year", "district_id", "school_id", "test_id", "subject", "grade"),
        (
            ("school_year", "district_id", "school_id", "test_id", "subject"),
            ("school_year", "district_id", "test_id", "subject", "grade"),
        ),
    ),
    "rpt_district_grade_scores": (
        "agg_district_grade_scores",
        ("school_year", "state_id", "district_id", "test_id", "subject", "grade"),
        (("school_year", "state_id", "district_id", "test_id", "subject"),),
    ),
    "rpt_district_scores": (
        "agg_district_scores",
        ("school_year", "state_id", "district_id", "test_id", "subject"),
        (("school_year", "state_id", "test_id", "subject"),),
    ),
}


def hide(counts: dict[Key, int], partitions: list[Callable[[Key], Key]], n: int) -> set[Key]:
    """Primary: cells under n; then, per partition in turn, the smallest shown cells until the
    hidden ones of the partition hold n or more (ties broken by the key)."""
    hidden = {key for key, count in counts.items() if count < n}
    for parent_of in partitions:
        members: dict[Key, list[Key]] = defaultdict(list)
        for key in counts:
            members[parent_of(key)].append(key)
        added = set()
        for cells in members.values():
            if not any(cell in hidden for cell in cells):
                continue
            held = 0
            for cell in sorted(cells, key=lambda c: (c not in hidden, counts[c], c)):
                if cell in hidden or held < n:
                    added.add(cell)
                held += counts[cell]
        hidden |= added
    return hidden


def hidden_bands(bands: list[int], n: int) -> list[bool]:
    hidden = hide({(i,): count for i, count in enumerate(bands)}, [lambda _: ()], n)
    return [(i,) in hidden for i in range(len(bands))]


def expected_hidden(client: Any, db: str, view: str, n: int) -> set[Key]:
    mart, grain, partitions = REPORT_VIEWS[view]
    counts = {
        tuple(row[:-1]): int(row[-1])
        for row in client.query(f"SELECT {', '.join(grain)}, student_count FROM `{db}`.`{mart}`").result_rows
    }
    return hide(counts, [_picker(grain, columns) for columns in partitions], n)


def _picker(grain: tuple[str, ...], columns: tuple[str, ...]) -> Callable[[Key], Key]:
    """The key of a cell's parent: `columns` of a key in `grain`."""
    positions = tuple(grain.index(c) for c in columns)
    return lambda key: tuple(key[i] for i in positions)


def assert_views_follow_the_rule(client: Any, db: str, n: int) -> None:
    """Each report view hides exactly the groups the rule hides, nulls their metrics, and shows the
    mart's values (bands hidden by the same rule inside each shown group) everywhere else."""
    for view, (mart, grain, _) in REPORT_VIEWS.items():
        want = expected_hidden(client, db, view, n)
        columns = ", ".join(("student_count", "avg_score", *BANDS))
        published = {
            tuple(row[: len(grain)]): row[len(grain) :]
            for row in client.query(
                f"SELECT {', '.join(grain)}, is_suppressed, suppression_label, {columns} FROM `{db}`.`{view}`"
            ).result_rows
        }
        source = {
            tuple(row[: len(grain)]): row[len(grain) :]
            for row in client.query(f"SELECT {', '.join(grain)}, {columns} FROM `{db}`.`{mart}`").result_rows
        }
        assert set(published) == set(source), f"{view}: groups differ from {mart}"
        got = {key for key, row in published.items() if row[0] == 1}
        assert got == want, (
            f"{view}: hides {len(got)} groups, the rule {len(want)} ({sorted(got ^ want)[:3]})"
        )
        for key, row in published.items():
            hidden, label, count, average, *bands = row
            mart_count, mart_average, *mart_bands = source[key]
            if hidden:
                assert label == f"n<{n}", f"{view}{key}: a hidden group's label {label!r}"
                assert [count, average, *bands] == [None] * 6, f"{view}{key}: a hidden group shows {row}"
                continue
            assert (label, count, average) == ("", mart_count, mart_average), f"{view}{key}: {row}"
            shown = [None if h else c for h, c in zip(hidden_bands(mart_bands, n), mart_bands, strict=True)]
            assert bands == shown, f"{view}{key}: bands {bands}, the rule {shown} (of {mart_bands})"


def _published(client: Any, db: str, view: str, grain: tuple[str, ...]) -> dict[Key, dict[str, Any]]:
    return {
        tuple(row[: len(grain)]): dict(zip(("count", *BANDS), row[len(grain) :], strict=True))
        for row in client.query(
            f"SELECT {', '.join(grain)}, student_count, {', '.join(BANDS)} FROM `{db}`.`{view}`"
        ).result_rows
    }


def recoverable(
    totals: dict[Key, int | None], parts: dict[Key, int | None], parent_of: Callable[[Key], Key], n: int
) -> list[tuple[Key, int]]:
    """The totals whose hidden parts can be summed by subtraction to fewer than n students:
    (total's key, what the subtraction gives)."""
    children: dict[Key, list[int | None]] = defaultdict(list)
    for key, count in parts.items():
        children[parent_of(key)].append(count)
    found = []
    for key, total in totals.items():
        counts = children.get(key, [])
        if total is None or None not in counts:
            continue
        rest = total - sum(c for c in counts if c is not None)
        if rest < n:
            found.append((key, rest))
    return found


def assert_nothing_recoverable(client: Any, db: str, n: int) -> None:
    """From what the outputs publish only: no total minus its published parts gives a hidden
    group of fewer than n students, and no published count is below n."""
    grains = {view: grain for view, (_, grain, _) in REPORT_VIEWS.items()}
    shown = {view: _published(client, db, view, grain) for view, grain in grains.items()}
    for view, rows in shown.items():
        small = [key for key, row in rows.items() if row["count"] is not None and row["count"] < n]
        assert not small, f"{view}: published groups under {n}: {small[:3]}"
        for key, row in rows.items():
            if row["count"] is None:
                continue
            bands = [row[b] for b in BANDS]
            assert all(b is None or b >= n for b in bands), f"{view}{key}: a band under {n}: {bands}"
            if None in bands:
                rest = row["count"] - sum(b for b in bands if b is not None)
                assert rest >= n, f"{view}{key}: hidden bands recoverable ({rest} students): {bands}"

    def counts(view: str) -> dict[Key, int | None]:
        return {key: row["count"] for key, row in shown[view].items()}

    def picker(view: str, columns: tuple[str, ...]) -> Callable[[Key], Key]:
        return _picker(grains[view], columns)

    # (parent view, child view, the child's columns that name its parent, in the parent's grain)
    school = ("school_year", "school_id", "test_id", "subject")
    district_grade = ("school_year", "district_id", "test_id", "subject", "grade")
    school_totals: dict[Key, int | None] = defaultdict(int)
    for key, count in counts("rpt_school_grade_scores").items():
        parent = picker("rpt_school_grade_scores", school)(key)
        previous = school_totals[parent]
        school_totals[parent] = None if count is None or previous is None else previous + count
    pairs: list[tuple[str, dict[Key, int | None], dict[Key, int | None], Callable[[Key], Key]]] = [
        (
            "district grades of a district",
            counts("rpt_district_scores"),
            counts("rpt_district_grade_scores"),
            picker("rpt_district_grade_scores", grains["rpt_district_scores"]),
        ),
        (
            "schools of a district grade",
            {
                picker("rpt_district_grade_scores", district_grade)(k): v
                for k, v in counts("rpt_district_grade_scores").items()
            },
            counts("rpt_school_grade_scores"),
            picker("rpt_school_grade_scores", district_grade),
        ),
        (
            "classrooms of a school (its published grades summed)",
            dict(school_totals),
            counts("rpt_classroom_scores"),
            picker("rpt_classroom_scores", school),
        ),
    ]
    for title, totals, parts, parent_of in pairs:
        found = recoverable(totals, parts, parent_of, n)
        assert not found, f"{title}: hidden groups recoverable by subtraction: {found[:3]}"
