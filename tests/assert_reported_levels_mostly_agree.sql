{#-
    The marts use the performance level derived from the seed's cut scores; the level the source
    reported is kept beside it (reported_performance_level). They should agree: a test whose
    reported levels disagree on more than `max_level_disagreement` of its scores (a share, default
    0.01) fails, naming the test, the share and an example, so a wrong cut-score seed or a source
    system's different bands surface instead of being silently overridden.
-#}
with

facts as (
    select * from {{ ref('fct_student_scores') }}
),

by_test as (
    select
        school_year,
        test_id,
        count() as scores,
        countIf(reported_performance_level != performance_level) as disagreeing,
        disagreeing / scores as disagreement_share,
        anyIf(
            tuple(student_id, overall_score, reported_performance_level, performance_level),
            reported_performance_level != performance_level
        ) as example
    from facts
    group by school_year, test_id
)

select
    school_year,
    test_id,
    scores,
    disagreeing,
    disagreement_share,
    example
from by_test
where disagreement_share > {{ var('max_level_disagreement') | float }}
