-- The classroom aggregate accounts for every fact row: per school year and test, the sum of
-- classroom student counts equals the number of fact rows.
with facts as (
    select
        school_year,
        test_id,
        count() as fact_rows
    from {{ ref('fct_student_scores') }}
    group by school_year, test_id
),

classrooms as (
    select
        school_year,
        test_id,
        sum(student_count) as classroom_students
    from {{ ref('agg_classroom_scores') }}
    group by school_year, test_id
)

select
    school_year,
    test_id,
    facts.fact_rows,
    classrooms.classroom_students
from facts
full outer join classrooms using (school_year, test_id)
where facts.fact_rows != classrooms.classroom_students
