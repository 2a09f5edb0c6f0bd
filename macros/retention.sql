{#-
    Retention: the scores of a school year leave the hot tables `retention_years` years after that
    school year ends (var `retention_years` or env SCORES_RETENTION_YEARS, the same setting the
    loaders use). School year Y (July Y-1 to June Y) expires on 1 July of Y + N. The loaders'
    copy of the rule is loaders/school_calendar.py; tests/python/test_rules.py holds them together.

    Every table keyed by school year carries a ClickHouse TTL with that rule (whole parts are
    dropped, `ttl_only_drop_parts`), and every incremental model deletes expired rows at the end of
    its run when the retention cutoff moved (a `retention:<year>` token, macros/build_state.sql),
    so all layers drop a school year together and the marts keep matching the facts.
-#}

{% macro retention_years() -%}
    {#- the loaders' bounds (loaders/config.py RETENTION_YEARS_RANGE) -#}
    {%- set text = var('retention_years') | string | trim -%}
    {%- if not text.isdigit() or (text | int) < 1 or (text | int) > 100 -%}
        {{ exceptions.raise_compiler_error(
            "retention_years (var or SCORES_RETENTION_YEARS) must be a whole number of years from 1 to 100, not '"
            ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}

{#- TTL expression for a model's `ttl` config. -#}
{% macro retention_ttl() -%}
    makeDate(school_year + {{ retention_years() }}, 7, 1)
{%- endmacro %}

{#- A model's retention config: the TTL, applied by dropping whole parts only (a part of a school
    year expires at once), plus the model's own `settings`. Every table keyed by school year
    takes it: `config(..., **retention_config())`. -#}
{% macro retention_config(settings={}) -%}
    {%- set merged = {'ttl_only_drop_parts': 1} -%}
    {%- do merged.update(settings) -%}
    {{ return({'ttl': retention_ttl(), 'settings': merged}) }}
{%- endmacro %}

{#- School years below this one are expired on the day `today` (a ClickHouse Date expression). -#}
{% macro retention_cutoff_year(today='today()') -%}
    (toYear({{ today }}) - {{ retention_years() }} + if(toMonth({{ today }}) >= 7, 1, 0))
{%- endmacro %}

{% macro is_retained(school_year='school_year') -%}
    {{ school_year }} >= {{ retention_cutoff_year() }}
{%- endmacro %}

{#- Whether `relation` (a table) was created with today's retention rule: a changed
    retention_years must reach tables made under the old one. -#}
{% macro has_current_ttl(relation) -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set found = run_query(
        "select count() from system.tables where database = '" ~ relation.schema ~ "' and name = '"
        ~ relation.identifier ~ "' and position(create_table_query, 'TTL " ~ retention_ttl() | trim ~ "') > 0"
    ).columns[0].values()[0] -%}
    {{ return(found > 0) }}
{%- endmacro %}

{#- on-run-start: the raw score ledger follows the same rule. Its TTL is set by the loaders when
    they create it; after a change of retention_years, the next build updates it and deletes the
    expired rows, so every layer, raw included, drops a school year at once. -#}
{% macro apply_retention_to_sources(scores) -%}
    {%- if execute -%}
        {%- if load_relation(scores) is not none -%}
            {%- if not has_current_ttl(scores) -%}
                {%- do run_query(modify_ttl_sql(scores)) -%}
            {%- endif -%}
            {%- if has_rows(scores, "not (" ~ is_retained() ~ ")") -%}
                {%- do run_query(delete_expired_sql(scores)) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
