{#-
    District report by grade: one row per school year, state, district, test, subject and grade.
-#}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject', 'grade'] -%}
{{ config(**incremental_by_batch(group_columns, upstream='int_score_distributions', publish='partitions',
    names=['district_name'])) }}

{{ aggregate_scores(group_columns, ['district_name']) }}
