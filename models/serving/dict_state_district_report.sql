-- The design's Query 3 (the districts of a state, best average first, small groups suppressed:
-- rpt_district_scores) as one dictionary lookup;
-- its answers run to thousands of rows, so they are also held as JSON text (report_json).
{%- set key = [('school_year', 'UInt16'), ('state_id', 'String')] -%}
{%- set row = [
    ('district_id', 'String', 'district_id'),
    ('district_name', 'String', 'district_name'),
    ('test_id', 'String', 'toString(test_id)'),
    ('subject', 'String', 'toString(subject)'),
] + published_columns(
    ['student_count', 'avg_score', 'median_score'],
    renamed={
        'student_count': 'total_students', 'avg_score': 'district_avg_score', 'median_score': 'district_median_score',
    },
) -%}
{{ config(**report_lookup_config(key, row, 'rpt_district_scores', with_json=true)) }}

with

districts as (
    select * from {{ ref('rpt_district_scores') }}
)

{{ report_lookup('districts', key, row, sort_by='district_avg_score', descending=true, with_json=true) }}
