{#-
    The district-by-grade report as people and applications read it: agg_district_grade_scores
    with small groups suppressed (macros/suppression.sql); a district's grades add up to the
    district total (rpt_district_scores).
-#}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject', 'grade'] -%}
{%- set attributes = ['district_name'] -%}

with

aggregates as (
    select * from {{ ref('agg_district_grade_scores') }}
),

{{ suppressed_groups('aggregates', group_columns, attributes, [
    ['school_year', 'state_id', 'district_id', 'test_id', 'subject'],
]) }}

select * from published
