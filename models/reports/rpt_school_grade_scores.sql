{#-
    The school-by-grade report as people and applications read it: agg_school_grade_scores with
    small groups suppressed (macros/suppression.sql). Two partitions publish a total over these
    rows: a school's grades (the school) and a district grade's schools (rpt_district_grade_scores).
-#}
{%- set group_columns = ['school_year', 'district_id', 'school_id', 'test_id', 'subject', 'grade'] -%}
{%- set attributes = ['state_id', 'school_name', 'district_name'] -%}

with

aggregates as (
    select * from {{ ref('agg_school_grade_scores') }}
),

{{ suppressed_groups('aggregates', group_columns, attributes, [
    ['school_year', 'district_id', 'school_id', 'test_id', 'subject'],
    ['school_year', 'district_id', 'test_id', 'subject', 'grade'],
]) }}

select * from published
