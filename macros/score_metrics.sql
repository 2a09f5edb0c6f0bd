{#-
    The metric set of every aggregate level (classroom, school by grade, district by grade),
    defined once. Aggregates over the fact rows of a group; all metrics are exact:

    - counts and sums are integers; averages are sum / count;
    - median_score, q1_score, q3_score: exact quantiles with linear interpolation between the
      two nearest ranks (quantileExactInclusive; the same as PostgreSQL percentile_cont);
    - score_stddev: population standard deviation from integer sums, so it does not depend on
      the order rows are read in;
    - band counts: bounds from seeds/score_bands.csv.
-#}
{% macro score_metrics(score='overall_score', level='performance_level') -%}
    count() as student_count,
    sum({{ score }}) / count() as avg_score,
    quantileExactInclusive(0.5)({{ score }}) as median_score,
    quantileExactInclusive(0.25)({{ score }}) as q1_score,
    quantileExactInclusive(0.75)({{ score }}) as q3_score,
    min({{ score }}) as min_score,
    max({{ score }}) as max_score,
    sqrt(greatest(
        sum(toUInt64({{ score }}) * {{ score }}) / count() - pow(sum({{ score }}) / count(), 2), 0
    )) as score_stddev,
    sum({{ level }}) / count() as avg_performance_level,
    countIf({{ in_band(score, 'excellent') }}) as excellent_count,
    countIf({{ in_band(score, 'good') }}) as good_count,
    countIf({{ in_band(score, 'fair') }}) as fair_count,
    countIf({{ in_band(score, 'needs_improvement') }}) as needs_improvement_count
{%- endmacro %}
