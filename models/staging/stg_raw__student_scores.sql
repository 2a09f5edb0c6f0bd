-- Score rows of committed load batches only: a batch still loading (or killed mid-load) is
-- invisible. Each row carries its batch's commit order (_load_sequence): the later load wins.
with

scores as (
    select * from {{ source('raw', 'student_scores') }}
),

committed_batches as (
    select
        batch_id,
        load_sequence
    from {{ source('raw', 'load_audit') }} final
    where status = 'committed'
)

select
    student_id,
    teacher_id,
    teacher_name,
    school_id,
    school_name,
    district_id,
    district_name,
    state_id,
    subject,
    grade,
    test_id,
    school_year,
    test_date,
    overall_score,
    overall_performance_level as reported_performance_level,
    dimension_scores,
    _batch_id,
    -- a lookup, not a join: the fact table reads this view in the ledger's sort order; the cast
    -- drops the LowCardinality that the lookup of a LowCardinality batch id returns
    cast(transform(
        _batch_id,
        (select groupArray(batches.batch_id) from committed_batches as batches),
        (select groupArray(batches.load_sequence) from committed_batches as batches),
        toUInt64(0)
    ), 'UInt64') as _load_sequence,
    _row_number,
    _loaded_at
from scores
where _batch_id in (select batches.batch_id from committed_batches as batches)
