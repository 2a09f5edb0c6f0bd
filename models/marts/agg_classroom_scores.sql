{#-
    Classroom report: one row per school year, teacher, test, subject, school and district.
    Incremental: a run recomputes exactly the classrooms its new batches touched (the old and the
    new classroom of a corrected score), from the section histograms.
-#}
{%- set group_columns = ['school_year', 'teacher_id', 'test_id', 'subject', 'school_id', 'district_id'] -%}
{{ config(**incremental_by_batch(group_columns, upstream='int_score_distributions', publish='partitions',
    names=['teacher_name', 'school_name', 'district_name'])) }}

{{ aggregate_scores(group_columns, ['state_id', 'teacher_name', 'school_name', 'district_name']) }}
