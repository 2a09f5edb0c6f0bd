{#-
    One current name per teacher, school and district: the non-empty name on the most recently
    loaded of its current scores (the fact table's latest version of each score; empty if none
    has a name). Every mart shows these names, so a rename loaded with one correction renames
    every classroom of that teacher, and an empty name in a later load blanks nothing.
    Rebuilt from the fact table when it changed (batch_incremental, publish='table').
-#}
{{ config(
    materialized='batch_incremental',
    publish='table',
    batch_upstream=['fct_student_scores'],
    engine='MergeTree()',
    order_by='(entity_kind, entity_id)',
) }}

with

facts as (
    select * from {{ ref('fct_student_scores') }}
),

versioned as (
    select
        teacher_id,
        teacher_name,
        school_id,
        school_name,
        district_id,
        district_name,
        {{ score_version_number() }} as version_number
    from facts
),

teachers as (
    select
        'teacher' as entity_kind,
        teacher_id as entity_id,
        argMaxIf(teacher_name, version_number, teacher_name != '') as current_name
    from versioned
    group by teacher_id
),

schools as (
    select
        'school' as entity_kind,
        school_id as entity_id,
        argMaxIf(school_name, version_number, school_name != '') as current_name
    from versioned
    group by school_id
),

districts as (
    select
        'district' as entity_kind,
        district_id as entity_id,
        argMaxIf(district_name, version_number, district_name != '') as current_name
    from versioned
    group by district_id
)

select * from teachers
union all
select * from schools
union all
select * from districts
