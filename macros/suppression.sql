{#-
    Small-group suppression: the one home of the rule every published aggregate follows (the
    rpt_* report views over the marts, and through them the serving lookups, `scores report` and
    the Superset dashboard).

    The minimum is var `min_group_size` (env SCORES_MIN_GROUP_SIZE, the same setting the loaders
    and the CLI read; default 10, the most common state rule, NCES 2011-603; 0 turns suppression
    off).

    The rule, for a partition of students into cells (the grades of a school, the schools of a
    district grade, the classrooms of a school, the score bands of one group):
      1. primary: a cell of fewer than N students is hidden;
      2. complementary: while hidden cells of a partition hold fewer than N students together
         (and some cell is hidden), the smallest shown cell is hidden too.
    A published total minus the published cells then gives only the sum over hidden cells, which
    always holds N or more students (or nothing is hidden). Primary cells all have fewer than N
    students and complementary ones N or more, so hiding a cell for one partition never undoes
    another partition's guarantee; applying the partitions one after another is enough.

    Score bands follow the same rule inside each shown group, zero counts included (a band of
    0 or of every student tells each student's band: NCES 2011-603, "Statistical Methods for
    Protecting Personally Identifiable Information in Aggregate Reporting", on 0% and 100% cells):
    every published band count c satisfies N <= c, and the hidden bands of a group hold N or more
    students.
-#}

{% macro min_group_size() -%}
    {#- the same rule as the loaders (loaders/config.py): a whole number, 0 to 1000 -#}
    {%- set text = var('min_group_size') | string | trim -%}
    {%- if not text.isdigit() or (text | int) > 1000 -%}
        {{ exceptions.raise_compiler_error(
            "min_group_size (var or SCORES_MIN_GROUP_SIZE) must be a whole number of students from 0 to 1000, not '"
            ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}

{#- The label of a suppressed group, as reports show it. -#}
{% macro suppression_label(n=none) -%}
    {{ return('n<' ~ (min_group_size() if n is none else n)) }}
{%- endmacro %}

{#- The score band columns of score_metric_columns(), in band order. -#}
{% macro band_count_columns() -%}
    {{ return(['excellent_count', 'good_count', 'fair_count', 'needs_improvement_count']) }}
{%- endmacro %}

{#-
    The CTEs of a report view over an aggregate (`aggregates`, a CTE name): one pass per sibling
    partition (`partitions`, lists of columns: the cells of one parent), then `published` with
    every column of `group_columns + attributes + metrics`, the metrics NULL where hidden, and
    `is_suppressed` (1: hidden), `suppression_reason` ('' | 'small group' | 'complementary'),
    `suppression_label` ('' or 'n<N') and `min_group_size` (N, as this build applied it). `count_column` counts a cell's students; `bands` are
    count columns that partition it (hidden inside shown groups by the same rule).
-#}
{% macro suppressed_groups(aggregates, group_columns, attributes, partitions, metrics=none, count_column='student_count', bands=none) -%}
{%- set n = min_group_size() -%}
{%- set metrics = score_metric_columns() if metrics is none else metrics -%}
{%- set bands = band_count_columns() if bands is none else bands -%}
cells as (
    select
        *,
        toUInt8({{ count_column }} < {{ n }}) as below_minimum,
        below_minimum as hidden_0
    from {{ aggregates }}
),
{%- for siblings in partitions %}
{%- set previous = 'hidden_' ~ loop.index0 %}

hidden_in_{{ loop.index }} as (
    select
        *,
        toUInt8({{ previous }} = 1 or (
            max({{ previous }}) over (partition by {{ siblings | join(', ') }}) = 1
            and sum({{ count_column }}) over (
                partition by {{ siblings | join(', ') }}
                order by {{ previous }} desc, {{ count_column }}, {{ group_columns | join(', ') }}
                rows between unbounded preceding and 1 preceding
            ) < {{ n }}
        )) as hidden_{{ loop.index }}
    from {{ 'cells' if loop.first else 'hidden_in_' ~ loop.index0 }}
),
{%- endfor %}
{%- set last = 'hidden_' ~ (partitions | length) %}

band_cells as (
    select
        *,
        {% if bands %}{{ hidden_bands(bands, n) }}{% else %}cast([], 'Array(Bool)'){% endif %} as hidden_bands
    from {{ 'cells' if not partitions else 'hidden_in_' ~ (partitions | length) }}
),

published as (
    select
        {% for column in group_columns + attributes -%}
        {{ column }},
        {% endfor -%}
        {{ last }} as is_suppressed,
        multiIf(below_minimum = 1, 'small group', {{ last }} = 1, 'complementary', '') as suppression_reason,
        if({{ last }} = 1, '{{ suppression_label(n) }}', '') as suppression_label,
        toUInt16({{ n }}) as min_group_size,
        {% for column in metrics -%}
        {%- if column in bands -%}
        if({{ last }} = 1 or hidden_bands[{{ bands.index(column) + 1 }}], null, {{ column }}) as {{ column }}
        {%- else -%}
        if({{ last }} = 1, null, {{ column }}) as {{ column }}
        {%- endif -%}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from band_cells
)
{%- endmacro %}

{#- Array(Bool) of which `bands` (count columns partitioning a group) a shown group hides:
    primary ones below n, then the smallest shown ones until the hidden hold n or more. -#}
{% macro hidden_bands(bands, n) -%}
    {%- set counts = '[' ~ bands | join(', ') ~ ']' -%}
    {%- set order = 'arraySort(i -> (' ~ counts ~ '[i] >= ' ~ n ~ ', ' ~ counts ~ '[i], i), range(1, ' ~ (bands | length + 1) ~ '))' -%}
    arrayMap(
        band -> (
            {{ counts }}[band] < {{ n }}
            or (
                arrayExists(c -> c < {{ n }}, {{ counts }})
                and arraySum(arraySlice(
                    arrayMap(i -> {{ counts }}[i], {{ order }}), 1, indexOf({{ order }}, band) - 1
                )) < {{ n }}
            )
        ),
        range(1, {{ bands | length + 1 }})
    )
{%- endmacro %}
