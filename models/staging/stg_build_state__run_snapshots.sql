-- The warehouse clock at the start of each dbt invocation (macros/build_state.sql).
select
    invocation_id,
    started_at
from {{ source('build_state', 'dbt_run_snapshots') }}
