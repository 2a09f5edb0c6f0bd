"""The fast tier: pure functions, no engine, no subprocess (`make unit`, `pytest -m unit`).

Each rule here is also exercised end to end by the integration tests; these pin its edges.
"""

from __future__ import annotations

import disclosure
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.cache import Generation
from loaders import config
from loaders.reference import load_reference
from loaders.roles import ENGINEER, REFERENCE_TABLES, SCOPED_OBJECTS, STATE, readable, row_clause
from loaders.roster import Entry, RosterError, parse, render_access_sql

KNOWN = {"teacher": frozenset({"T1", "T2"}), "principal": frozenset({"S1"}), "district": frozenset({"D1"})}


# -- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "1001", "ten", "1.5", " 1 0", "9" * 20])
def test_a_minimum_group_size_out_of_range_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("SCORES_MIN_GROUP_SIZE", value)
    with pytest.raises(ValueError, match="SCORES_MIN_GROUP_SIZE"):
        config.min_group_size()


@pytest.mark.parametrize(("value", "expected"), [("", 10), ("0", 0), ("25", 25), (" 5 ", 5)])
def test_a_minimum_group_size_in_range_is_used(monkeypatch, value, expected):
    monkeypatch.setenv("SCORES_MIN_GROUP_SIZE", value)
    assert config.min_group_size() == expected


def test_score_band_labels_follow_the_seed():
    bands = load_reference().bands
    assert [b.band for b in bands] == ["excellent", "good", "fair", "needs_improvement"]
    assert [b.label for b in bands] == [">=90", "80-89", "70-79", "<70"]


# -- the suppression rule ----------------------------------------------------------------------------


@given(st.lists(st.integers(0, 40), min_size=1, max_size=12), st.integers(0, 30))
def test_hidden_cells_of_a_partition_hold_the_minimum_or_none_are_hidden(counts, n):
    cells = {(i,): c for i, c in enumerate(counts)}
    hidden = disclosure.hide(cells, [lambda _: ()], n)
    assert {k for k, c in cells.items() if c < n} <= hidden  # every small cell
    held = sum(cells[k] for k in hidden)
    assert not hidden or held >= n or hidden == set(cells)
    # nothing hidden beyond need: without the last complementary cell the hidden would hold < n
    complementary = sorted((cells[k], k) for k in hidden if cells[k] >= n)
    if complementary:
        assert held - complementary[-1][0] < n


def test_bands_hide_zero_and_whole_counts():
    assert disclosure.hidden_bands([25, 0, 0, 0], 10) == [True, True, True, True]
    assert disclosure.hidden_bands([12, 8, 3, 2], 10) == [False, True, True, True]
    assert disclosure.hidden_bands([20, 20, 0, 0], 10) == [True, False, True, True]
    assert disclosure.hidden_bands([3, 2, 1, 0], 0) == [False, False, False, False]


# -- roles and the roster ----------------------------------------------------------------------------


def test_row_clauses_scope_each_role_and_close_what_it_does_not_read():
    assert row_clause("teacher", ("T1", "T'2"), "rpt_classroom_scores") == "teacher_id IN ('T1', 'T\\'2')"
    assert row_clause("teacher", ("T1",), "rpt_district_scores") == "1 = 0"
    assert row_clause("teacher", ("T1",), "fct_student_scores") == "1 = 0"
    assert row_clause(STATE, (), "fct_student_scores") == "1 = 0"
    assert row_clause(STATE, (), "rpt_district_scores") is None
    assert row_clause(ENGINEER, (), "fct_student_scores") is None
    assert all(row_clause("teacher", ("T1",), t) is None for t in REFERENCE_TABLES)
    assert readable(STATE) >= set(SCOPED_OBJECTS)


def test_a_roster_parses_into_one_entry_per_user():
    entries = parse(
        "user,role,scope\nms.a,teacher,T1\nms.a,teacher,T2\nmr.b,principal,S1\nmx.c,state,\n", "r.csv", KNOWN
    )
    assert entries == [
        Entry("ms.a", "teacher", ("T1", "T2")),
        Entry("mr.b", "principal", ("S1",)),
        Entry("mx.c", "state"),
    ]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("ms.a,teacher,T9", "row 2, column scope: no teacher 'T9'"),
        ("ms a,teacher,T1", "row 2, column user"),
        ("ms.a,wizard,", "row 2, column role"),
        ("ms.a,teacher,", "row 2, column scope: a teacher needs"),
        ("ms.a,state,D1", "row 2, column scope: a state covers everything"),
        ("ms.a,teacher,T1,extra", "row 2: 4 fields"),
        ("ms.a,teacher,T:1", "row 2, column scope: 'T:1' is not an id"),
    ],
)
def test_a_bad_roster_row_is_named_and_nothing_is_returned(row, problem):
    with pytest.raises(RosterError, match="nothing of the roster was applied") as raised:
        parse(f"user,role,scope\n{row}\n", "r.csv", KNOWN)
    assert f"r.csv: {problem}" in str(raised.value)


def test_a_user_with_two_roles_is_refused():
    with pytest.raises(RosterError, match=r"row 3, column role: ms\.a is teacher in row 2"):
        parse("user,role,scope\nms.a,teacher,T1\nms.a,principal,S1\n", "r.csv", KNOWN)


def test_the_server_sql_needs_every_roster_users_password():
    with pytest.raises(RosterError, match=r"ms\.a has no password"):
        render_access_sql([Entry("ms.a", "teacher", ("T1",))], "scores", "scores_raw", {})


# -- the report API's cache ----------------------------------------------------------------------------


def test_the_cache_keeps_the_most_recent_answers_within_its_bytes():
    generation = Generation("b1", max_bytes=100)
    for i in range(10):
        generation.put(("r", i), b"x" * 30)
    answers, size = generation.size
    assert (answers, size) == (3, 90)
    assert generation.get(("r", 0)) is None
    assert generation.get(("r", 9)) == b"x" * 30
    generation.get(("r", 7))
    assert generation.recent_keys(2) == [("r", 7), ("r", 9)]
    generation.put(("big",), b"y" * 101)  # larger than the whole cache: not kept
    assert generation.get(("big",)) is None
