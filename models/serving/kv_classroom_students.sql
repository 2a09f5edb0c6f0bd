{#-
    The students of each classroom for the design's Query 4 (a teacher's students on a test), as
    one key lookup: an EmbeddedRocksDB table (on disk, not held in memory like a dictionary) keyed
    by classroom_key = (school_year, teacher_id, test_id), the value each student's own row and
    the keys of their averages, by student_id. The report view over it
    (srv_student_context_report) attaches the classroom, school-grade and district-grade
    averages when it is read, by dictionary lookups: a value here holds nothing that a score in
    another classroom changes, so a run rewrites only the classrooms whose scores changed (any
    version's: a score that moved changes both classrooms) and deletes those left without
    students (all moved), instead of every classroom of each district and test it touched.
-#}
{%- set key = [('school_year', 'UInt16'), ('teacher_id', 'String'), ('test_id', 'String')] -%}
{%- set classroom_key = key | map(attribute=0) | list -%}
{%- set row = [
    ('student_id', 'String', 'student_id'), ('overall_score', 'UInt8', 'overall_score'),
    ('performance_level', 'UInt8', 'performance_level'), ('dimension_scores', 'String', 'dimension_scores'),
    ('school_year', 'UInt16', 'school_year'), ('teacher_id', 'String', 'teacher_id'),
    ('test_id', 'String', 'test_id'), ('subject', 'String', 'subject'), ('grade', 'UInt8', 'grade'),
    ('school_id', 'String', 'school_id'), ('district_id', 'String', 'district_id'),
    ('state_id', 'String', 'state_id'),
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
    batch_keys=classroom_key,
    upsert_key={'column': 'classroom_key', 'present_in': 'srv_student_scores_by_teacher'},
    batch_upstream=['srv_student_scores_by_teacher'],
    engine='EmbeddedRocksDB()',
    primary_key='classroom_key',
    settings={'bulk_insert_block_size': 16384},
    query_settings={
        'optimize_aggregation_in_order': 1,
        'min_insert_block_size_rows': 16384,
        'min_insert_block_size_bytes': 67108864,
    },
) }}

-- depends_on: {{ ref('int_score_changes') }}
with

scores as (
    select * from {{ ref('srv_student_scores_by_teacher') }}
),

students as (
    select *
    from scores
    {% if is_incremental() -%}
        where {{ is_changed(classroom_key) }}
    {%- endif %}
)

{{ report_lookup('students', key, row, sort_by='student_id', key_column='classroom_key', rows_column='student_rows') }}
