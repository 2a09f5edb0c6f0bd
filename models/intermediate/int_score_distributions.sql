{#-
    Score histograms per class section: one row per school year, district, school, teacher,
    test, subject and grade. Every aggregate level sums these (macros/aggregate_scores.sql).
    Incremental: a run recomputes the sections its new batches touched, from the fact table.
-#}
{%- set section_key = ['school_year', 'district_id', 'school_id', 'teacher_id', 'test_id', 'subject', 'grade'] -%}
{{ config(**incremental_by_batch(section_key, upstream='fct_student_scores')) }}

with sections as (
    select
        {% for column in section_key -%}
            {{ column }},
        {% endfor -%}
        -- one argMax for every descriptive column: the most recently loaded row of the section
        argMax(
            (state_id, teacher_name, school_name, district_name, {{ score_version() }}),
            {{ score_version() }}
        ) as latest_row,
        {{ score_histogram('overall_score') }} as score_histogram,
        {{ score_histogram('performance_level') }} as performance_level_histogram
    from {{ ref('fct_student_scores') }}
    {% if is_incremental() -%}
        where {{ is_changed(section_key) }}
    {%- endif %}
    group by {{ section_key | join(', ') }}
)

select
    {% for column in section_key -%}
        {{ column }},
    {% endfor -%}
    tupleElement(latest_row, 1) as state_id,
    tupleElement(latest_row, 2) as teacher_name,
    tupleElement(latest_row, 3) as school_name,
    tupleElement(latest_row, 4) as district_name,
    score_histogram,
    performance_level_histogram,
    tupleElement(latest_row, 5) as latest_version
from sections
