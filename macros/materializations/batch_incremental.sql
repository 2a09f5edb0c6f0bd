{#-
    materialized='batch_incremental': a table that follows its upstream by load batch and costs
    what changed (macros/build_state.sql says what a table lacks).

    Config:
      batch_upstream  the tracked models this one follows (each one the model refs);
      batch_audit     instead, for the first model: the load audit it reads batches from;
      batch_keys      the keys a run recomputes (score keys or group keys);
      changes_from    where a run finds the keys of its missing batches: {model, batch_column},
                      by default int_score_changes (every version's keys, computed once per run);
      batch_work_list the model is a work list for others (int_score_changes): rebuilding it
                      never makes them rebuild;
      publish         how a run's changes reach readers:
        'rows'        delete the keys' rows, insert their new rows (per-score layers). Cost grows
                      with the delta only; a recomputed key is briefly absent during the run.
        'partitions'  build the complete new content of every school year the run touches (the
                      recomputed groups plus the year's other rows, unchanged_rows_of_touched_years)
                      and swap those partitions in with REPLACE PARTITION (macros/insert_overwrite.sql):
                      readers see a school year before or after the run, never half of it.
        'table'       rebuild the whole table and exchange it atomically, when anything upstream
                      changed (small tables).
        'upsert'      a key-value table (EmbeddedRocksDB, an insert replaces the value of its key):
                      upsert_key = {column, present_in}, the key column a tuple of batch_keys
                      (a value depends only on its key's rows). Delete the run's keys (every
                      version's) that the model `present_in` no longer has (a
                      classroom whose students all moved), then insert the model's rows, whose
                      keys replace their old values. A deleted key is absent from then on.
      names           (partitions) the mart's name columns: school years whose stored names are
                      no longer current are republished (macros/current_names.sql).

    A run does one of:
      nothing         the table lacks no token: one query;
      a full build    no table yet, --full-refresh, a new definition, or an upstream full build:
                      build beside the table and exchange (the table is never half-built);
      apply changes   the missing batches' keys (`<model>__dbt_changes`, from int_score_changes)
                      are recomputed, and a new retention cutoff deletes the expired rows.
    Tokens are recorded after the table changed: a run interrupted before that repeats its work.
-#}
{% materialization batch_incremental, adapter='clickhouse' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set publish = config.get('publish', 'rows') -%}
    {%- set keys = config.get('batch_keys', []) -%}
    {%- if publish not in ('rows', 'partitions', 'table', 'upsert') -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": publish must be 'rows', 'partitions', 'table' or 'upsert'") }}
    {%- endif -%}
    {%- if publish == 'upsert' and not config.get('upsert_key', {}).get('present_in') -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": publish='upsert' needs upsert_key: {column, present_in}") }}
    {%- endif -%}
    {%- if publish != 'table' and not keys -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": publish='" ~ publish ~ "' needs batch_keys") }}
    {%- endif -%}
    {%- if publish == 'partitions' and (config.get('partition_by') != 'school_year' or 'school_year' not in keys) -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": publish='partitions' needs partition_by='school_year' and school_year in batch_keys"
        ) }}
    {%- endif -%}

    {%- set state = batch_state() -%}
    {%- set incremental = batch_run_is_incremental(state) -%}
    {%- set anything_missing = state.batches or state.retention or state.builds or not state.defined -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is not none and not should_full_refresh() and not anything_missing -%}
        {#- nothing to do: the state query was the model's one statement -#}
        {%- do store_up_to_date() -%}

    {%- elif not incremental -%}
        {{ batch_full_build(existing_relation, target_relation, publish) }}

    {%- else -%}
        {%- if state.batches or publish == 'table' -%}
            {{ batch_apply_changes(existing_relation, target_relation, publish, keys) }}
        {%- endif -%}
        {%- if state.retention -%}
            {{ batch_apply_retention() }}
        {%- endif -%}
        {%- if not state.batches -%}
            {%- call statement('main') -%}
                select 'retention applied' as batch_state
            {%- endcall -%}
        {%- endif -%}
        {%- do run_query(record_tokens(missing_tokens())) -%}
    {%- endif -%}

    {{ finish_materialization(target_relation, existing_relation) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- A run with nothing to do reports 'up to date' as its result, without sending the engine a
    statement for dbt's `main` result (a round trip per model in a build with nothing new). -#}
{% macro store_up_to_date() -%}
    {%- do store_result('main', response='up to date') -%}
{%- endmacro %}

{#- The end of each of the project's materializations, as in dbt-clickhouse's: grants, docs,
    post-hooks around the commit. -#}
{% macro finish_materialization(target_relation, existing_relation) -%}
    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
    {% do apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
{%- endmacro %}

{#- Build the whole table beside the old one and exchange them, then record the full state. -#}
{% macro batch_full_build(existing_relation, target_relation, publish) -%}
    {%- if existing_relation is none -%}
        {%- call statement('main') -%}
            {{ get_create_table_as_sql(False, target_relation, sql) }}
        {%- endcall -%}
    {%- else -%}
        {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
        {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
        {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
        {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
        {%- call statement('main') -%}
            {{ get_create_table_as_sql(False, intermediate_relation, sql) }}
        {%- endcall -%}
        {%- if existing_relation.can_exchange -%}
            {% do adapter.rename_relation(intermediate_relation, backup_relation) %}
            {% do exchange_tables_atomic(backup_relation, target_relation) %}
        {%- else -%}
            {% do adapter.rename_relation(target_relation, backup_relation) %}
            {% do adapter.rename_relation(intermediate_relation, target_relation) %}
        {%- endif -%}
        {% do adapter.drop_relation(backup_relation) %}
    {%- endif -%}
    {#- a 'table' model rebuilt for new batches changed as its batches say; downstream models
        apply those batches as they would have. Any other full build is one they must rebuild from,
        except the first model's: its table is a work list, not content. -#}
    {%- set state = batch_state() -%}
    {%- set batch_wise = config.get('batch_work_list') or (
        publish == 'table' and existing_relation is not none and not should_full_refresh()
        and state.defined and state.builds == 0) -%}
    {%- do record_full_build(emit_build=not batch_wise) -%}
{%- endmacro %}

{#- An incremental run: recompute the keys of the missing batches. -#}
{% macro batch_apply_changes(existing_relation, target_relation, publish, keys) -%}
    {%- if publish == 'table' -%}
        {{ return(batch_full_build(existing_relation, target_relation, publish)) }}
    {%- endif -%}
    {%- set changes = changes_relation() -%}
    {%- set changes_from = config.get('changes_from', {'model': 'int_score_changes', 'batch_column': 'batch_id'}) -%}
    {%- set changes_source = upstream_relation(changes_from.model) -%}
    {%- if changes_from.model == 'int_score_changes' -%}
        {{ require_current_changes(changes_source) }}
    {%- endif -%}
    {%- do run_query(drop_changes()) -%}
    {%- do run_query(batch_changes_sql(changes, keys, changes_source, changes_from.batch_column, missing_batches())) -%}
    {%- if config.get('names') -%}
        {%- do run_query(add_stale_name_years(upstream_relation('int_current_names'), config.get('names'))) -%}
    {%- endif -%}
    {%- if publish == 'partitions' -%}
        {% do clickhouse__incremental_insert_overwrite(existing_relation, config.get('partition_by'), False) %}
    {%- elif publish == 'upsert' -%}
        {%- set key = config.get('upsert_key') -%}
        {%- set gone = upserted_keys_gone_sql(keys, changes, upstream_relation(key.present_in)) -%}
        {#- a point read of the key-value table; nearly always nothing is gone -#}
        {%- if has_rows(this, key.column ~ ' in (' ~ gone ~ ')') -%}
            {%- do run_query(delete_upserted_keys_sql(target_relation, key.column, gone)) -%}
        {%- endif -%}
        {%- call statement('main') -%}
            {{ clickhouse__insert_into(target_relation, sql, config.get('contract').enforced) }}
        {%- endcall -%}
    {%- else -%}
        {#- skipped when none of the keys has rows yet (new scores, new groups) -#}
        {%- if has_rows(this, is_changed(keys)) -%}
            {%- do run_query(delete_keys_sql(target_relation, changes, keys)) -%}
        {%- endif -%}
        {%- call statement('main') -%}
            {{ clickhouse__insert_into(target_relation, sql, config.get('contract').enforced) }}
        {%- endcall -%}
    {%- endif -%}
    {%- do run_query(drop_changes()) -%}
{%- endmacro %}

{#- The shared work list must hold every batch this model is about to apply: a model run without
    it (dbt run -s <model>) after new loads would otherwise record batches it never applied. -#}
{% macro require_current_changes(changes_source) -%}
    {%- set behind = run_query(
        "select count() from (" ~ missing_batches() ~ ") where batch_id not in (select batch_id from "
        ~ source('build_state', 'dbt_batch_ledger') ~ " where model = '" ~ changes_source.identifier ~ "')"
    ).columns[0].values()[0] -%}
    {%- if behind > 0 -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": " ~ changes_source.identifier ~ " does not list " ~ behind ~ " of the batches to apply;"
            ~ " build it first (dbt build -s " ~ changes_source.identifier ~ "+, or fct_student_scores+)"
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- A new retention cutoff: delete the expired rows now (not at the next TTL merge) and bring the
    table's TTL to the current rule. -#}
{% macro batch_apply_retention() -%}
    {#- a key-value table (upsert) has no TTL; its school year is a part of its key -#}
    {%- set key = config.get('upsert_key') if config.get('publish') == 'upsert' else none -%}
    {%- set school_year = 'tupleElement(' ~ key.column ~ ', ' ~ (config.get('batch_keys').index('school_year') + 1) ~ ')'
                          if key else 'school_year' -%}
    {#- the check reads only the primary key (school_year leads every sort key): nearly always
        no school year has expired -#}
    {%- if has_rows(this, "not (" ~ is_retained(school_year) ~ ")") -%}
        {%- do run_query(delete_expired_sql(this, school_year)) -%}
    {%- endif -%}
    {#- recomputing the TTLs of every part would rewrite the table: the rows are deleted above -#}
    {%- if not key and not has_current_ttl(this) -%}
        {%- do run_query(modify_ttl_sql(this)) -%}
    {%- endif -%}
{%- endmacro %}
