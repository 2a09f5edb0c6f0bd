{#-
    The classroom report as people and applications read it: agg_classroom_scores with small
    groups suppressed (macros/suppression.sql). A school's classrooms add up to the school, which
    the school's grades publish, so they are one partition.
-#}
{%- set group_columns = ['school_year', 'teacher_id', 'test_id', 'subject', 'school_id', 'district_id'] -%}
{%- set attributes = ['state_id', 'teacher_name', 'school_name', 'district_name'] -%}

with

aggregates as (
    select * from {{ ref('agg_classroom_scores') }}
),

{{ suppressed_groups('aggregates', group_columns, attributes, [
    ['school_year', 'school_id', 'test_id', 'subject'],
]) }}

select * from published
