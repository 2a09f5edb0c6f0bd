"""The project's own rules, checked on dbt's artifacts (dbt-project-evaluator's rules, written here:
the dbt package hub cannot be reached from this project's machines).

    python scripts/project_rules.py --target-path target [--all]

Reads ``manifest.json`` (dbt parse) and, where present, ``catalog.json`` (dbt docs generate) for
the columns a model really has. Each rule lists its violations. Rules that the project meets are
enforced (a violation fails, exit 1); rules it does not meet yet are listed as pending and fail
only with ``--all``. A pending rule becomes enforced by moving it to ENFORCED once it passes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the layer of each model folder, and the prefixes its models may have
LAYERS: dict[str, tuple[str, ...]] = {
    "staging": ("stg_",),
    "intermediate": ("int_",),
    "marts": ("fct_", "dim_", "agg_", "mart_"),
    "reports": ("rpt_",),
    "serving": ("dict_", "kv_", "srv_"),
}
MATERIALIZED_AS_TABLE = ("table", "incremental", "batch_incremental", "dictionary", "materialized_view")
# a ref() call in a macro's Jinja source (the rule dbt-project-evaluator applies to macro SQL)
REF_CALL = re.compile(r"\bref\s*\(")

Manifest = dict[str, Any]
Rule = Callable[[Manifest, dict[str, Any] | None], list[str]]


def _models(manifest: Manifest) -> list[dict[str, Any]]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == manifest["metadata"]["project_name"]
    ]


def _tests_of(manifest: Manifest, unique_id: str) -> list[dict[str, Any]]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and unique_id in node.get("depends_on", {}).get("nodes", [])
        and node.get("attached_node") == unique_id
    ]


def models_and_columns_documented(manifest: Manifest, catalog: dict[str, Any] | None) -> list[str]:
    """Every model has a description, and so has each of its columns (those it really has, from
    the catalog, when there is one; else those declared)."""
    problems = []
    for model in _models(manifest):
        if not model.get("description", "").strip():
            problems.append(f"{model['name']}: no description")
        declared = {name.lower(): column for name, column in model.get("columns", {}).items()}
        real = None
        if catalog is not None and model["unique_id"] in catalog.get("nodes", {}):
            real = [name.lower() for name in catalog["nodes"][model["unique_id"]]["columns"]]
        for name in real if real is not None else list(declared):
            column = declared.get(name)
            if column is None or not column.get("description", "").strip():
                problems.append(f"{model['name']}.{name}: column not documented")
    return problems


def _key_value_table(node: dict[str, Any]) -> bool:
    config = node.get("config", {})
    return str(config.get("engine", "")).startswith("EmbeddedRocksDB") and bool(config.get("primary_key"))


def _view_of_one_key_value_table(manifest: Manifest, model: dict[str, Any]) -> bool:
    """A view reading one key-value table and otherwise only dictionaries (lookups, which cannot
    add a row), which it selects from without a join, filter or ARRAY JOIN: one row per key."""
    if model.get("config", {}).get("materialized") != "view":
        return False
    nodes = manifest["nodes"]
    upstream = [nodes[n] for n in model.get("depends_on", {}).get("nodes", []) if n in nodes]
    tables = [n for n in upstream if n.get("config", {}).get("materialized") != "dictionary"]
    # the model's SQL without its comments (a parsed manifest has no compiled code)
    code = re.sub(r"\{#.*?#\}|--[^\n]*", " ", str(model.get("raw_code", "")), flags=re.DOTALL).lower()
    return (
        len(tables) == 1
        and _key_value_table(tables[0])
        and not any(word in code for word in (" join ", "\njoin ", " where ", "\nwhere "))
    )


def primary_keys_tested(manifest: Manifest, catalog: dict[str, Any] | None) -> list[str]:
    """Every model's grain is tested: unique and not_null on one column, or a
    unique_combination_of_columns test. A key-value table (EmbeddedRocksDB) holds one value per
    key of its primary key by construction, so a uniqueness test on it could never fail, nor on a
    view that only completes its rows with dictionary lookups (reading the whole table for a test
    that cannot fail costs seconds at 10M rows)."""
    problems = []
    for model in _models(manifest):
        if _key_value_table(model) or _view_of_one_key_value_table(manifest, model):
            continue
        tests = [
            (t.get("test_metadata", {}).get("name"), t.get("column_name"))
            for t in _tests_of(manifest, model["unique_id"])
        ]
        names = {name for name, _ in tests}
        unique_columns = {column for name, column in tests if name == "unique"}
        not_null_columns = {column for name, column in tests if name == "not_null"}
        if "unique_combination_of_columns" not in names and not (unique_columns & not_null_columns):
            problems.append(
                f"{model['name']}: no primary key test (unique + not_null, or unique_combination_of_columns)"
            )
    return problems


def folder_prefix_layer(manifest: Manifest, catalog: dict[str, Any] | None) -> list[str]:
    """A model lives in its layer's folder and carries that layer's prefix."""
    problems = []
    for model in _models(manifest):
        parts = Path(model["original_file_path"]).parts
        folder = parts[1] if len(parts) > 2 and parts[0] == "models" else ""
        prefixes = LAYERS.get(folder)
        if prefixes is None:
            problems.append(
                f"{model['name']}: in models/{folder or '.'}, which is not a layer ({', '.join(LAYERS)})"
            )
        elif not model["name"].startswith(prefixes):
            problems.append(
                f"{model['name']}: in models/{folder}, whose models start with {' or '.join(prefixes)}"
            )
    return problems


def sources_only_in_staging(manifest: Manifest, catalog: dict[str, Any] | None) -> list[str]:
    problems = []
    for model in _models(manifest):
        sources = [n for n in model.get("depends_on", {}).get("nodes", []) if n.startswith("source.")]
        if sources and not model["name"].startswith("stg_"):
            problems.append(f"{model['name']}: reads {', '.join(sources)} outside staging")
    return problems


def staging_reads_only_sources(manifest: Manifest, catalog: dict[str, Any] | None) -> list[str]:
    """Layers do not double back: a staging model reads sources (and seeds), not other models."""
    problems = []
    nodes = manifest["nodes"]
    for model in _models(manifest):
        if not model["name"].startswith("stg_"):
            continue
        for parent in model.get("depends_on", {}).get("nodes", []):
            if parent in nodes and nodes[parent]["resource_type"] == "model":
                problems.append(f"{model['name']}: reads the model {nodes[parent]['name']}")
    return problems


def exposures_depend_on_tables(manifest: Manifest, catalog: dict[str, Any] | None) -> list[str]:
    problems = []
    nodes = manifest["nodes"]
    for exposure in manifest.get("exposures", {}).values():
        for parent in exposure.get("depends_on", {}).get("nodes", []):
            node = nodes.get(parent)
            if node is not None and node["config"].get("materialized") not in MATERIALIZED_AS_TABLE:
                problems.append(
                    f"exposure {exposure['name']}: depends on {node['name']}, "
                    f"materialized as {node['config'].get('materialized')}"
                )
    return problems


# macros allowed to call ref(): upstream_relation (macros/build_state.sql) resolves, for a
# materialization, only a model that the running model's own file refs (it checks depends_on
# first), so no lineage hides in it; dbt's ref is what makes --defer find a deferred upstream
REF_RESOLVERS = {"upstream_relation"}


def no_ref_in_macros(manifest: Manifest, catalog: dict[str, Any] | None) -> list[str]:
    problems = []
    project = manifest["metadata"]["project_name"]
    for macro in manifest.get("macros", {}).values():
        if macro["name"] in REF_RESOLVERS:
            continue
        if macro["package_name"] == project and REF_CALL.search(macro.get("macro_sql", "")):
            problems.append(
                f"macro {macro['name']} ({macro['original_file_path']}): calls ref(); pass relations in"
            )
    return problems


ENFORCED: dict[str, Rule] = {
    "every model and column documented": models_and_columns_documented,
    "every model's primary key tested": primary_keys_tested,
    "sources read only in staging": sources_only_in_staging,
    "staging reads only sources": staging_reads_only_sources,
    "folder = prefix = layer": folder_prefix_layer,
    "no ref() inside a macro": no_ref_in_macros,
}
# reported, not enforced: the student-in-context dashboard reads srv_student_context, a view over a
# table sorted for it plus dictionary lookups, which a table copy would only make costlier to build
PENDING: dict[str, Rule] = {
    "exposures depend on tables, not views": exposures_depend_on_tables,
}


def check(target: Path, enforce_all: bool = False) -> int:
    manifest_path = target / "manifest.json"
    if not manifest_path.exists():
        print(
            f"error: {manifest_path} not found: run `dbt parse --target-path {target}` first", file=sys.stderr
        )
        return 2
    manifest = json.loads(manifest_path.read_text())
    catalog_path = target / "catalog.json"
    catalog = json.loads(catalog_path.read_text()) if catalog_path.exists() else None
    failed = 0
    for title, rule in {**ENFORCED, **PENDING}.items():
        problems = rule(manifest, catalog)
        enforced = enforce_all or title in ENFORCED
        status = "ok" if not problems else ("FAIL" if enforced else "pending")
        print(f"{status:>7}  {title}" + (f" ({len(problems)})" if problems else ""))
        for problem in problems[:50] if problems else []:
            print(f"           {problem}")
        if problems and enforced:
            failed += 1
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target-path", type=Path, default=Path("target"))
    parser.add_argument("--all", action="store_true", help="enforce the pending rules too")
    args = parser.parse_args()
    sys.exit(check(args.target_path, args.all))


if __name__ == "__main__":
    main()
