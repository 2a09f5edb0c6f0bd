{#-
    dbt's test materialization, made to cost what a build changed. In `dbt build`, a data test
    whose tables all stand where they stood when it last passed is not run again: its tables'
    build state (their tokens in the ledger, macros/build_state.sql) and the test's SQL match a
    pass it recorded. Everything else runs as in dbt:
      - every test of a table the build changed, on the whole table;
      - every test in `dbt test`, and in `dbt build --vars '{full_tests: true}'`;
      - tests reading a source or a seed, directly or through views (their content has no tokens);
      - tests that store failures.
    Only a pass is recorded, so a failing test runs (and fails) on every build until it is fixed.
    The root project's materialization wins over dbt's default for this adapter.
-#}
{%- materialization test, adapter='clickhouse' -%}
    {%- set relations = [] -%}
    {%- set limit = config.get('limit') -%}
    {%- set fail_calc = config.get('fail_calc') -%}
    {%- set warn_if = config.get('warn_if') -%}
    {%- set error_if = config.get('error_if') -%}
    {%- set ledger = source('build_state', 'dbt_batch_ledger') -%}
    {%- set tracked = test_tracked_tables() -%}
    {%- set skippable = flags.WHICH == 'build' and not var('full_tests') and tracked is not none
                        and not should_store_failures() -%}
    {%- set pass_token = none -%}
    {%- if skippable -%}
        {%- set tables = "('" ~ tracked | join("', '") ~ "')" -%}
        {%- set row = run_query(
            "select (select toString(groupBitXor(cityHash64(model, batch_id))) from " ~ ledger ~ " final"
            ~ " where model in " ~ tables ~ ") as fingerprint,"
            ~ " (select toString(cityHash64(arraySort(groupArray(tuple(table, first, last, partitions)))))"
            ~ " from (select table, min(min_block_number) as first, max(max_block_number) as last,"
            ~ " uniqExact(partition_id) as partitions from system.parts where active and database = '"
            ~ target.schema ~ "' and table in " ~ tables ~ " group by table)) as parts,"
            ~ " (select count() from system.mutations where database = '" ~ target.schema ~ "'"
            ~ " and table in " ~ tables ~ ") as mutations,"
            ~ " (select groupArray(batch_id) from " ~ ledger ~ " where model = 'test:" ~ model.name ~ "') as passes"
        ).rows[0] -%}
        {%- set pass_token = 'pass:' ~ local_md5(sql ~ ':' ~ row[0] ~ ':' ~ row[1] ~ ':' ~ row[2]) -%}
        {%- set passed_before = pass_token in row[3] -%}
    {%- endif -%}

    {%- if skippable and passed_before -%}
        {%- call statement('main', fetch_result=True) -%}
            select 0 as failures, false as should_warn, false as should_error
        {%- endcall -%}
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
            {%- do run_query(
                "insert into " ~ ledger ~ " (model, batch_id, invocation_id) values ('test:" ~ model.name
                ~ "', '" ~ pass_token ~ "', '" ~ invocation_id ~ "')"
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return({'relations': relations}) }}
{%- endmaterialization -%}

{#- The tracked tables (batch_incremental, dictionary) a test reads, through views; none when it
    reads anything else (a source, a seed, another kind of model). -#}
{% macro test_tracked_tables() -%}
    {%- set found = [] -%}
    {%- set pending = model.depends_on.nodes | list -%}
    {%- set seen = [] -%}
    {#- a breadth-first walk; jinja has no while, so a bounded for over a growing list -#}
    {%- for _ in range(200) -%}
        {%- set node_id = pending.pop(0) if pending else none -%}
        {%- if node_id and node_id not in seen -%}
            {%- do seen.append(node_id) -%}
            {%- set node = graph.nodes.get(node_id) -%}
            {%- if node is none or node.resource_type != 'model' -%}
                {{ return(none) }}
            {%- elif node.config.materialized in ('batch_incremental', 'dictionary') -%}
                {%- do found.append(node.alias or node.name) -%}
            {%- elif node.config.materialized == 'view' -%}
                {%- do pending.extend(node.depends_on.nodes) -%}
            {%- else -%}
                {{ return(none) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found if found and not pending else none) }}
{%- endmacro %}
