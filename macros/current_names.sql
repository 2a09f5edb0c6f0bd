{#-
    Names in the marts are the current names of their ids (int_current_names), never the names
    of the scores a group happens to hold, so every mart shows one name per teacher, school and
    district. A mart names its name columns; each is resolved by its id column.
-#}

{#- The entity and the id column of each name column a mart may carry. -#}
{% macro name_columns() -%}
    {{ return({
        'teacher_name': ('teacher', 'teacher_id'),
        'school_name': ('school', 'school_id'),
        'district_name': ('district', 'district_id'),
    }) }}
{%- endmacro %}

{#- Left joins of `names` (int_current_names) for the name `columns` of the rows `alias`. -#}
{% macro current_name_joins(names, alias, columns) -%}
    {%- for column in columns -%}
        {%- set entity, id_column = name_columns()[column] %}
left join {{ names }} as {{ column }}_now
    on {{ column }}_now.entity_kind = '{{ entity }}' and {{ column }}_now.entity_id = {{ alias }}.{{ id_column }}
    {%- endfor %}
{%- endmacro %}

{#-
    Pre-hook of a mart published by partition: the school years where a stored name is no longer
    the current one (a rename, or a name that the latest load left empty) join the run's touched
    years, with a key that matches no group, so the run republishes them with current names.
-#}
{% macro add_stale_name_years(names_relation, columns) -%}
    {%- if is_incremental() and columns -%}
        insert into {{ changes_relation() }} (school_year)
        select distinct stored.school_year
        from {{ this }} as stored
        {{ current_name_joins(names_relation, 'stored', columns) }}
        where {% for column in columns -%}
            stored.{{ column }} != {{ column }}_now.current_name{% if not loop.last %} or {% endif %}
        {%- endfor %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
