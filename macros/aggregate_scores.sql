{#-
    The body of every score aggregate (agg_* models): sum the section histograms of each group
    (int_score_distributions) and derive the shared metric set (macros/score_metrics.sql).
    Incremental runs read only the groups this run recomputes, and publish whole school years
    (batch_incremental, publish='partitions').

    distributions, names, bands: the section histograms, current names and score bands (relations);
    group_columns: the grain of the aggregate; attributes: descriptive columns carried along
    (a name column shows the current name of its id, macros/current_names.sql; others come from
    the group's most recently loaded score).
-#}
{#- The config of every aggregate mart over the section histograms (agg_* but the dimension
    averages): incremental by the batches its sections applied, published by school year. -#}
{% macro aggregate_config(group_columns, names) -%}
    {%- set aggregate = {
        'materialized': 'batch_incremental',
        'batch_upstream': ['int_score_distributions', 'int_current_names'],
        'batch_keys': group_columns,
        'publish': 'partitions',
        'names': names,
        'order_by': group_columns,
        'partition_by': 'school_year',
    } -%}
    {%- do aggregate.update(retention_config()) -%}
    {{ return(aggregate) }}
{%- endmacro %}

{% macro aggregate_scores(distributions, names, bands, group_columns, attributes=[]) -%}
with

section_distributions as (
    select *
    from {{ distributions }}
    {% if is_incremental() -%}
    where {{ is_changed(group_columns) }}
    {%- endif %}
),

versioned_distributions as (
    select
        *,
        latest_version as version_number
    from section_distributions
),

groups as (
    select
        {% for column in group_columns -%}
        {{ column }},
        {% endfor -%}
        {% for column in attributes -%}
        {{ latest(column, 'version_number') }} as {{ column }},
        {% endfor -%}
        sumMap(score_histogram) as score_histogram,
        sumMap(performance_level_histogram) as performance_level_histogram
    from versioned_distributions
    group by {{ group_columns | join(', ') }}
),

current_names as (
    select * from {{ names }}
),

published as (
    select
        {% for column in group_columns + attributes -%}
        {{ column }},
        {% endfor -%}
        {{ score_metrics(bands) }}
    from groups
    {{ unchanged_rows_of_touched_years(group_columns) }}
)

{%- set name_attributes = attributes | select('in', name_columns().keys() | list) | list %}

select
    {% for column in group_columns + attributes + score_metric_columns() -%}
    {{ column ~ '_now.current_name' if column in name_attributes else 'published.' ~ column }} as {{ column }}
    {%- if not loop.last %},{% endif %}
    {% endfor %}
from published
{{ current_name_joins('current_names', 'published', name_attributes) }}
{%- endmacro %}
