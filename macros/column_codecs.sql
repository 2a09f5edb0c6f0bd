{#-
    Column compression codecs for models without a contract. dbt-clickhouse creates a table empty
    (`create table ... empty as <sql>`), adds the model's projections and indexes in this macro,
    then inserts. This override (the root project's macro wins over the adapter's) also applies
    the model's `column_codecs` config, {column: codec}, while the table is still empty, so every
    part is written with them. Same statements on a server and a cluster (`on cluster`).

    Used for the per-score tables, whose JSON `dimension_scores` is most of their bytes: ZSTD
    stores it in a third of LZ4's space and no report scans it (benchmarks/README.md, "Storage").
    Mirrors add_index_and_projections of dbt-clickhouse 1.10 (pinned <1.11 in pyproject.toml).
-#}
{% macro add_index_and_projections(relation) %}
    {%- set projections = config.get('projections', default=[]) -%}
    {%- set indexes = config.get('indexes', default=[]) -%}
    {%- set codecs = config.get('column_codecs', default={}) -%}
    {%- set changes = [] -%}
    {%- for projection in projections -%}
        {%- do changes.append('add ' ~ clickhouse_projection_ddl(projection)) -%}
    {%- endfor -%}
    {%- for index in indexes -%}
        {%- do changes.append('add index ' ~ index.get('name') ~ ' ' ~ index.get('definition')) -%}
    {%- endfor -%}
    {%- for column, codec in codecs.items() -%}
        {%- do changes.append('modify column ' ~ adapter.quote(column) ~ ' codec(' ~ codec ~ ')') -%}
    {%- endfor -%}
    {%- if changes -%}
        {% call statement('add_projections_indexes_and_codecs') %}
            alter table {{ relation }} {{ on_cluster_clause(relation) }}
            {{ changes | join(',\n') }}
        {% endcall %}
    {%- endif -%}
{% endmacro %}

{#- The codecs of the per-score tables (fct_student_scores, srv_student_scores_by_teacher): the
    JSON text and, where the table has it, the source row number (in no order once sorted by
    the score key: 8 bytes a row in LZ4, under 3 in ZSTD) in ZSTD. The raw ledger
    (loaders/schema.py) uses the same. -#}
{% macro per_score_column_codecs(with_row_number=false) %}
    {%- set codecs = {'dimension_scores': 'ZSTD(1)'} -%}
    {%- if with_row_number -%}
        {%- do codecs.update({'_row_number': 'ZSTD(1)'}) -%}
    {%- endif -%}
    {{ return(codecs) }}
{% endmacro %}
