{#-
    District report by grade: one row per school year, state, district, test, subject and grade.
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject', 'grade'] -%}
{{ config(**aggregate_config(group_columns, names=['district_name'])) }}

{{ aggregate_scores(
    ref('int_score_distributions'), ref('int_current_names'), ref('score_bands'), group_columns, ['district_name']
) }}
