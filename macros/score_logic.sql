{#- Business rules on scores, shared by every model that needs them. -#}

{#- Performance level 1-4 from the score and the subject's cut scores (int_performance_level_cuts). -#}
{% macro performance_level(score, level_min_scores) -%}
    toUInt8(1 + arrayCount(cut -> {{ score }} >= cut, {{ level_min_scores }}))
{%- endmacro %}

{#- Bounds of a score band from seeds/score_bands.csv, as scalar subqueries. -#}
{% macro band_bound(band, bound) -%}
    (select toUInt8({{ bound }}) from {{ ref('score_bands') }} where band = '{{ band }}')
{%- endmacro %}

{% macro in_band(score, band) -%}
    {{ score }} between {{ band_bound(band, 'min_score') }} and {{ band_bound(band, 'max_score') }}
{%- endmacro %}

{#- The version order of score rows: the latest load wins, then the later row of the file. -#}
{% macro score_version() -%}
    (_batch_id, _row_number)
{%- endmacro %}

{#- score_version() as one number that orders the same way: the batch's rank among the batch ids
    of the rows at hand times 2^64, plus the row number, as a UInt128 (batch_id and row_number:
    SQL for the version's two parts). The query needs a CTE `batch_order` whose body is
    batch_order(rows). argMax compares tuples through a generic slow path; over a number it is
    about 4x faster (int_score_distributions at 10M rows: 6.3 s -> 1.6 s for the names). -#}
{% macro score_version_number(batch_id='_batch_id', row_number='_row_number') -%}
    bitShiftLeft(toUInt128(transform(toString({{ batch_id }}), {{ _batch_ids() }}, arrayEnumerate({{ _batch_ids() }}), toUInt32(0))), 64)
    + {{ row_number }}
{%- endmacro %}

{#- The (batch id, row number) version of a score_version_number. -#}
{% macro score_version_of_number(version_number) -%}
    (
        {{ _batch_ids() }}[toUInt32(bitShiftRight({{ version_number }}, 64))],
        toUInt64(bitAnd({{ version_number }}, toUInt128('18446744073709551615')))
    )
{%- endmacro %}

{#- The body of the CTE `batch_order`: the sorted batch ids of `rows` (a CTE), which
    score_version_number ranks. -#}
{% macro batch_order(rows, batch_id='_batch_id') -%}
    select arraySort(groupUniqArray(toString({{ batch_id }}))) as batch_ids
    from {{ rows }}
{%- endmacro %}

{%- macro _batch_ids() -%}
    (select batch_order.batch_ids from batch_order)
{%- endmacro -%}

{#- The value from the most recently loaded row of a group (names can change between loads).
    `version` is the version expression of the rows aggregated (fact rows by default). -#}
{% macro latest(column, version=none) -%}
    argMax({{ column }}, {{ version or score_version() }})
{%- endmacro %}
