{#- The aggregate accounts for every fact row of `facts` (a relation): per `by` columns (default school year and test),
    the sum of `count_column` equals the number of fact rows. -#}
{% test counts_reconcile_with_facts(model, facts, count_column='student_count', by=['school_year', 'test_id']) %}
with

fact_counts as (
    select {{ by | join(', ') }}, count() as fact_rows
    from {{ facts }}
    group by {{ by | join(', ') }}
),

aggregate as (
    select {{ by | join(', ') }}, sum({{ count_column }}) as aggregated_rows
    from {{ model }}
    group by {{ by | join(', ') }}
)

select
    {% for column in by %}{{ column }}, {% endfor %}
    facts.fact_rows,
    aggregate.aggregated_rows
from fact_counts as facts
full outer join aggregate using ({{ by | join(', ') }})
where facts.fact_rows != aggregate.aggregated_rows
{% endtest %}
