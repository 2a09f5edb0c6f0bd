{#-
    dbt-clickhouse's insert_overwrite strategy, with one difference: it replaces every partition
    the run touched, not only those that have rows in the new data. A school year whose last
    groups were corrected away has no new rows; swapping in only the partitions with rows left
    its old rows in the mart until a full refresh. REPLACE PARTITION from a source without parts
    in the partition empties it (allow_replace_partition_from_empty_source), so a touched year
    with nothing left becomes empty at the same moment the others switch.

    The touched partitions are the school years of the run's changes (changes_relation), for
    models published by partition (batch_incremental, publish='partitions').
    Everything else is the adapter's (dbt-clickhouse 1.10, macros/materializations/incremental).
-#}
{% macro clickhouse__incremental_insert_overwrite(existing_relation, partition_by, is_distributed=False) %}
    {% set new_data_relation = existing_relation.incorporate(path={"identifier": existing_relation.identifier
       + '__dbt_new_data_' + invocation_id.replace('-', '_')}) %}
    {{ drop_relation_if_exists(new_data_relation) }}
    {%- set distributed_new_data_relation = existing_relation.incorporate(path={"identifier": existing_relation.identifier + '__dbt_distributed_new_data'}) -%}

    {%- set local_suffix = adapter.get_clickhouse_local_suffix() -%}
    {%- set local_db_prefix = adapter.get_clickhouse_local_db_prefix() -%}
    {% set existing_local = existing_relation.incorporate(path={"identifier": this.identifier + local_suffix, "schema": local_db_prefix + this.schema}) if existing_relation is not none else none %}

    {% if is_distributed %}
        {{ create_distributed_local_table(distributed_new_data_relation, new_data_relation, existing_relation, sql) }}
    {% else %}
        {% call statement('main') %}
            {{ get_create_table_as_sql(False, new_data_relation, sql) }}
        {% endcall %}
    {% endif %}

    {% if execute %}
      {% set select_changed_partitions %}
          SELECT DISTINCT partition_id
          {% if is_distributed %}
            FROM cluster({{ adapter.get_clickhouse_cluster_name() }}, system.parts)
          {% else %}
            FROM system.parts
          {% endif %}
          WHERE active
            AND database = '{{ new_data_relation.schema }}'
            AND table = '{{ new_data_relation.identifier }}'
          {%- if config.get('publish') == 'partitions' %}
          UNION DISTINCT
          SELECT DISTINCT partitionId(school_year) AS partition_id FROM {{ changes_relation() }}
          {%- endif %}
      {% endset %}
      {% set changed_partitions = run_query(select_changed_partitions).rows %}
    {% else %}
      {% set changed_partitions = [] %}
    {% endif %}

    {% if changed_partitions %}
        {% call statement('replace_partitions') %}
            {{ replace_partitions_sql(
                existing_local if is_distributed else existing_relation,
                new_data_relation,
                changed_partitions | map(attribute='partition_id') | list,
                empty_source=adapter.is_at_or_after_version('26.6'),
            ) }}
      {% endcall %}
    {% endif %}

    {% do adapter.drop_relation(distributed_new_data_relation) %}
    {% do adapter.drop_relation(new_data_relation) %}
{% endmacro %}
