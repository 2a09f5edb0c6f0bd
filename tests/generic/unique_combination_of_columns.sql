{#- No two rows share the same values in all of the given columns.
    Fast path first: when the rows' 64-bit key hashes are all distinct, so are the keys, and the
    exact GROUP BY (the expensive part on a large table, several times the hashes' cost) never
    runs. Any repeated hash, a duplicate or a collision, runs the exact check, which
    alone decides: the test fails only on real duplicates, and lists them. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set key = combination_of_columns | join(', ') -%}
with

key_hashes as (
    select count() != uniqExact(cityHash64({{ key }})) as may_repeat
    from {{ model }}
)

select
    {{ key }},
    count() as n
from {{ model }}
where (select key_hashes.may_repeat from key_hashes)
group by {{ key }}
having n > 1
{% endtest %}
