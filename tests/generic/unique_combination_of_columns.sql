{#- No two rows share the same values in all of the given columns. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count() as n
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having n > 1
{% endtest %}
