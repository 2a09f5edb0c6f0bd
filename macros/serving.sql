{#-
    Serving helpers: ClickHouse dictionaries over the aggregate marts, for lookups without joins.
    A dictionary model selects the group key and the looked-up attributes of an aggregate; it is
    recreated and loaded on every build, so it always holds the mart's current values.
-#}

{#- Config of a dictionary model keyed by `key` (list of (column, type)) with `attributes`. -#}
{% macro averages_dictionary_config(key, attributes) -%}
    {{ return({
        'materialized': 'dictionary',
        'fields': key + attributes,
        'primary_key': key | map(attribute=0) | join(', '),
        'layout': 'COMPLEX_KEY_HASHED()',
        'lifetime': '0',
        'post_hook': ['system reload dictionary {{ this }}'],
    }) }}
{%- endmacro %}

{#- dictGet on a dictionary model: the dictionary's name as a string literal and a key tuple. -#}
{% macro dict_get(dictionary, attribute, key_columns) -%}
    dictGet(
        '{{ ref(dictionary).schema }}.{{ ref(dictionary).identifier }}',
        '{{ attribute }}',
        ({% for column in key_columns %}{{ column }}{% if not loop.last %}, {% endif %}{% endfor %})
    )
{%- endmacro %}
