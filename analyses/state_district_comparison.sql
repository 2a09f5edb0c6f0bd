-- The design's Query 3: compare the districts of a state, answered from the marts.
-- District-wide numbers come from agg_district_scores (exact over all grades), not from averages
-- of grade-level averages. Compile with
--   dbt compile -s state_district_comparison --vars '{school_year: 2025, state_id: CA}'
with

districts as (
    select * from {{ ref('agg_district_scores') }}
)

select
    district_id,
    district_name,
    test_id,
    subject,
    student_count as total_students,
    avg_score as district_avg_score,
    median_score as district_median_score
from districts
where
    school_year = {{ var('school_year') | int }}
    and state_id = '{{ var('state_id') | replace("'", "") }}'
order by district_avg_score desc
