#!/usr/bin/env bash
# The main job on the embedded engine: generate -> load -> dbt build -> classroom report.
#   ROWS=1000000 scripts/demo.sh      (default 200,000 rows)
source "$(dirname "$0")/bootstrap.sh"

ROWS="${ROWS:-200000}"
export SCORES_CHDB_PATH="${SCORES_CHDB_PATH:-data/chdb}"
step() { echo; echo "==> $*"; }
started=$SECONDS

step "generate and load $ROWS rows into embedded ClickHouse ($SCORES_CHDB_PATH)"
status=0
scores generate --rows "$ROWS" || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"

step "dbt build (seeds, staging, fact table, marts, serving layer, tests)"
dbt build

step "classroom report"
scores report --limit 12

data_dir="$(cd "$ROOT" && realpath -m "$SCORES_CHDB_PATH")"
cat <<INFO

Done in $((SECONDS - started))s. The warehouse lives in $data_dir (embedded ClickHouse, chDB).
Query it (one process at a time may open the directory):
  .venv/bin/scores query "SELECT teacher_name, avg_score FROM scores.agg_classroom_scores ORDER BY avg_score DESC LIMIT 5"
  .venv/bin/scores status
  DBT_PROFILES_DIR=profiles .venv/bin/dbt show --inline "select * from {{ ref('agg_classroom_scores') }}" --limit 5
  python: clickhouse_connect.get_client(interface="chdb", path="$data_dir")
INFO
