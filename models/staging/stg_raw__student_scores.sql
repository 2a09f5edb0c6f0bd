-- Score rows of committed load batches only: a batch still loading (or killed mid-load) is invisible.
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
    _row_number,
    _loaded_at
from {{ source('raw', 'student_scores') }}
where _batch_id in (
    select batches.batch_id from {{ ref('stg_raw__load_audit') }} as batches
    where batches.status = 'committed'
)
