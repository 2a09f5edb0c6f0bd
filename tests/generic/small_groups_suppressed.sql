{#- A report view (models/reports/rpt_*.sql) publishes nothing that tells a small group:
    against its mart's counts, no published group has fewer than the minimum, every group of
    the mart is there, and in each partition (a list of columns: the cells of one published
    total) the hidden cells hold the minimum or more students together, unless none is hidden
    or all are. Inside a published group, every shown band count is the minimum or more and the
    hidden bands hold the minimum or more together (macros/suppression.sql). -#}
{% test small_groups_suppressed(model, mart, group_columns, partitions, bands=[], count_column='student_count') %}
{%- set n = min_group_size() %}
with

published as (
    select * from {{ model }}
),

aggregates as (
    select * from {{ mart }}
),

cells as (
    select
        {% for column in group_columns -%}
        aggregates.{{ column }} as {{ column }},
        {% endfor -%}
        aggregates.{{ count_column }} as students,
        published.is_suppressed as hidden,
        published.{{ count_column }} as published_students
        {%- for band in bands %},
        published.{{ band }} as published_{{ band }}
        {%- endfor %}
    from aggregates
    left join published
        on {% for column in group_columns %}aggregates.{{ column }} = published.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
),

{#- every problem counted in one pass over `cells`, which the engine would otherwise evaluate
    (the join, and the view's window functions under it) once for each problem: the totals of a
    partition are window sums, and a partition is counted once (uniqExactIf over its key) -#}
flagged as (
    select
        *
        {%- for siblings in partitions %},
        sumIf(students, hidden = 1) over (partition by {{ siblings | join(', ') }}) as hidden_students_{{ loop.index }},
        countIf(hidden = 1) over (partition by {{ siblings | join(', ') }}) as hidden_cells_{{ loop.index }},
        count() over (partition by {{ siblings | join(', ') }}) as all_cells_{{ loop.index }}
        {%- endfor %}
    from cells
),

problems as (
    select
        arrayJoin([
            tuple('published below the minimum', countIf(hidden = 0 and (students < {{ n }} or published_students != students))),
            tuple('missing from the view', countIf(published_students is null and hidden = 0))
            {%- for siblings in partitions %},
            tuple(
                'recoverable by subtraction over {{ siblings | join("/") }}',
                uniqExactIf(
                    tuple({{ siblings | join(', ') }}),
                    hidden_cells_{{ loop.index }} > 0
                    and hidden_cells_{{ loop.index }} < all_cells_{{ loop.index }}
                    and hidden_students_{{ loop.index }} < {{ n }}
                )
            )
            {%- endfor %}
            {%- if bands %},
            tuple('band counts recoverable', countIf(
                hidden = 0
                and (
                    {% for band in bands %}published_{{ band }} < {{ n }}{% if not loop.last %} or {% endif %}{% endfor %}
                    or (
                        ({% for band in bands %}published_{{ band }} is null{% if not loop.last %} or {% endif %}{% endfor %})
                        and students - ({% for band in bands %}ifNull(published_{{ band }}, 0){% if not loop.last %} + {% endif %}{% endfor %}) < {{ n }}
                    )
                )
            ))
            {%- endif %}
        ]) as problem_cells
    from flagged
)

select
    tupleElement(problem_cells, 1) as problem,
    tupleElement(problem_cells, 2) as cells
from problems
where cells > 0
{% endtest %}
