{#-
    Keys (school_year, test_id, student_id) touched by the batches this run applies, and the
    group keys every version of those scores ever had. A correction that moves a student to
    another teacher changes both the old and the new classroom, so marts recompute the groups
    of all versions (a superset of what changed, never less).
-#}

{% macro changed_score_keys(upstream=none) -%}
    select changed.school_year, changed.test_id, changed.student_id
    from {{ ref('stg_raw__student_scores') }} as changed
    where changed._batch_id in ({{ batches_to_apply(upstream) }})
{%- endmacro %}

{#- Condition: the row's score key is among the changed ones (the school_year test prunes by the
    primary key first). -#}
{% macro is_changed_score(upstream=none) -%}
    school_year in (select changed_keys.school_year from ({{ changed_score_keys(upstream) }}) as changed_keys)
    and (school_year, test_id, student_id) in ({{ changed_score_keys(upstream) }})
{%- endmacro %}

{% macro affected_groups(group_columns, upstream) -%}
    select distinct {{ group_columns | join(', ') }}
    from {{ ref('stg_raw__student_scores') }}
    where
        {{ is_changed_score(upstream) }}
        and _batch_id in ({{ batches_visible_in_run() }})
{%- endmacro %}

{#- Pre-hook of incremental models: delete the rows this run recomputes. -#}
{% macro delete_recomputed_rows(key_columns, keys_sql) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where ({{ key_columns | join(', ') }}) in ({{ keys_sql }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
