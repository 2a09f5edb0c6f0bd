{#-
    Districts per test across all grades: one row per school year, state, district, test and
    subject. Answers the state-level district comparison (the design's Query 3) with exact
    district-wide averages and medians (not averages of grade averages).
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject'] -%}
{{ config(**aggregate_config(group_columns, names=['district_name'])) }}

{{ aggregate_scores(
    ref('int_score_distributions'), ref('int_current_names'), ref('score_bands'), group_columns, ['district_name']
) }}
