{#-
    The design's Query 4 (a teacher's students on a test, each beside the classroom, school-grade
    and district-grade averages) as one key lookup: an EmbeddedRocksDB table (on disk, not held
    in memory like a dictionary) keyed by (school_year, teacher_id, test_id), the value the
    report's rows: srv_student_context's, grouped from the table it reads, with its averages
    looked up after grouping (memory: macros/serving.sql, report_lookup). Rebuilt when anything it
    reads changed (batch_incremental, publish='upsert'): a classroom's value holds the averages of
    its classroom, school grade and district grade (small groups suppressed, which depends on
    the group's siblings), so a run rewrites every classroom of each district and test its
    batches touched, and deletes first the classrooms that any version of a changed score was in
    and that have no students left (all moved).
-#}
{%- set key = [('school_year', 'UInt16'), ('teacher_id', 'String'), ('test_id', 'String')] -%}
{#- a student's columns, gathered per classroom; the averages are looked up after grouping -#}
{%- set gather = [
    ('student_id', 'String'), ('overall_score', 'UInt8'), ('performance_level', 'UInt8'),
    ('dimension_scores', 'String'), ('school_year', 'UInt16'), ('teacher_id', 'String'),
    ('test_id', 'String'), ('subject', 'String'), ('grade', 'UInt8'), ('school_id', 'String'),
    ('district_id', 'String'), ('state_id', 'String'),
] -%}
{%- set source = "tupleElement(source_row, '{}')" -%}
{%- set averages = {
    'classroom': ref('dict_classroom_averages'),
    'school_grade': ref('dict_school_grade_averages'),
    'district_grade': ref('dict_district_grade_averages'),
} -%}
{%- set row = [
    ('student_id', 'String', source.format('student_id')),
    ('overall_score', 'UInt8', source.format('overall_score')),
    ('performance_level', 'UInt8', source.format('performance_level')),
    ('dimension_scores', 'String', source.format('dimension_scores')),
    ('classroom_avg_score', 'Nullable(Float64)', student_context_average(averages, 'classroom', source)),
    ('school_grade_avg_score', 'Nullable(Float64)', student_context_average(averages, 'school_grade', source)),
    ('district_grade_avg_score', 'Nullable(Float64)', student_context_average(averages, 'district_grade', source)),
] -%}
{#-
    Memory: a bulk insert into EmbeddedRocksDB gathers bulk_insert_block_size rows (default about
    a million) into one SST file, and a row here is a whole classroom (kilobytes), so the default
    grows with the warehouse until it runs out of memory. 16,384 classrooms per file and per insert
    block bound it at any size, for a slightly slower build (benchmarks/README.md, "Timings
    behind the code").
-#}
{{ config(
    materialized='batch_incremental',
    publish='upsert',
    batch_keys=['school_year', 'district_id', 'test_id'],
    upsert_key={
        'column': 'classroom_key',
        'parts': ['school_year', 'teacher_id', 'test_id'],
        'present_in': 'srv_student_scores_by_teacher',
    },
    batch_upstream=[
        'srv_student_scores_by_teacher', 'dict_classroom_averages', 'dict_school_grade_averages',
        'dict_district_grade_averages',
    ],
    engine='EmbeddedRocksDB()',
    primary_key='classroom_key',
    settings={'bulk_insert_block_size': 16384},
    query_settings={
        'optimize_aggregation_in_order': 1,
        'min_insert_block_size_rows': 16384,
        'min_insert_block_size_bytes': 67108864,
    },
) }}

{%- set students = ref('srv_student_scores_by_teacher') -%}
{%- if is_incremental() -%}
    {#- every student of each classroom in a district and test this run touched: the averages
        are published with small groups suppressed, and whether a group is hidden depends on
        its siblings (the grades and classrooms of a school, the schools of a district grade) -#}
    {%- set students -%}
        (
            select * from {{ students }}
            where (school_year, teacher_id, test_id) in (
                select school_year, teacher_id, test_id from {{ students }}
                where {{ is_changed(['school_year', 'district_id', 'test_id']) }}
            )
        )
    {%- endset -%}
{%- endif %}

-- depends_on: {{ ref('int_score_changes') }}
{{ report_lookup(students, key, row, sort_by='student_id', key_column='classroom_key', gather=gather) }}
