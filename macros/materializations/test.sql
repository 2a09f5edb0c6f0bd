{#-
    dbt's test materialization, made to cost what a build changed. In `dbt build`, a data test
    whose tables all stand where they stood when it last passed is not run again: its tables'
    build state (their tokens in the ledger, macros/build_state.sql), their parts (the last block
    number and the partitions of their active parts, and their mutations: inserts, updates,
    deletes and dropped partitions move them, merges do not, so a change made outside dbt is
    caught too; dictionaries and the key-value table have no parts, only their build state)
    and the test's SQL match a pass it recorded. Everything else runs as in dbt:
      - every test of a table the build changed, on the whole table;
      - every test in `dbt test`, and in `dbt build --vars '{full_tests: true}'`;
      - tests reading a source or a seed (directly or through views) whose parts moved: a new
        load, a reloaded seed;
      - tests that store failures.
    A test configured `meta: {whole_table_only: true}` (a check that must read a whole table and
    costs seconds at 10M rows, such as the key-value table's row count) runs in `dbt build`
    only when one of its tables was built whole in this run, or when it has never passed; in an
    incremental build it is skipped. `full_tests` and `dbt test` run it as any other.
    Only a pass is recorded (all of a run's at its end, record_test_passes), so a failing test
    runs, and fails, on every build until it is fixed. A table's state is read once per run, after
    its model ran (a model runs once per invocation, before its tests). The root project's
    materialization wins over dbt's default for this adapter.
-#}
{%- materialization test, adapter='clickhouse' -%}
    {%- set relations = [] -%}
    {%- set limit = config.get('limit') -%}
    {%- set fail_calc = config.get('fail_calc') -%}
    {%- set warn_if = config.get('warn_if') -%}
    {%- set error_if = config.get('error_if') -%}
    {%- set tracked = test_tracked_tables() -%}
    {%- set skippable = flags.WHICH == 'build' and not var('full_tests') and tracked is not none
                        and not should_store_failures() -%}
    {%- set pass_token = none -%}
    {%- if skippable -%}
        {%- set states = [] -%}
        {%- for schema, table in tracked | sort -%}
            {%- do states.append(schema ~ '.' ~ table ~ '=' ~ tracked_table_state(schema, table)) -%}
        {%- endfor -%}
        {%- set pass_token = 'pass:' ~ local_md5(sql ~ '|' ~ states | join('|')) -%}
        {%- set passed_before = pass_token in recorded_test_passes() -%}
    {%- endif -%}

    {%- set whole_table_only = (config.get('meta') or {}).get('whole_table_only', false) -%}
    {%- if skippable and not passed_before and whole_table_only -%}
        {%- set built_whole = build_state_cache()['full_builds'] -%}
        {%- set passed_before = model.name in recorded_passed_tests() and not (
            tracked | map('join', '.') | select('in', built_whole) | list) -%}
    {%- endif -%}

    {%- if skippable and passed_before -%}
        {{ store_skipped_test_result() }}
    {%- else -%}
        {%- if should_store_failures() -%}
            {{ exceptions.raise_compiler_error(
                "store_failures is not supported by this project's test materialization (macros/materializations/test.sql)"
            ) }}
        {%- endif -%}
        {%- call statement('main', fetch_result=True) -%}
            {{ get_test_sql(get_limit_subquery_sql(sql, limit), fail_calc, warn_if, error_if, limit=none) }}
        {%- endcall -%}
        {%- set result = load_result('main').table.rows[0] -%}
        {%- if pass_token and not result[1] and not result[2] -%}
            {%- do build_state_cache()['new_passes'].append(['test:' ~ model.name, pass_token]) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return({'relations': relations}) }}
{%- endmaterialization -%}

{#- A skipped test's result, a pass: the engine answers it once per run, and the other skipped
    tests reuse that answer (a round trip per test otherwise, most of a build with nothing new). -#}
{% macro store_skipped_test_result() -%}
    {%- set cache = build_state_cache() -%}
    {%- if cache['skipped_result'] is none -%}
        {%- call statement('main', fetch_result=True) -%}
            select 0 as failures, false as should_warn, false as should_error
        {%- endcall -%}
        {%- do cache.update({'skipped_result': load_result('main')}) -%}
    {%- else -%}
        {%- do store_result('main', response=cache['skipped_result'].response,
                            agate_table=cache['skipped_result'].table) -%}
    {%- endif -%}
{%- endmacro %}

{#- A tracked table's state: its tokens, its parts and its mutations (one query per table and run).
    Not the first block number: after REPLACE PARTITION the engine covers the replaced range with
    an empty part some time later, which lowers it with nothing changed (every test of a table
    published by partition ran again at the next build). -#}
{% macro tracked_table_state(schema, table) -%}
    {%- set cache = build_state_cache()['tables'] -%}
    {%- set key = schema ~ '.' ~ table -%}
    {%- if key not in cache -%}
        {%- set ledger = source('build_state', 'dbt_batch_ledger') -%}
        {%- set row = run_query(
            "select (select toString(groupBitXor(cityHash64(model, batch_id))) from " ~ ledger ~ " final"
            ~ " where model = '" ~ table ~ "'),"
            ~ " (select toString(cityHash64(max(max_block_number), uniqExact(partition_id)))"
            ~ " from system.parts where active and database = '" ~ schema ~ "' and table = '" ~ table ~ "'),"
            ~ " (select count() from system.mutations where database = '" ~ schema ~ "' and table = '"
            ~ table ~ "')"
        ).rows[0] -%}
        {%- do cache.update({key: row | join(':')}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{%- endmacro %}

{#- Every pass recorded before this run, and the tests that passed (one query per run). -#}
{% macro recorded_test_passes() -%}
    {%- set cache = build_state_cache() -%}
    {%- if cache['passes'] is none -%}
        {#- as texts (tokens and names have no commas): an empty result would have no rows to read -#}
        {%- set row = run_query(
            "select arrayStringConcat(groupArray(batch_id), ','),"
            ~ " arrayStringConcat(groupUniqArray(substring(model, 6)), ',') from "
            ~ source('build_state', 'dbt_batch_ledger') ~ " where startsWith(model, 'test:')"
        ).rows[0] -%}
        {%- do cache.update({
            'passes': row[0].split(',') if row[0] else [],
            'passed_tests': row[1].split(',') if row[1] else [],
        }) -%}
    {%- endif -%}
    {{ return(cache['passes']) }}
{%- endmacro %}

{% macro recorded_passed_tests() -%}
    {%- do recorded_test_passes() -%}
    {{ return(build_state_cache()['passed_tests']) }}
{%- endmacro %}

{#- on-run-end: the passes of this run, in one insert. -#}
{% macro record_test_passes(ledger) -%}
    {%- set passes = build_state_cache()['new_passes'] if execute else [] -%}
    {%- if passes -%}
        insert into {{ ledger }} (model, batch_id, invocation_id) values
        {%- for name, token in passes %}
        ('{{ name }}', '{{ token }}', '{{ invocation_id }}'){{ ',' if not loop.last }}
        {%- endfor %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Everything a test reads, as (schema, name): the tracked tables (batch_incremental,
    dictionary), the views on the way to them (their definition tokens), and the sources and
    seeds under those views (their parts); none when it reads any other kind of model. -#}
{% macro test_tracked_tables() -%}
    {%- set found = [] -%}
    {%- set pending = model.depends_on.nodes | list -%}
    {%- set seen = [] -%}
    {#- a breadth-first walk; jinja has no while, so a bounded for over a growing list -#}
    {%- for _ in range(200) -%}
        {%- set node_id = pending.pop(0) if pending else none -%}
        {%- if node_id and node_id not in seen -%}
            {%- do seen.append(node_id) -%}
            {%- set node = graph.nodes.get(node_id) or graph.sources.get(node_id) -%}
            {%- if node is none -%}
                {{ return(none) }}
            {%- elif node.resource_type in ('source', 'seed') -%}
                {%- do found.append([node.schema, node.identifier if node.resource_type == 'source' else (node.alias or node.name)]) -%}
            {%- elif node.resource_type != 'model' -%}
                {{ return(none) }}
            {%- elif node.config.materialized in ('batch_incremental', 'dictionary') -%}
                {%- do found.append([node.schema, node.alias or node.name]) -%}
            {%- elif node.config.materialized == 'view' -%}
                {%- do found.append([node.schema, node.alias or node.name]) -%}
                {%- do pending.extend(node.depends_on.nodes) -%}
            {%- else -%}
                {{ return(none) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found if found and not pending else none) }}
{%- endmacro %}
