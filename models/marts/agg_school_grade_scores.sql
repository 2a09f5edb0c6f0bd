{#-
    School report by grade: one row per school year, school, test, subject and grade (district
    kept in the key so lookups use the table's sort order).
-#}
{%- set group_columns = ['school_year', 'district_id', 'school_id', 'test_id', 'subject', 'grade'] -%}
{{ config(**incremental_by_batch(group_columns, upstream='int_score_distributions', publish='partitions',
    names=['school_name', 'district_name'])) }}

{{ aggregate_scores(group_columns, ['state_id', 'school_name', 'district_name']) }}
