{#-
    Build state: what every tracked model's table already holds, as a set of tokens in the ledger
    (source build_state.dbt_batch_ledger, one row per model and token):

      <batch_id>           a load batch whose scores the table reflects;
      retention:<year>     the table holds no school year below <year> (the retention cutoff);
      build:<model>:<id>   a full build of <model> (in dbt invocation <id>) that the table reflects;
      definition:<md5>     the table was built by this definition of the model (not inherited).

    A model is current when it holds every token of its upstream models (config `batch_upstream`,
    models its file refs). What it lacks says what a run must do (macros/materializations/
    batch_incremental.sql): missing batches are applied incrementally, a missing retention cutoff
    deletes expired rows, a missing build token or its own definition means a full rebuild, and
    nothing missing means nothing to do (one query). The first model (fct_student_scores) reads
    its upstream tokens from the load audit: every batch committed before the run started.

    Why tokens and not a watermark: an interrupted run leaves its tokens unrecorded, so the next
    run applies them again (every step is idempotent); a watermark read back from a table could
    skip rows after a partial insert.
-#}

{#- `on cluster <name>` when the profile names a cluster (see README: running on a cluster). -#}
{% macro cluster_clause() -%}
    {%- set cluster = adapter.get_clickhouse_cluster_name() -%}
    {%- if cluster %}on cluster {{ cluster }}{% endif -%}
{%- endmacro %}

{#- on-run-start: a build before any load stops with what to do, not an engine error. -#}
{% macro require_loaded_data(audit) -%}
    {%- if execute and flags.WHICH in ('build', 'run', 'test') and load_relation(audit) is none -%}
        {{ exceptions.raise_compiler_error(
            "No scores have been loaded into this warehouse yet (" ~ audit.schema ~ " has no "
            ~ audit.identifier ~ " table). Load data first: `scores generate --rows 100000` or "
            ~ "`scores load <files>`, then run dbt build."
        ) }}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- on-run-start: the build-state tables (declared in models/staging/_build_state__sources.yml). -#}
{% macro create_batch_ledger(ledger) -%}
    create table if not exists {{ ledger }} {{ cluster_clause() }} (
        model String comment 'Model (table name) whose table reflects the token',
        batch_id String comment 'Token: a load_audit.batch_id, retention:, build: or definition: (macros/build_state.sql)',
        applied_at DateTime64(3) default now64(3),
        invocation_id String comment 'dbt invocation that recorded it'
    )
    engine = ReplacingMergeTree(applied_at)
    order by (model, batch_id)
    comment 'What each tracked model reflects (macros/build_state.sql)'
{%- endmacro %}

{% macro create_run_snapshots(snapshots) -%}
    create table if not exists {{ snapshots }} {{ cluster_clause() }} (
        invocation_id String,
        started_at DateTime64(6)
    )
    engine = MergeTree
    order by invocation_id
    ttl toDateTime(started_at) + interval 30 day
    comment 'Warehouse clock at the start of each dbt invocation'
{%- endmacro %}

{#- One row per finished dbt run or build: whether it succeeded and whether it changed the
    models. The newest run that did both is the build the report API caches its answers by
    (api/cache.py); a run started after the newest row, or a failed one, means the serving layer
    may be changing. Written last, when every model, test and dictionary reload is done. -#}
{% macro create_published_builds(published) -%}
    create table if not exists {{ published }} {{ cluster_clause() }} (
        invocation_id String,
        published_at DateTime64(6),
        succeeded UInt8,
        changed UInt8
    )
    engine = MergeTree
    order by published_at
    ttl toDateTime(published_at) + interval 30 day
    comment 'Each finished dbt run: succeeded, changed the models (the report API caches by the last of both)'
{%- endmacro %}

{% macro publish_build(published, ledger) -%}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'runtime error']) | list -%}
        insert into {{ published }} (invocation_id, published_at, succeeded, changed)
        select '{{ invocation_id }}', now64(6), {{ 0 if failed else 1 }}, {{ 1 if run_changed_anything(ledger) else 0 }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Whether this invocation recorded any build-state token of a table (a test's pass changes no table). -#}
{% macro run_changed_anything(ledger) -%}
    {{ return(execute and run_query(
        "select count() from " ~ ledger ~ " where invocation_id = '" ~ invocation_id
        ~ "' and not startsWith(model, 'test:')"
    ).columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro take_run_snapshot(snapshots) -%}
    insert into {{ snapshots }} (invocation_id, started_at)
    select '{{ invocation_id }}', now64(6)
{%- endmacro %}

{#- The warehouse clock when this invocation started: loads committed later wait for the next run. -#}
{% macro run_started_snapshot(snapshots) -%}
    (select coalesce(maxOrNull(snapshots.started_at), now64(6)) from {{ snapshots }} as snapshots where snapshots.invocation_id = '{{ invocation_id }}')
{%- endmacro %}

{#- Batches of `audit` (stg_raw__load_audit) visible in this run: committed before it started
    (by `snapshots`, the run snapshots). -#}
{% macro visible_batches(audit, snapshots) -%}
    select visible.batch_id from {{ audit }} as visible where visible.status = 'committed' and visible.committed_at <= {{ run_started_snapshot(snapshots) }}
{%- endmacro %}

{#- The relation of a model this one refs, by name: only one the model's own file refs (its
    lineage stays there), resolved by dbt's ref so that --defer finds a deferred upstream. -#}
{% macro upstream_relation(name) -%}
    {%- if not execute -%}
        {{ return(this) }}
    {%- endif -%}
    {%- for node_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- if node and node.name == name -%}
            {{ return(ref(name)) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        model.name ~ ": batch_upstream names " ~ name ~ ", which the model does not ref"
    ) }}
{%- endmacro %}

{#- The identifiers of the tables whose tokens `names` (batch_upstream) stand for: each named
    model the running model refs, and for a view (which has no tokens of its own: the report
    views over the marts) the tables under it. -#}
{% macro tracked_upstream(names) -%}
    {%- set identifiers = [] -%}
    {%- for name in names -%}
        {#- refuses a name the running model does not ref -#}
        {%- do upstream_relation(name) -%}
        {%- for node_id in model.depends_on.nodes if graph.nodes.get(node_id) and graph.nodes[node_id].name == name -%}
            {%- do _tracked_tables(graph.nodes[node_id], identifiers) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(identifiers) }}
{%- endmacro %}

{% macro _tracked_tables(node, identifiers) -%}
    {%- if node.config.materialized == 'view' -%}
        {%- for parent_id in node.depends_on.nodes if parent_id.startswith('model.') and graph.nodes.get(parent_id) -%}
            {%- do _tracked_tables(graph.nodes[parent_id], identifiers) -%}
        {%- endfor -%}
    {%- elif (node.alias or node.name) not in identifiers -%}
        {%- do identifiers.append(node.alias or node.name) -%}
    {%- endif -%}
{%- endmacro %}

{% macro definition_token() -%}
    {#- the model's file and config, without the retention TTL (a changed retention_years is
        applied in place, batch_apply_retention) -#}
    {%- set settings = {} -%}
    {%- for key, value in model.config.items() if key not in ('ttl',) -%}
        {%- do settings.update({key: value}) -%}
    {%- endfor -%}
    {{ return('definition:' ~ local_md5(model.raw_code ~ tojson(settings))) }}
{%- endmacro %}

{#- This invocation's cache of the build state, in the run's graph dict (shared by every node's
    context): each model's state before it runs, each tested table's state, the recorded passes
    and this run's new ones, and the one answer every skipped test stores
    (macros/materializations/test.sql). -#}
{% macro build_state_cache() -%}
    {%- set key = '__build_state__' ~ invocation_id -%}
    {%- if key not in graph -%}
        {%- do graph.update({key: {'models': {}, 'tables': {}, 'passes': none, 'passed_tests': none, 'new_passes': [], 'full_builds': [], 'skipped_result': none}}) -%}
    {%- endif -%}
    {{ return(graph[key]) }}
{%- endmacro %}

{#- SQL: every token the model's upstream holds (definitions are each model's own). -#}
{% macro upstream_tokens() -%}
    {%- set ledger = source('build_state', 'dbt_batch_ledger') -%}
    {%- set audit = config.get('batch_audit') -%}
    {%- if audit -%}
        {{ visible_batches(upstream_relation(audit), source('build_state', 'dbt_run_snapshots')) }}
        union all
        select concat('retention:', toString({{ retention_cutoff_year() }}))
    {%- else -%}
        select upstream.batch_id
        from {{ ledger }} as upstream final
        where
            upstream.model in (
                {%- for identifier in tracked_upstream(config.get('batch_upstream', [])) -%}
                    '{{ identifier }}'{{ ', ' if not loop.last }}
                {%- endfor -%}
            )
            and not startsWith(upstream.batch_id, 'definition:')
    {%- endif -%}
{%- endmacro %}

{#- SQL: the upstream tokens this model's table does not reflect yet. -#}
{% macro missing_tokens() -%}
    select distinct missing.batch_id
    from ({{ upstream_tokens() }}) as missing
    where missing.batch_id not in (
        select own.batch_id from {{ source('build_state', 'dbt_batch_ledger') }} as own
        where own.model = '{{ this.identifier }}'
    )
{%- endmacro %}

{#- SQL: the missing tokens that are load batches. -#}
{% macro missing_batches() -%}
    select missing_batches.batch_id
    from ({{ missing_tokens() }}) as missing_batches
    where not match(missing_batches.batch_id, '^(retention|build|definition):')
{%- endmacro %}

{#-
    What this model's table lacks, by kind (one query): batches, retention, builds, and whether
    its own definition is recorded. Empty counts while parsing.
-#}
{% macro batch_state() -%}
    {%- if not execute -%}
        {{ return({'batches': 0, 'retention': 0, 'builds': 0, 'defined': true}) }}
    {%- endif -%}
    {#- asked while compiling (is_incremental) and again by the materialization, before anything
        changed: one query per model and run -#}
    {%- set cache = build_state_cache()['models'] -%}
    {%- if model.unique_id in cache -%}
        {{ return(cache[model.unique_id]) }}
    {%- endif -%}
    {%- set query -%}
        select
            countIf(not match(batch_id, '^(retention|build):')) as batches,
            countIf(startsWith(batch_id, 'retention:')) as retention,
            countIf(startsWith(batch_id, 'build:')) as builds,
            (
                select count() from {{ source('build_state', 'dbt_batch_ledger') }}
                where model = '{{ this.identifier }}' and batch_id = '{{ definition_token() }}'
            ) as defined
        from ({{ missing_tokens() }})
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- set state = {'batches': row[0], 'retention': row[1], 'builds': row[2], 'defined': row[3] > 0} -%}
    {%- do cache.update({model.unique_id: state}) -%}
    {{ return(state) }}
{%- endmacro %}

{#- Whether a tracked model's run applies changes to its table (rather than rebuilding it). -#}
{% macro batch_run_is_incremental(state=none) -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {%- if relation is none or relation.type != 'table' or should_full_refresh()
           or config.get('publish', 'rows') == 'table' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set state = state or batch_state() -%}
    {{ return(state.defined and state.builds == 0) }}
{%- endmacro %}

{#- The root project's is_incremental: dbt-clickhouse's, plus the tracked models' rule. -#}
{% macro is_incremental() -%}
    {#- (no `model` under sqlfluff's jinja stand-ins) -#}
    {%- if not execute or model is not defined -%}
        {{ return(false) }}
    {%- elif model.config.materialized == 'batch_incremental' -%}
        {{ return(batch_run_is_incremental()) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(relation is not none and relation.type == 'table'
              and model.config.materialized in ('incremental', 'distributed_incremental')
              and not should_full_refresh()) }}
{%- endmacro %}

{#- Record tokens for this model: `tokens_sql` returns them (column batch_id). -#}
{% macro record_tokens(tokens_sql) -%}
    {{ record_tokens_sql(source('build_state', 'dbt_batch_ledger'), this.identifier, tokens_sql) }}
{%- endmacro %}

{#- After a full build: the table reflects every upstream token, this build and its definition. -#}
{% macro record_full_build(emit_build=true) -%}
    {%- set ledger = source('build_state', 'dbt_batch_ledger') -%}
    {%- do build_state_cache()['full_builds'].append(this.schema ~ '.' ~ this.identifier) -%}
    {%- do run_query(ledger_reset_sql(ledger, this.identifier)) -%}
    {%- set extra = ["'" ~ definition_token() ~ "'"] -%}
    {%- if emit_build -%}
        {%- do extra.append("'build:" ~ this.identifier ~ ":" ~ invocation_id ~ "'") -%}
    {%- endif -%}
    {%- do run_query(record_tokens(
        upstream_tokens() ~ " union all select arrayJoin([" ~ extra | join(', ') ~ "])"
    )) -%}
{%- endmacro %}

{#- Tracked tables that take their keys from int_score_changes (publish rows or partitions) and
    exist: it keeps the rows of every batch until all of them have applied it. -#}
{% macro keyed_batch_models() -%}
    {%- set names = [] -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
            and node.config.materialized == 'batch_incremental'
            and node.config.get('publish', 'rows') != 'table' and not node.config.get('changes_from') -%}
        {#- a table not built yet will be built whole: it needs no work list -#}
        {%- if adapter.get_relation(node.database, node.schema, node.alias or node.name) is not none -%}
            {%- do names.append(node.alias or node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}
