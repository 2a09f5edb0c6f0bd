-- Every valid landed score (latest version per student, test and school year) is in the fact
-- table exactly once, for the batches the fact table has applied.
with expected as (
    select uniqExact(school_year, test_id, student_id) as n
    from {{ ref('stg_raw__student_scores') }}
    where _batch_id in (
        select ledger.batch_id from {{ batch_ledger_relation() }} as ledger
        where ledger.model = 'fct_student_scores'
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
