{#-
    The metric set of every aggregate level, defined once.

    Every level is built from score *histograms*: a Map(score -> number of students), summed over
    class sections (int_score_distributions). A histogram of whole-number scores holds everything
    the metrics need, it adds up exactly across sections, schools and districts, and a group is
    recomputed from a few section rows instead of all its students. All metrics are exact:

    - counts and sums are integers; averages are sum / count;
    - median_score, q1_score, q3_score: exact quantiles, linear interpolation between the two
      nearest ranks (same definition as ClickHouse quantileExactInclusive and PostgreSQL
      percentile_cont);
    - score_stddev: population standard deviation, sqrt(n*Σx² - (Σx)²) / n with the numerator
      exact in 128-bit integers (one rounding, in the square root: Σx²/n - avg² in floating point
      cancels on large, nearly constant groups);
    - band counts: bounds from seeds/score_bands.csv.
-#}

{#- Histogram of a score column (aggregate function over fact rows). -#}
{% macro score_histogram(score) -%}
    sumMap(map({{ score }}, toUInt64(1)))
{%- endmacro %}

{%- macro _histogram_count(h) -%}
    arraySum(mapValues({{ h }}))
{%- endmacro -%}

{%- macro _histogram_sum(h, power=1) -%}
    arraySum((score, n) -> {{ 'toUInt64(score) * score' if power == 2 else 'toUInt64(score)' }} * n, mapKeys({{ h }}), mapValues({{ h }}))
{%- endmacro -%}

{#- The score at 0-based rank `rank` of the histogram's sorted scores. -#}
{%- macro _score_at_rank(h, rank) -%}
    toFloat64(mapKeys({{ h }})[arrayFirstIndex(running -> running > {{ rank }}, arrayCumSum(mapValues({{ h }})))])
{%- endmacro -%}

{#- Exact quantile with linear interpolation: position p * (n - 1) between ranks. -#}
{%- macro _histogram_quantile(h, p) -%}
    {%- set position = '(' ~ p ~ ' * (' ~ _histogram_count(h) ~ ' - 1))' -%}
    {%- set lower = 'toUInt64(floor(' ~ position ~ '))' -%}
    {%- set upper = 'least(' ~ lower ~ ' + 1, ' ~ _histogram_count(h) ~ ' - 1)' -%}
    {{ _score_at_rank(h, lower) }}
        + ({{ position }} - {{ lower }}) * ({{ _score_at_rank(h, upper) }} - {{ _score_at_rank(h, lower) }})
{%- endmacro -%}

{%- macro _histogram_band(h, band, bands) -%}
    arraySum(
        (score, n) -> if({{ in_band(bands, 'score', band) }}, n, 0), mapKeys({{ h }}), mapValues({{ h }})
    )
{%- endmacro -%}

{#- The names of the metric columns, in score_metrics' order. -#}
{% macro score_metric_columns() -%}
    {{ return([
        'student_count', 'avg_score', 'median_score', 'q1_score', 'q3_score', 'min_score', 'max_score',
        'score_stddev', 'avg_performance_level', 'excellent_count', 'good_count', 'fair_count',
        'needs_improvement_count',
    ]) }}
{%- endmacro %}

{#- The metric columns (named as score_metric_columns lists them), from a score histogram and a
    performance-level histogram; band bounds from `bands` (the score_bands seed). -#}
{% macro score_metrics(bands, h='score_histogram', levels='performance_level_histogram') -%}
    {{ _histogram_count(h) }} as student_count,
    {{ _histogram_sum(h) }} / student_count as avg_score,
    {{ _histogram_quantile(h, 0.5) }} as median_score,
    {{ _histogram_quantile(h, 0.25) }} as q1_score,
    {{ _histogram_quantile(h, 0.75) }} as q3_score,
    mapKeys({{ h }})[1] as min_score,
    mapKeys({{ h }})[-1] as max_score,
    {#- population variance n*Σx² - (Σx)² over n², its numerator exact in 128-bit integers -#}
    sqrt(toFloat64(toUInt128(student_count) * {{ _histogram_sum(h, 2) }}
        - toUInt128({{ _histogram_sum(h) }}) * {{ _histogram_sum(h) }})) / student_count as score_stddev,
    {{ _histogram_sum(levels) }} / student_count as avg_performance_level,
    {{ _histogram_band(h, 'excellent', bands) }} as excellent_count,
    {{ _histogram_band(h, 'good', bands) }} as good_count,
    {{ _histogram_band(h, 'fair', bands) }} as fair_count,
    {{ _histogram_band(h, 'needs_improvement', bands) }} as needs_improvement_count
{%- endmacro %}
