-- The design's Query 3 (the districts of a state, best average first) as one dictionary lookup;
-- its answers run to thousands of rows, so they are also held as JSON text (report_json).
{%- set key = [('school_year', 'UInt16'), ('state_id', 'String')] -%}
{%- set row = [
    ('district_id', 'String', 'district_id'),
    ('district_name', 'String', 'district_name'),
    ('test_id', 'String', 'toString(test_id)'),
    ('subject', 'String', 'toString(subject)'),
    ('total_students', 'UInt64', 'student_count'),
    ('district_avg_score', 'Float64', 'avg_score'),
    ('district_median_score', 'Float64', 'median_score'),
] -%}
{{ config(**report_lookup_config(key, row, 'agg_district_scores', with_json=true)) }}

{{ report_lookup(
    ref('agg_district_scores'), key, row, sort_by='district_avg_score', descending=true, with_json=true
) }}
