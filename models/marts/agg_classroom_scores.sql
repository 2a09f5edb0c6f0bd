{#-
    Classroom report: one row per school year, teacher, test, subject, school and district.
    Incremental: a run recomputes exactly the classrooms its new batches touched (the old and the
    new classroom of a corrected score), from the section histograms.
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set group_columns = ['school_year', 'teacher_id', 'test_id', 'subject', 'school_id', 'district_id'] -%}
{{ config(
    materialized='batch_incremental',
    batch_upstream=['int_score_distributions', 'int_current_names'],
    batch_keys=group_columns,
    publish='partitions',
    names=['teacher_name', 'school_name', 'district_name'],
    order_by=group_columns,
    partition_by='school_year',
    ttl=retention_ttl(),
    settings={'ttl_only_drop_parts': 1},
) }}

{{ aggregate_scores(
    ref('int_score_distributions'), ref('int_current_names'), ref('score_bands'), group_columns, ['state_id', 'teacher_name', 'school_name', 'district_name']
) }}
