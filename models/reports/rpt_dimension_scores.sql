{#-
    Dimension averages as people and applications read them: agg_dimension_scores with small
    groups suppressed (macros/suppression.sql); per dimension, a school's classrooms are one
    partition, as in rpt_classroom_scores.
-#}
{%- set group_columns = ['school_year', 'district_id', 'school_id', 'teacher_id', 'test_id', 'subject', 'dimension'] -%}

with

aggregates as (
    select * from {{ ref('agg_dimension_scores') }}
),

{{ suppressed_groups(
    'aggregates', group_columns, ['state_id'],
    [['school_year', 'school_id', 'test_id', 'subject', 'dimension']],
    metrics=['student_count', 'dimension_score_total', 'avg_dimension_score', 'min_dimension_score', 'max_dimension_score'],
    bands=[],
) }}

select * from published
