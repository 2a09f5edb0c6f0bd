{#-
    Every statement the batch_incremental strategy issues besides dbt-clickhouse's own table
    creation and exchange, in one place, each from the relations it acts on. On a cluster target
    (`cluster` in the profile) each carries `on cluster`, and each delete waits until every replica
    has applied it (lightweight_deletes_sync = 2) before the run inserts the keys' new rows: a delete
    that lands after the insert on some replica would leave duplicates or lose rows there
    (dbt-clickhouse #740). `render_batch_statements` prints them for a model, for the tests.
-#}

{#- The keys of the missing batches, from `source` (its batch column `batch_column`). -#}
{% macro batch_changes_sql(changes, keys, source, batch_column, missing_sql) -%}
    create table {{ changes }} {{ cluster_clause() }}
    engine = MergeTree order by tuple()
    as select distinct {{ keys | join(', ') }} from {{ source }} where {{ batch_column }} in ({{ missing_sql }})
{%- endmacro %}

{% macro drop_table_sql(relation) -%}
    drop table if exists {{ relation }} {{ cluster_clause() }} sync
{%- endmacro %}

{#- Delete the rows of `relation` whose keys are in `changes`. -#}
{% macro delete_keys_sql(relation, changes, keys) -%}
    delete from {{ relation }} {{ cluster_clause() }}
    where {{ keys_in(keys, changes) }}
    settings lightweight_deletes_sync = 2
{%- endmacro %}

{#- The run's keys (`changes`, tuples of `keys`) that `present`, the rows the key-value table is
    built from, no longer has: a key still present is inserted again by the run, which replaces
    its value, so only a key that is gone needs a delete. The check reads `present` by the keys
    only (they lead its sort key). -#}
{% macro upserted_keys_gone_sql(keys, changes, present) -%}
    {%- set columns = keys | join(', ') -%}
    select tuple({{ columns }}) from {{ changes }}
    where ({{ columns }}) not in (
        select {{ columns }} from {{ present }}
        where {{ keys_in(keys, changes) }}
    )
{%- endmacro %}

{#- Delete from a key-value table the keys (column `key_column`) that `keys_sql` selects. -#}
{% macro delete_upserted_keys_sql(relation, key_column, keys_sql) -%}
    delete from {{ relation }} {{ cluster_clause() }}
    where {{ key_column }} in ({{ keys_sql }})
    settings lightweight_deletes_sync = 2
{%- endmacro %}

{% macro delete_expired_sql(relation, school_year='school_year') -%}
    delete from {{ relation }} {{ cluster_clause() }} where not ({{ is_retained(school_year) }})
    settings lightweight_deletes_sync = 2
{%- endmacro %}

{% macro modify_ttl_sql(relation) -%}
    alter table {{ relation }} {{ cluster_clause() }} modify ttl {{ retention_ttl() }}
    settings materialize_ttl_after_modify = 0
{%- endmacro %}

{#- Swap partitions in from `new_data` (an emptied one too, when new_data has no rows in it). -#}
{% macro replace_partitions_sql(relation, new_data, partition_ids, empty_source=true) -%}
    alter table {{ relation }} {{ cluster_clause() }}
    {%- for partition_id in partition_ids %}
    replace partition id '{{ partition_id }}' from {{ new_data }}{{ ',' if not loop.last }}
    {%- endfor %}
    {%- if empty_source %}
    settings allow_replace_partition_from_empty_source = 1
    {%- endif %}
{%- endmacro %}

{% macro ledger_reset_sql(ledger, model_name) -%}
    delete from {{ ledger }} {{ cluster_clause() }} where model = '{{ model_name }}'
    settings lightweight_deletes_sync = 2
{%- endmacro %}

{% macro record_tokens_sql(ledger, model_name, tokens_sql) -%}
    insert into {{ ledger }} (model, batch_id, invocation_id)
    select '{{ model_name }}', recorded.batch_id, '{{ invocation_id }}'
    from ({{ tokens_sql }}) as recorded
{%- endmacro %}

{#-
    dbt run-operation render_batch_statements [--args '{models: [name, ...]}']: the statements above
    for every batch_incremental model (or those named), with placeholder key lists, printed one JSON
    object per line ({"model", "kind", "sql"}) for tests/python/test_cluster_sql.py.
-#}
{% macro render_batch_statements(models=none) -%}
    {%- set ledger = source('build_state', 'dbt_batch_ledger') -%}
    {%- set snapshots = source('build_state', 'dbt_run_snapshots') -%}
    {{ print(tojson({'model': none, 'kind': 'ledger_ddl', 'sql': create_batch_ledger(ledger) | trim})) }}
    {{ print(tojson({'model': none, 'kind': 'snapshots_ddl', 'sql': create_run_snapshots(snapshots) | trim})) }}
    {{ print(tojson({'model': none, 'kind': 'published_ddl', 'sql': create_published_builds(source('build_state', 'dbt_published_builds')) | trim})) }}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
            and node.config.materialized == 'batch_incremental' and (models is none or node.name in models) -%}
        {%- set relation = api.Relation.create(schema=node.schema, identifier=node.alias or node.name) -%}
        {%- set changes = api.Relation.create(schema=node.schema, identifier=relation.identifier ~ '__dbt_changes') -%}
        {%- set new_data = api.Relation.create(schema=node.schema, identifier=relation.identifier ~ '__dbt_new_data') -%}
        {%- set work_list = api.Relation.create(schema=node.schema, identifier='int_score_changes') -%}
        {%- set keys = node.config.get('batch_keys') or ['school_year'] -%}
        {%- set statements = {
            'changes': batch_changes_sql(changes, keys, work_list, 'batch_id', "select 'b1'"),
            'drop_changes': drop_table_sql(changes),
            'delete_keys': delete_keys_sql(relation, changes, keys),
            'delete_expired': delete_expired_sql(relation),
            'delete_upserted_keys': delete_upserted_keys_sql(
                relation, 'classroom_key', upserted_keys_gone_sql(keys, changes, new_data)
            ),
            'modify_ttl': modify_ttl_sql(relation),
            'replace_partitions': replace_partitions_sql(relation, new_data, ['2025', '2026']),
            'ledger_reset': ledger_reset_sql(ledger, relation.identifier),
            'record_tokens': record_tokens_sql(ledger, relation.identifier, "select 'b1' as batch_id"),
        } -%}
        {%- for kind, statement in statements.items() -%}
            {{ print(tojson({'model': node.name, 'kind': kind, 'sql': statement | trim})) }}
        {%- endfor -%}
    {%- endfor -%}
{%- endmacro %}
