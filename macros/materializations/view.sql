{#-
    dbt-clickhouse's view materialization (1.10), which replaces every view on every run, made to
    skip a view whose compiled SQL is the one it was created from (a `definition:` token in the
    build-state ledger, macros/build_state.sql): a build with nothing new then costs one query
    per view. The root project's materialization wins over the adapter's of the same name.
-#}
{%- materialization view, adapter='clickhouse' -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set ledger = source('build_state', 'dbt_batch_ledger') -%}
    {%- set token = 'definition:' ~ local_md5(sql ~ tojson(config.get('sql_security'))) -%}
    {%- set current = false -%}
    {%- if existing_relation is not none and existing_relation.is_view and not should_full_refresh() -%}
        {%- set current = run_query(
            "select count() from " ~ ledger ~ " where model = '" ~ this.identifier ~ "' and batch_id = '"
            ~ token ~ "'"
        ).columns[0].values()[0] > 0 -%}
    {%- endif -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if current -%}
        {%- do store_up_to_date() -%}
    {%- else -%}
        {%- if existing_relation is not none -%}
            {{ clickhouse__drop_associated_mv_if_it_was_automatically_created(target_relation) }}
            {%- if not adapter.supports_atomic_exchange() -%}
                {{ drop_relation_if_exists(existing_relation) }}
            {%- endif -%}
        {%- endif -%}
        {%- call statement('main') -%}
            {{ get_create_view_as_sql(target_relation, sql) }}
        {%- endcall -%}
        {%- do run_query(ledger_reset_sql(ledger, this.identifier)) -%}
        {%- do run_query(record_tokens("select '" ~ token ~ "' as batch_id")) -%}
    {%- endif -%}

    {{ finish_materialization(target_relation, existing_relation) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization %}
