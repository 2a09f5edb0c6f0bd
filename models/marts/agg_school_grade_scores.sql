{#-
    School report by grade: one row per school year, school, test, subject and grade (district
    kept in the key so lookups use the table's sort order).
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set group_columns = ['school_year', 'district_id', 'school_id', 'test_id', 'subject', 'grade'] -%}
{{ config(**aggregate_config(group_columns, names=['school_name', 'district_name'])) }}

{{ aggregate_scores(
    ref('int_score_distributions'), ref('int_current_names'), ref('score_bands'), group_columns, ['state_id', 'school_name', 'district_name']
) }}
