{#-
    Batch bookkeeping for exact incremental models.

    Loaders land rows in batches; a batch becomes visible when its audit record is committed.
    Each incremental model applies whole batches and records which ones it has applied in the
    ledger table `dbt_batch_ledger` (model, batch_id). A model's next run applies the batches its
    upstream has applied and it has not: the fact table takes committed batches from the load
    audit, the marts take the batches the fact table (or their upstream) has applied.

    Why a ledger and not a watermark: an interrupted run leaves its batches unrecorded, so the
    next run applies them again (every model's apply step is idempotent); a watermark read back
    from the target table could skip rows after a partial insert.

    A run only considers batches committed before it started (`run_started_snapshot`, taken on
    the warehouse's clock by the on-run-start hook), so the model and its post-hook agree on the
    set even while loaders keep committing.
-#}

{#- `on cluster <name>` when the profile names a cluster (see README: running on a cluster). -#}
{% macro cluster_clause() -%}
    {%- set cluster = adapter.get_clickhouse_cluster_name() -%}
    {%- if cluster %}on cluster {{ cluster }}{% endif -%}
{%- endmacro %}

{#- on-run-start: a build before any load stops with what to do, not an engine error. -#}
{% macro require_loaded_data() -%}
    {%- if execute and flags.WHICH in ('build', 'run', 'test') -%}
        {%- set audit = source('raw', 'load_audit') -%}
        {%- if load_relation(audit) is none -%}
            {{ exceptions.raise_compiler_error(
                "No scores have been loaded into this warehouse yet (" ~ audit.schema ~ " has no "
                ~ audit.identifier ~ " table). Load data first: `scores generate --rows 100000` or "
                ~ "`scores load <files>`, then run dbt build."
            ) }}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{% macro batch_ledger_relation() -%}
    `{{ target.schema }}`.`dbt_batch_ledger`
{%- endmacro %}

{% macro run_snapshots_relation() -%}
    `{{ target.schema }}`.`dbt_run_snapshots`
{%- endmacro %}

{% macro create_batch_ledger() -%}
    create table if not exists {{ batch_ledger_relation() }} {{ cluster_clause() }} (
        model String comment 'Model (table name) that applied the batch',
        batch_id String comment 'load_audit.batch_id',
        applied_at DateTime64(3) default now64(3),
        invocation_id String comment 'dbt invocation that applied it'
    )
    engine = ReplacingMergeTree(applied_at)
    order by (model, batch_id)
    comment 'Which load batches each incremental model has applied (see macros/batch_ledger.sql)'
{%- endmacro %}

{% macro create_run_snapshots() -%}
    create table if not exists {{ run_snapshots_relation() }} {{ cluster_clause() }} (
        invocation_id String,
        started_at DateTime64(6)
    )
    engine = MergeTree
    order by invocation_id
    ttl toDateTime(started_at) + interval 30 day
    comment 'Warehouse clock at the start of each dbt invocation'
{%- endmacro %}

{% macro take_run_snapshot() -%}
    insert into {{ run_snapshots_relation() }} (invocation_id, started_at)
    select '{{ invocation_id }}', now64(6)
{%- endmacro %}

{% macro run_started_snapshot() -%}
    (
        select coalesce(max(snapshots.started_at), now64(6))
        from {{ run_snapshots_relation() }} as snapshots
        where snapshots.invocation_id = '{{ invocation_id }}'
    )
{%- endmacro %}

{#- Every batch this run may see: committed before the run started. -#}
{% macro batches_visible_in_run() -%}
        select batches.batch_id
        from {{ ref('stg_raw__load_audit') }} as batches
        where batches.status = 'committed' and batches.committed_at <= {{ run_started_snapshot() }}
{%- endmacro %}

{#- Batches to apply in this run: a subquery returning batch_id.
    upstream: none for models reading the loaders' batches directly, else the upstream model name. -#}
{% macro batches_to_apply(upstream=none) -%}
    {%- if upstream is none -%}
        {{ batches_visible_in_run() }}
    {%- else -%}
        select batches.batch_id
        from {{ batch_ledger_relation() }} as batches
        where batches.model = '{{ upstream }}'
    {%- endif %}
    {%- if is_incremental() %}
            and batches.batch_id not in (
                select applied.batch_id from {{ batch_ledger_relation() }} as applied
                where applied.model = '{{ this.identifier }}'
            )
    {%- endif %}
{%- endmacro %}

{#- Pre-hook: a full build starts the model's ledger afresh. -#}
{% macro reset_applied_batches() -%}
    {%- if not is_incremental() -%}
        delete from {{ batch_ledger_relation() }} where model = '{{ this.identifier }}'
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: record the batches this run applied (the same set batches_to_apply returned). -#}
{% macro record_applied_batches(upstream=none) -%}
    insert into {{ batch_ledger_relation() }} (model, batch_id, invocation_id)
    select '{{ this.identifier }}', batch_id, '{{ invocation_id }}'
    from ({{ batches_to_apply(upstream) }})
{%- endmacro %}

{#-
    Hooks of a model that is incremental by batch. `key_columns` are the keys it recomputes (score
    keys for the fact table, group keys for the aggregates), `keys_sql` a macro call (as text)
    returning those keys for this run's batches. Pre-hooks: reset the ledger on a full build,
    collect the keys, delete their rows. Post-hooks: record the applied batches, drop the key table,
    delete rows past retention (macros/retention.sql).
    Returned as hook strings, rendered when the model runs.
-#}
{% macro batch_recompute_pre_hooks(key_columns, keys_sql, publish='rows', names=[]) -%}
    {%- set hooks = [
        "{{ reset_applied_batches() }}",
        "{{ drop_changes() }}",
        "{{ create_changes(" ~ keys_sql ~ ") }}",
    ] -%}
    {%- if names -%}
        {%- do hooks.append("{{ add_stale_name_years(ref('int_current_names'), " ~ names ~ ") }}") -%}
    {%- endif -%}
    {%- if publish == 'rows' -%}
        {%- do hooks.append("{{ delete_changed(" ~ key_columns ~ ") }}") -%}
    {%- endif -%}
    {{ return(hooks) }}
{%- endmacro %}

{% macro batch_recompute_post_hooks(upstream=none) -%}
    {%- set upstream_arg = "'" ~ upstream ~ "'" if upstream else "none" -%}
    {{ return([
        "{{ record_applied_batches(" ~ upstream_arg ~ ") }}",
        "{{ drop_changes() }}",
        "{{ delete_expired_rows() }}",
        "{{ apply_retention_ttl() }}",
    ]) }}
{%- endmacro %}

{#-
    The config of a model that is incremental by batch (every fact, section and aggregate model):
    `{{ config(**incremental_by_batch(key_columns, upstream=...)) }}`.

    key_columns: the keys a run deletes and recomputes; upstream: the model whose applied batches
    this one follows (none: the load audit); keys_sql: a macro call (text) listing this run's keys,
    by default the groups touched by the new batches; order_by / partition_by: the table layout,
    by default ordered by the keys and partitioned by school year. Rows expire with retention.

    names: the mart's name columns (current names, macros/current_names.sql): the school years
    where a stored name is no longer current are republished.
    publish: how a run's changes become visible to readers.
      'partitions' (the marts BI tools read): the run builds the complete new content of every
        school year it touches (recomputed groups plus the year's unchanged rows, see
        unchanged_rows_of_touched_years) in a side table, then swaps those partitions in with
        REPLACE PARTITION. A reader sees a school year either before or after the run, never
        with groups deleted and not yet re-inserted. Costs a copy of the touched years' rows,
        which is cheap for aggregates.
        Every school year the run touched is swapped, an emptied one too (overwrite_touched_years,
        macros/insert_overwrite.sql).
      'rows' (per-score build layers): delete the touched keys, insert their new rows. Cost
        grows with the delta only; during the run a touched score is briefly absent.
-#}
{% macro incremental_by_batch(key_columns, upstream=none, keys_sql=none, order_by=none,
                              partition_by='school_year', publish='rows', projections=[],
                              column_codecs={}, names=[]) -%}
    {%- set keys_sql = keys_sql or "affected_groups(" ~ key_columns ~ ", '" ~ upstream ~ "')" -%}
    {%- if publish not in ('rows', 'partitions') -%}
        {{ exceptions.raise_compiler_error("incremental_by_batch: publish must be 'rows' or 'partitions'") }}
    {%- endif -%}
    {%- if publish == 'partitions' and (partition_by != 'school_year' or 'school_year' not in key_columns) -%}
        {{ exceptions.raise_compiler_error(
            "incremental_by_batch: publish='partitions' needs partition_by='school_year' and school_year in the keys"
        ) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite' if publish == 'partitions' else 'append',
        'engine': 'MergeTree()',
        'order_by': '(' ~ (order_by or key_columns) | join(', ') ~ ')',
        'partition_by': partition_by,
        'ttl': retention_ttl(),
        'settings': {'ttl_only_drop_parts': 1} if not projections
            else {'ttl_only_drop_parts': 1, 'lightweight_mutation_projection_mode': "'rebuild'"},
        'projections': projections,
        'column_codecs': column_codecs,
        'pre_hook': batch_recompute_pre_hooks(key_columns, keys_sql, publish, names),
        'overwrite_touched_years': publish == 'partitions',
        'post_hook': batch_recompute_post_hooks(upstream),
    }) }}
{%- endmacro %}
