{#-
    The keys an incremental run recomputes are computed once, before anything changes, into a
    small table `<model>__dbt_changes` (from int_score_changes); the delete and the recompute both read it (a delete whose
    condition reads views can stall chDB's mutation threads, and this evaluates the set once).
-#}
{% macro changes_relation() -%}
    {{ this.incorporate(path={"identifier": this.identifier ~ "__dbt_changes"}) }}
{%- endmacro %}

{% macro drop_changes() -%}
    {{ drop_table_sql(changes_relation()) }}
{%- endmacro %}

{#- Whether `relation` has a row matching `condition` (at execution time; false when parsing).
    The read stops at the first matching row rather than counting them all. Guards a DELETE, a
    mutation that waits for running merges of the table, where a read does not. -#}
{% macro has_rows(relation, condition) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
        "select count() from (select 1 from " ~ relation ~ " where " ~ condition ~ " limit 1)"
    ).columns[0].values()[0] -%}
    {{ return(found > 0) }}
{%- endmacro %}

{#- Model filter: true in a full build; in an incremental run, the row's key is among the
    changes (the school_year test first prunes by the primary key). -#}
{% macro among_changes_when_incremental(key_columns) -%}
    {%- if is_incremental() -%}
        school_year in (select changes.school_year from {{ changes_relation() }} as changes)
        and {{ is_changed(key_columns) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Model filter: the row belongs to a key this run recomputes. -#}
{% macro is_changed(key_columns) -%}
    {{ keys_in(key_columns, changes_relation()) }}
{%- endmacro %}

{#- Whether a row's `key_columns` are among the keys that `relation` holds. A 64-bit hash of the
    key is looked up first, one number per row, where a tuple of strings is slow to find in a set
    (a third of the time over the fact table's score keys); then the key itself, on the rows that
    pass, so a hash collision never selects a row. cityHash64 hashes an integer by its value
    whatever its width, and a LowCardinality or Nullable value as the value, so both sides agree
    across those types. -#}
{% macro keys_in(key_columns, relation) -%}
    {%- set columns = key_columns | join(', ') -%}
    {%- if key_columns | length > 1 -%}
        (cityHash64({{ columns }}) in (select cityHash64({{ columns }}) from {{ relation }})
        and ({{ columns }}) in (select {{ columns }} from {{ relation }}))
    {%- else -%}
        {{ columns }} in (select {{ columns }} from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#-
    For models published by partition (publish='partitions', macros/materializations/batch_incremental.sql): the rows of the
    school years this run touches that it does not recompute, appended to the model's result
    (`union all`), so the result is the complete new content of those years and REPLACE PARTITION
    swaps them in at once. Empty in full builds and for models published by rows.
-#}
{% macro unchanged_rows_of_touched_years(key_columns) -%}
    {#- (config.get is missing only under sqlfluff's jinja stand-ins) -#}
    {%- set publish = config.get('publish') if config.get is defined else none -%}
    {#- only a run that applies batches uses this SQL: a run with nothing new skips the lookup of
        the columns -#}
    {%- if publish == 'partitions' and is_incremental() and batch_state().batches -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
union all
select {{ columns | join(', ') }}
from {{ this }}
where
    school_year in (select distinct changes.school_year from {{ changes_relation() }} as changes)
    and not ({{ is_changed(key_columns) }})
    {%- endif %}
{%- endmacro %}
