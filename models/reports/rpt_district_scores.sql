{#-
    The districts of a state as people and applications read them: agg_district_scores with small
    groups suppressed (macros/suppression.sql); a state's districts add up to the state.
-#}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject'] -%}
{%- set attributes = ['district_name'] -%}

with

aggregates as (
    select * from {{ ref('agg_district_scores') }}
),

{{ suppressed_groups('aggregates', group_columns, attributes, [
    ['school_year', 'state_id', 'test_id', 'subject'],
]) }}

select * from published
