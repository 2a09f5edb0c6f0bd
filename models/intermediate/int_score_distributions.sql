{#-
    Score histograms per class section: one row per school year, district, school, teacher,
    test, subject and grade. Every aggregate level sums these (macros/aggregate_scores.sql).
    Incremental: a run recomputes the sections its new batches touched, from the fact table.
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set section_key = ['school_year', 'district_id', 'school_id', 'teacher_id', 'test_id', 'subject', 'grade'] -%}
{{ config(
    materialized='batch_incremental',
    batch_upstream=['fct_student_scores'],
    batch_keys=section_key,
    order_by=section_key,
    partition_by='school_year',
    **retention_config()
) }}

with

facts as (
    select * from {{ ref('fct_student_scores') }}
),

section_scores as (
    select *
    from facts
    {% if is_incremental() -%}
        where {{ is_changed(section_key) }}
    {%- endif %}
),

versioned_scores as (
    select
        *,
        {{ score_version_number() }} as version_number
    from section_scores
),

sections as (
    select
        {% for column in section_key -%}
            {{ column }},
        {% endfor -%}
        -- the descriptive columns of the most recently loaded row of the section
        argMax(state_id, version_number) as state_id,
        argMax(teacher_name, version_number) as teacher_name,
        argMax(school_name, version_number) as school_name,
        argMax(district_name, version_number) as district_name,
        max(version_number) as latest_version_number,
        {{ score_histogram('overall_score') }} as score_histogram,
        {{ score_histogram('performance_level') }} as performance_level_histogram
    from versioned_scores
    group by {{ section_key | join(', ') }}
)

select
    {% for column in section_key -%}
        {{ column }},
    {% endfor -%}
    state_id,
    teacher_name,
    school_name,
    district_name,
    score_histogram,
    performance_level_histogram,
    latest_version_number as latest_version
from sections
