{#-
    The relationships test (every value of a column exists in another model), for ClickHouse:
    the parent's values as a set and the child's rows filtered by it. dbt-clickhouse's version
    joins every child row to the parent, which costs a hash join per test on the fact table; a set
    lookup does not (benchmarks/README.md, "Timings behind the code"). The same rows fail: each
    child row whose non-null value the parent lacks.
    Root-project macros come first in dispatch, so this replaces the adapter's for every target.
-#}
{% macro clickhouse__test_relationships(model, column_name, to, field) %}

select {{ column_name }} as from_field
from {{ model }}
where
    {{ column_name }} is not null
    and {{ column_name }} not in (
        select parent.{{ field }} from {{ to }} as parent
        where parent.{{ field }} is not null
    )

{% endmacro %}
