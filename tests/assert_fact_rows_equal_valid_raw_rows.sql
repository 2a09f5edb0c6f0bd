-- Every valid landed score (latest version per student, test and school year) of a retained
-- school year is in the fact table exactly once, for the batches the fact table has applied.
-- The distinct keys are counted as the raw ledger is sorted (one row per key, read in order):
-- no hash set of every key, whose memory would grow with the rows.
with

ledger as (
    select * from {{ ref('stg_build_state__batch_ledger') }}
),

expected as (
    select count() as n
    from (
        select
            school_year,
            test_id,
            student_id
        from {{ ref('stg_raw__student_scores') }}
        where
            {{ is_retained() }}
            and _batch_id in (
                select ledger.batch_id from ledger
                where ledger.model = 'fct_student_scores'
            )
        order by school_year asc, test_id asc, student_id asc
        limit 1 by school_year, test_id, student_id
    )
),

actual as (
    select count() as n from {{ ref('fct_student_scores') }}
)

select
    expected.n as expected_rows,
    actual.n as fact_rows
from expected cross join actual
where expected.n != actual.n
