-- Every finished dbt run: succeeded, changed the models (macros/build_state.sql, publish_build).
select
    invocation_id,
    published_at,
    succeeded,
    changed
from {{ source('build_state', 'dbt_published_builds') }}
