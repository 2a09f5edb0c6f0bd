-- Latest state of every load batch.
select
    batch_id,
    source,
    source_checksum,
    source_bytes,
    rows_read,
    rows_landed,
    rows_quarantined,
    status,
    message,
    started_at,
    finished_at,
    committed_at,
    load_sequence
from {{ source('raw', 'load_audit') }} final
