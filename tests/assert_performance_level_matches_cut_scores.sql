-- Every fact's performance level is the level whose score range (seeds/performance_levels.csv)
-- contains its score. Checks the cut-score logic against the seed ranges directly.
select
    facts.school_year,
    facts.test_id,
    facts.student_id,
    facts.overall_score,
    facts.performance_level,
    levels.performance_level as expected_level
from {{ ref('fct_student_scores') }} as facts
left join {{ ref('performance_levels') }} as levels
    on
        facts.subject = levels.subject
        and facts.overall_score >= levels.min_score
        and facts.overall_score <= levels.max_score
where levels.performance_level != facts.performance_level
