{#-
    One row per student, test and school year: the latest version of the score (the load committed
    last wins, then the later row of its file; see macros/score_logic.sql). Incremental by load batch (batch_incremental): a run deletes the
    scores its new batches touch and inserts their latest versions.
    The sort order has no state_id, so state-level questions asked of the raw facts (the design's
    Query 3: districts of a state with count, average and median) are served by an aggregate
    projection, kept by ClickHouse in every part, exact under inserts, merges and deletes.
-#}
{%- set score_key = ['school_year', 'test_id', 'student_id'] -%}
{{ config(
    materialized='batch_incremental',
    batch_audit='stg_raw__load_audit',
    changes_from={'model': 'stg_raw__student_scores', 'batch_column': '_batch_id'},
    batch_keys=score_key,
    order_by=['school_year', 'district_id', 'school_id', 'teacher_id', 'test_id', 'student_id'],
    partition_by='toYYYYMM(test_date)',
    column_codecs=per_score_column_codecs(with_row_number=true),
    projections=[{
        'name': 'state_district_scores',
        'query': 'select school_year, state_id, district_id, test_id, subject, count(), avg(overall_score), '
            ~ 'quantileExactInclusive(0.5)(overall_score) '
            ~ 'group by school_year, state_id, district_id, test_id, subject',
    }],
    **retention_config(settings={'lightweight_mutation_projection_mode': "'rebuild'"})
) }}

with

scores as (
    select * from {{ ref('stg_raw__student_scores') }}
),

audit as (
    select * from {{ ref('stg_raw__load_audit') }}
),

run_snapshots as (
    select * from {{ ref('stg_build_state__run_snapshots') }}
),

cuts as (
    select * from {{ ref('int_performance_level_cuts') }}
),

versions as (
    select *
    from scores
    where
        _batch_id in ({{ visible_batches('audit', 'run_snapshots') }})
        and {{ is_retained() }}
        and {{ among_changes_when_incremental(score_key) }}
),

latest as (
    -- the newest version of every score: read in key order, keep the first row per key
    select *
    from versions
    order by school_year asc, test_id asc, student_id asc, _load_sequence desc, _row_number desc
    limit 1 by school_year, test_id, student_id
)

select
    latest.school_year as school_year,
    latest.district_id as district_id,
    latest.school_id as school_id,
    latest.teacher_id as teacher_id,
    latest.test_id as test_id,
    latest.student_id as student_id,
    latest.state_id as state_id,
    latest.subject as subject,
    latest.grade as grade,
    latest.test_date as test_date,
    latest.overall_score as overall_score,
    {{ performance_level('latest.overall_score', 'cuts.level_min_scores') }} as performance_level,
    latest.reported_performance_level as reported_performance_level,
    latest.dimension_scores as dimension_scores,
    latest.teacher_name as teacher_name,
    latest.school_name as school_name,
    latest.district_name as district_name,
    latest._batch_id as _batch_id,
    latest._load_sequence as _load_sequence,
    latest._row_number as _row_number
from latest
inner join cuts
    on latest.subject = cuts.subject
