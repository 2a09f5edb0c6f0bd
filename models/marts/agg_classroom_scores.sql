{#-
    Classroom report: one row per school year, teacher, test, subject, school and district.
    Incremental: a run recomputes exactly the classrooms its new batches touched (the old and the
    new classroom of a corrected score), from the section histograms.
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set group_columns = ['school_year', 'teacher_id', 'test_id', 'subject', 'school_id', 'district_id'] -%}
{{ config(**aggregate_config(group_columns, names=['teacher_name', 'school_name', 'district_name'])) }}

{{ aggregate_scores(
    ref('int_score_distributions'), ref('int_current_names'), ref('score_bands'), group_columns, ['state_id', 'teacher_name', 'school_name', 'district_name']
) }}
