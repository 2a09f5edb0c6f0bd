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

problems as (
    select 'published below the minimum' as problem, count() as cells
    from cells
    where hidden = 0 and (students < {{ n }} or published_students != students)
    union all
    select 'missing from the view' as problem, count() as cells
    from cells
    where published_students is null and hidden = 0
    {%- for siblings in partitions %}
    union all
    select 'recoverable by subtraction over {{ siblings | join("/") }}' as problem, count() as cells
    from (
        select
            sumIf(students, hidden = 1) as hidden_students,
            countIf(hidden = 1) as hidden_cells,
            count() as all_cells
        from cells
        group by {{ siblings | join(', ') }}
    )
    where hidden_cells > 0 and hidden_cells < all_cells and hidden_students < {{ n }}
    {%- endfor %}
    {%- if bands %}
    union all
    select 'band counts recoverable' as problem, count() as cells
    from cells
    where
        hidden = 0
        and (
            {% for band in bands %}published_{{ band }} < {{ n }}{% if not loop.last %} or {% endif %}{% endfor %}
            or (
                ({% for band in bands %}published_{{ band }} is null{% if not loop.last %} or {% endif %}{% endfor %})
                and students - ({% for band in bands %}ifNull(published_{{ band }}, 0){% if not loop.last %} + {% endif %}{% endfor %}) < {{ n }}
            )
        )
    {%- endif %}
)

select problem, cells
from problems
where cells > 0
{% endtest %}
