"""The SQL that the batch strategy renders for a cluster target (no cluster runs here: chDB has
no distributed DDL). Each statement is rendered by dbt with the `cluster_sql` profile target and
parsed by the engine's own parser (parseQueryToJSON)."""

from __future__ import annotations

import json
from typing import Any

import pytest

DELETES = {"delete_keys", "delete_expired", "delete_upserted_keys", "ledger_reset"}
ON_CLUSTER = {
    "ledger_ddl",
    "snapshots_ddl",
    "published_ddl",
    "changes",
    "drop_changes",
    "modify_ttl",
    "replace_partitions",
} | DELETES


def _rendered(warehouse, capsys: pytest.CaptureFixture[str], target: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    warehouse.dbt("run-operation", "render_batch_statements", "--target", target)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _tree(warehouse, sql: str) -> dict[str, Any]:
    text = warehouse.scalar("SELECT parseQueryToJSON({q:String})", q=sql)
    return dict(json.loads(text))


def _settings(tree: dict[str, Any]) -> dict[str, Any]:
    changes = (tree.get("settings_ast") or tree.get("settings") or {}).get("changes", [])
    return {change["name"]: change["value"]["value"] for change in changes}


def test_every_statement_carries_the_cluster_and_deletes_wait_for_every_replica(warehouse, capsys):
    statements = _rendered(warehouse, capsys, "cluster_sql")
    models = {s["model"] for s in statements if s["model"]}
    assert {
        "fct_student_scores",
        "int_score_distributions",
        "agg_classroom_scores",
        "agg_district_scores",
        "int_current_names",
        "kv_classroom_students",
        "int_score_changes",
    } <= models
    kinds = {s["kind"] for s in statements}
    assert ON_CLUSTER | {"record_tokens"} <= kinds
    for statement in statements:
        tree = _tree(warehouse, statement["sql"])  # one statement, valid for the engine's parser
        if statement["kind"] in ON_CLUSTER:
            assert tree.get("cluster") == "scores_cluster", statement
        else:
            assert not tree.get("cluster"), statement  # an INSERT takes no ON CLUSTER
        if statement["kind"] in DELETES:
            # every replica has applied the delete before the run inserts the keys' new rows
            assert _settings(tree).get("lightweight_deletes_sync") == 2, statement
        if statement["kind"] == "replace_partitions":
            assert _settings(tree).get("allow_replace_partition_from_empty_source") == 1


def test_the_embedded_target_renders_the_same_statements_without_a_cluster(warehouse, capsys):
    clustered = _rendered(warehouse, capsys, "cluster_sql")
    embedded = _rendered(warehouse, capsys, "dev")
    assert [(s["model"], s["kind"]) for s in embedded] == [(s["model"], s["kind"]) for s in clustered]
    for statement in embedded:
        assert not _tree(warehouse, statement["sql"]).get("cluster"), statement
