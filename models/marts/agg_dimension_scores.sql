{#-
    Dimension averages: one row per school year, district, school, teacher, test, subject and
    dimension, for every dimension present in the JSON dimension scores (not a fixed list).
    Sums are decimal, so averages are exact. Incremental by classroom, from the fact table.
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set classroom_key = ['school_year', 'district_id', 'school_id', 'teacher_id', 'test_id', 'subject'] -%}
{{ config(
    materialized='batch_incremental',
    batch_upstream=['fct_student_scores'],
    batch_keys=classroom_key,
    publish='partitions',
    order_by=classroom_key + ['dimension'],
    partition_by='school_year',
    **retention_config()
) }}

with

facts as (
    select * from {{ ref('fct_student_scores') }}
),

dimension_values as (
    select
        {% for column in classroom_key -%}
            {{ column }},
        {% endfor -%}
        state_id,
        tupleElement(pair, 1) as dimension,
        toDecimal64(tupleElement(pair, 2), 4) as dimension_score
    from facts
    array join JSONExtractKeysAndValuesRaw(dimension_scores) as pair
    {% if is_incremental() -%}
        where {{ is_changed(classroom_key) }}
    {%- endif %}
)

select
    {% for column in classroom_key -%}
        {{ column }},
    {% endfor -%}
    dimension,
    any(state_id) as state_id,  -- a district is in one state
    count() as student_count,
    sum(dimension_score) as dimension_score_total,
    toFloat64(dimension_score_total) / student_count as avg_dimension_score,
    min(dimension_score) as min_dimension_score,
    max(dimension_score) as max_dimension_score
from dimension_values
group by {{ (classroom_key + ['dimension']) | join(', ') }}
{{ unchanged_rows_of_touched_years(classroom_key) }}
