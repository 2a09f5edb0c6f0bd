{#-
    What changed, computed once per run for the models downstream of the fact table
    (macros/build_state.sql): one row per score key of each load batch the fact table applied and
    some model has not yet, with the group keys of every version that score ever had. A correction that moves a student to another teacher
    changes both the old and the new classroom, so the models recompute the groups of all
    versions (a superset of what changed, never less). Each model takes the rows of the batches
    it lacks; rebuilt only when the fact table applied a new batch (or retention cutoff).
-#}
{{ config(
    materialized='batch_incremental',
    publish='table',
    batch_upstream=['fct_student_scores'],
    batch_work_list=true,
    engine='MergeTree()',
    order_by='(batch_id, school_year, test_id, student_id)',
) }}

-- depends_on: {{ ref('fct_student_scores') }}
with

scores as (
    select * from {{ ref('stg_raw__student_scores') }}
),

ledger as (
    select * from {{ ref('stg_build_state__batch_ledger') }}
),

{%- set keyed = keyed_batch_models() %}

applied_everywhere as (
    select batch_id
    from ledger
    where model in ({% for name in keyed %}'{{ name }}', {% endfor %}'')
    group by batch_id
    having uniqExact(model) = {{ keyed | length }}
),

applied_by_facts as (
    select batch_id
    from ledger
    where
        model = '{{ ref('fct_student_scores').identifier }}'
        and not match(batch_id, '^(retention|build|definition):')
),

pending_batches as (
    select batch_id
    from applied_by_facts
    where
        batch_id not in (select applied_everywhere.batch_id from applied_everywhere)
        -- no table downstream exists yet (a first build): they are all built whole
        and {{ 'true' if keyed else 'false' }}
),

changed_scores as (
    select distinct
        _batch_id as batch_id,
        school_year,
        test_id,
        student_id
    from scores
    where _batch_id in (select pending_batches.batch_id from pending_batches)
),

score_versions as (
    select distinct
        school_year,
        test_id,
        student_id,
        district_id,
        school_id,
        teacher_id,
        subject,
        grade,
        state_id
    from scores
    where
        school_year in (select changed_scores.school_year from changed_scores)
        and (school_year, test_id, student_id) in (
            select
                changed_scores.school_year,
                changed_scores.test_id,
                changed_scores.student_id
            from changed_scores
        )
)

select
    changed_scores.batch_id as batch_id,
    changed_scores.school_year as school_year,
    changed_scores.test_id as test_id,
    changed_scores.student_id as student_id,
    score_versions.district_id as district_id,
    score_versions.school_id as school_id,
    score_versions.teacher_id as teacher_id,
    score_versions.subject as subject,
    score_versions.grade as grade,
    score_versions.state_id as state_id
from changed_scores
inner join score_versions
    on
        changed_scores.school_year = score_versions.school_year
        and changed_scores.test_id = score_versions.test_id
        and changed_scores.student_id = score_versions.student_id
