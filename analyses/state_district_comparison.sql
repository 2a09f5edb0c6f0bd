-- The design's Query 3: compare the districts of a state, answered from the marts.
-- District-wide numbers come from agg_district_scores (exact over all grades), not from averages
-- of grade-level averages. Compile with `dbt compile -s state_district_comparison`.
select
    district_id,
    district_name,
    test_id,
    subject,
    student_count as total_students,
    avg_score as district_avg_score,
    median_score as district_median_score
from {{ ref('agg_district_scores') }}
where school_year = 2025 and state_id = 'CA'
order by district_avg_score desc
