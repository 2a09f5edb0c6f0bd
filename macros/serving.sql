{#-
    Serving helpers: ClickHouse dictionaries over the marts, for lookups without joins and for
    report lookups at the engine's per-query floor. A dictionary model selects a key and the
    looked-up attributes, and follows the mart it reads (`upstream`): a build recreates and loads
    it when the mart changed (macros/materializations/dictionary.sql), and dictionaries that a
    run did not select are reloaded at its end when anything changed (reload_loaded_dictionaries),
    so it holds the marts' current values.
-#}

{#- Config of a dictionary model keyed by `key` (list of (column, type)) with `attributes`; the
    suppression minimum is part of it, so that a changed minimum is a changed definition
    (macros/build_state.sql) and the dictionaries over the report views rebuild. -#}
{% macro dictionary_config(key, attributes, upstream) -%}
    {#- fields as lists, not tuples: the manifest stores lists, and a config that compares unequal
        to the stored one marks the model modified for `state:modified` (slim CI) -#}
    {%- set fields = [] -%}
    {%- for name, type in key + attributes -%}
        {%- do fields.append([name, type]) -%}
    {%- endfor -%}
    {{ return({
        'materialized': 'dictionary',
        'fields': fields,
        'primary_key': key | map(attribute=0) | join(', '),
        'layout': 'COMPLEX_KEY_HASHED()',
        'lifetime': '0',
        'batch_upstream': [upstream],
        'min_group_size': min_group_size(),
    }) }}
{%- endmacro %}

{#- The published columns of a report row: whether the group is suppressed and its label, then the
    given metrics (each renamed by `renamed`, else as it is), typed as the report views publish
    them: NULL for a hidden group. The one list of the published metrics' types. -#}
{% macro published_columns(metrics, renamed={}, flags=true) -%}
    {%- set types = {
        'student_count': 'Nullable(UInt64)',
        'avg_score': 'Nullable(Float64)',
        'median_score': 'Nullable(Float64)',
        'score_stddev': 'Nullable(Float64)',
        'excellent_count': 'Nullable(UInt64)',
        'good_count': 'Nullable(UInt64)',
        'fair_count': 'Nullable(UInt64)',
        'needs_improvement_count': 'Nullable(UInt64)',
    } -%}
    {%- set columns = [('is_suppressed', 'UInt8', 'is_suppressed'), ('suppression_label', 'String', 'suppression_label')]
        if flags else [] -%}
    {%- for metric in metrics -%}
        {%- do columns.append((renamed.get(metric, metric), types[metric], metric)) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The key of a by-grade averages dictionary: a school year, the given ids (the group and the
    one above it), then the test, subject and grade. -#}
{% macro grade_averages_key(ids) -%}
    {%- set key = [('school_year', 'UInt16')] -%}
    {%- for id in ids -%}
        {%- do key.append((id, 'String')) -%}
    {%- endfor -%}
    {{ return(key + [('test_id', 'String'), ('subject', 'String'), ('grade', 'UInt8')]) }}
{%- endmacro %}

{#- The attributes of the averages dictionaries for the student-in-context lookups. -#}
{% macro published_averages() -%}
    {%- set attributes = [] -%}
    {%- for name, type, _ in published_columns(['avg_score', 'student_count'], flags=false) -%}
        {%- do attributes.append((name, type)) -%}
    {%- endfor -%}
    {{ return(attributes) }}
{%- endmacro %}

{#- dictGetOrNull on a dictionary model (a missing key is NULL, never a default value): the
    dictionary's name as a string literal and a key tuple. -#}
{% macro dict_get(dictionary, attribute, key_columns) -%}
    dictGetOrNull(
        '{{ dictionary.schema }}.{{ dictionary.identifier }}',
        '{{ attribute }}',
        ({% for column in key_columns %}{{ column }}{% if not loop.last %}, {% endif %}{% endfor %})
    )
{%- endmacro %}


{#-
    Query 4's context beside a student's score: the average of the student's classroom, school
    grade or district grade (`level`), a lookup in `dictionaries[level]` (the dict_*_averages
    relations, which the model refs). `column` is a
    format string giving a column's SQL from its name (`scores.{}`); the keys read school_year,
    teacher_id, test_id, subject, grade, school_id, district_id and state_id.
-#}
{% macro student_context_average(dictionaries, level, column) -%}
    {%- set c = {} -%}
    {%- for name in ['school_year', 'teacher_id', 'grade', 'school_id', 'district_id'] -%}
        {%- do c.update({name: column.format(name)}) -%}
    {%- endfor -%}
    {%- for name in ['test_id', 'subject', 'state_id'] -%}
        {%- do c.update({name: 'toString(' ~ column.format(name) ~ ')'}) -%}
    {%- endfor -%}
    {%- set keys = {
        'classroom': [c.school_year, c.teacher_id, c.test_id, c.subject, c.school_id, c.district_id],
        'school_grade': [c.school_year, c.district_id, c.school_id, c.test_id, c.subject, c.grade],
        'district_grade': [c.school_year, c.state_id, c.district_id, c.test_id, c.subject, c.grade],
    } -%}
    {%- if level not in keys -%}
        {{ exceptions.raise_compiler_error("student_context_average: level must be one of " ~ keys.keys() | list) }}
    {%- endif -%}
    {{ dict_get(dictionaries[level], 'avg_score', keys[level]) }}
{%- endmacro %}

{#-
    A report lookup: one dictionary entry per lookup key (the report query's WHERE) holding the
    report's whole answer, every row in the report's order, as one Array(Tuple(...)) attribute
    `report_rows`. A lookup is then one dictGet, which costs little more than the engine's SELECT 1:
        SELECT dictGet('scores.dict_classroom_report', 'report_rows', (toUInt16(2025), 'T642', 'ELA-Q1'))
    key: list of (column, type); row: list of (name, type, expression over `relation`);
    sort_by: the row field the report orders by (ties: the whole row), descending or not;
    key_column: one tuple column for the whole key (key-value tables) instead of a column per part;
    with_json: also `report_json`, the same rows as one JSON array of objects (String), for answers
    of thousands of rows: copying and formatting the array is most of such a lookup (Query 3 at
    100M rows, 2,300 rows per answer), a client parses the JSON text as it comes
    (SELECT dictGet(..., 'report_json', key) FORMAT RawBLOB). report_lookup_config takes it too;
    rows_column: the name of the array column (key-value tables of rows that a view completes
    when read: kv_classroom_students).
-#}
{% macro report_lookup_config(key, row, upstream, with_json=false) -%}
    {%- set attributes = [('report_rows', report_rows_type(row))] -%}
    {%- if with_json -%}
        {%- do attributes.append(('report_json', 'String')) -%}
    {%- endif -%}
    {{ return(dictionary_config(key, attributes, upstream)) }}
{%- endmacro %}

{% macro report_rows_type(row) -%}
    Array(Tuple({% for name, type, _ in row %}{{ name }} {{ type }}{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{% macro report_lookup(relation, key, row, sort_by, descending=false, key_column=none, with_json=false, rows_column='report_rows') -%}
select
    {%- if key_column %}
    tuple({% for name, type in key %}cast({{ name }}, '{{ type }}'){% if not loop.last %}, {% endif %}{% endfor %})
        as {{ key_column }},
    {%- else %}
    {%- for name, type in key %}
    cast({{ name }}, '{{ type }}') as {{ name }},
    {%- endfor %}
    {%- endif %}
    {{ 'arrayReverseSort' if descending else 'arraySort' }}(
        report_row -> (tupleElement(report_row, '{{ sort_by }}'), report_row),
        groupArray({{ report_row_tuple(row) }})
    ) as {{ rows_column }}{% if with_json %},
    toJSONString({{ rows_column }}) as report_json{% endif %}
from {{ relation }}
group by {{ key | map(attribute=0) | join(', ') }}
{%- endmacro %}

{#- One report row: the tuple of `row`'s expressions, named and typed as `row` says. -#}
{% macro report_row_tuple(row) -%}
    cast(
        tuple({% for _, _, expression in row %}{{ expression }}{% if not loop.last %}, {% endif %}{% endfor %}),
        '{{ report_rows_type(row)[6:-1] }}'
    )
{%- endmacro %}

{#- The rows of `row` made from each element (named `element` in row's expressions) of the array
    column `array_column`, in its order: a report view completing stored rows when it is read. -#}
{% macro report_rows_of(element, array_column, row) -%}
    arrayMap({{ element }} -> {{ report_row_tuple(row) }}, {{ array_column }})
{%- endmacro %}

{#-
    on-run-end, when the run changed any tracked table: reload the dictionaries of the project's
    schema that this process loaded before the run started, by the engine's clock (those the run rebuilt are fresh already; load times have
    whole seconds, so one rebuilt in the run's first second is reloaded too, harmlessly). A run that rebuilds a mart but not the
    dictionaries over it (dbt run -s agg_classroom_scores) would otherwise leave a long-running
    process (the `scores serve` endpoint, which a dbt run through it shares) answering from the
    old values. Dictionaries not loaded here load lazily, from the current marts, on first use.
-#}
{% macro reload_loaded_dictionaries(ledger) -%}
    {%- if run_changed_anything(ledger) -%}
        {%- set loaded = run_query(
            "select name from system.dictionaries where database = '" ~ target.schema ~ "' and status = 'LOADED'"
            ~ " and last_successful_update_time <= toDateTime(" ~ run_started_snapshot(source('build_state', 'dbt_run_snapshots')) ~ ")"
        ) -%}
        {%- for row in loaded.rows -%}
            {%- do run_query("system reload dictionary `" ~ target.schema ~ "`.`" ~ row[0] ~ "` " ~ cluster_clause()) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
