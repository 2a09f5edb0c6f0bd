{#-
    dbt-clickhouse's dictionary materialization (1.10), made to cost what changed: a dictionary
    model is tracked like batch_incremental's tables (macros/build_state.sql, config
    batch_upstream: the marts it reads). When nothing upstream changed and its definition is the
    same, a run does nothing; otherwise it recreates the dictionary and loads it at once, so
    lookups never wait for a lazy first load. The root project's materialization wins over the
    adapter's of the same name.
-#}
{%- materialization dictionary, adapter='clickhouse' -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='dictionary') -%}
    {%- set state = batch_state() -%}
    {%- set current = existing_relation is not none and state.defined and not (
        state.batches or state.retention or state.builds or should_full_refresh()) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if current -%}
        {%- do store_up_to_date() -%}
    {%- else -%}
        {%- call statement('main') -%}
            {{ clickhouse__get_create_dictionary_as_sql(target_relation, on_cluster_clause(target_relation), sql) }}
        {%- endcall -%}
        {%- do run_query("system reload dictionary " ~ target_relation ~ " " ~ cluster_clause()) -%}
        {#- rebuilt for new batches: the tables that read it apply those batches; rebuilt for any
            other reason (new definition, first build, --full-refresh): they rebuild too -#}
        {%- do record_full_build(emit_build=existing_relation is none or not state.defined
                                 or state.builds > 0 or should_full_refresh()) -%}
    {%- endif -%}

    {{ finish_materialization(target_relation, target_relation) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization -%}
