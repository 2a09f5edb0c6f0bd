{#- Business rules on scores, shared by every model that needs them. -#}

{#- Performance level 1-4 from the score and the subject's cut scores (int_performance_level_cuts). -#}
{% macro performance_level(score, level_min_scores) -%}
    toUInt8(1 + arrayCount(cut -> {{ score }} >= cut, {{ level_min_scores }}))
{%- endmacro %}

{#- Bounds of a score band from `bands` (seeds/score_bands.csv), as scalar subqueries. -#}
{% macro band_bound(bands, band, bound) -%}
    (select toUInt8({{ bound }}) from {{ bands }} where band = '{{ band }}')
{%- endmacro %}

{% macro in_band(bands, score, band) -%}
    {{ score }} between {{ band_bound(bands, band, 'min_score') }} and {{ band_bound(bands, band, 'max_score') }}
{%- endmacro %}

{#- The version order of score rows: the batch committed last wins (its load_sequence, the
    warehouse's commit order), then the later row of its file. As one number, UInt128
    load_sequence * 2^64 + row number, because argMax over a number is much faster than over a
    tuple (benchmarks/README.md). -#}
{% macro score_version_number(load_sequence='_load_sequence', row_number='_row_number') -%}
    bitShiftLeft(toUInt128({{ load_sequence }}), 64) + {{ row_number }}
{%- endmacro %}

{#- The value from the most recently loaded row of a group (names can change between loads).
    `version` is the version expression of the rows aggregated (fact rows by default). -#}
{% macro latest(column, version=none) -%}
    argMax({{ column }}, {{ version or score_version_number() }})
{%- endmacro %}
