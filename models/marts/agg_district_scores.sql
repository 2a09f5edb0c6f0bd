{#-
    Districts per test across all grades: one row per school year, state, district, test and
    subject. Answers the state-level district comparison (the design's Query 3) with exact
    district-wide averages and medians (not averages of grade averages).
-#}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject'] -%}
{{ config(**incremental_by_batch(group_columns, upstream='int_score_distributions', publish='partitions',
    names=['district_name'])) }}

{{ aggregate_scores(group_columns, ['district_name']) }}
