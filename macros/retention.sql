{#-
    Retention: the scores of a school year leave the hot tables `retention_years` years after that
    school year ends (default 5; var `retention_years` or env SCORES_RETENTION_YEARS, the same
    setting the loaders use). School year Y (July Y-1 to June Y) expires on 1 July of Y + N.

    Every table keyed by school year carries a ClickHouse TTL with that rule (whole parts are
    dropped, `ttl_only_drop_parts`), and every incremental model deletes expired rows at the end of
    its run, so all layers drop a school year together and the marts keep matching the facts.
-#}

{% macro retention_years() -%}
    {{ return(var('retention_years', env_var('SCORES_RETENTION_YEARS', '5')) | int) }}
{%- endmacro %}

{#- TTL expression for a model's `ttl` config. -#}
{% macro retention_ttl() -%}
    makeDate(school_year + {{ retention_years() }}, 7, 1)
{%- endmacro %}

{#- School years below this one are expired today. -#}
{% macro retention_cutoff_year() -%}
    (toYear(today()) - {{ retention_years() }} + if(toMonth(today()) >= 7, 1, 0))
{%- endmacro %}

{% macro is_retained(school_year='school_year') -%}
    {{ school_year }} >= {{ retention_cutoff_year() }}
{%- endmacro %}

{#- Post-hook: delete this model's expired rows now rather than at the next TTL merge. The check
    reads only the primary key (school_year leads every sort key), so it costs nothing when no
    school year has expired, which is nearly always. -#}
{% macro delete_expired_rows() -%}
    {%- if has_rows(this, "not (" ~ is_retained() ~ ")") -%}
        delete from {{ this }} where not ({{ is_retained() }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
