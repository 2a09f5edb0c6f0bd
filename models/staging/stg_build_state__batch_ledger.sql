-- What each tracked model's table reflects (macros/build_state.sql): one row per model and token.
select
    model,
    batch_id,
    applied_at,
    invocation_id
from {{ source('build_state', 'dbt_batch_ledger') }} final
