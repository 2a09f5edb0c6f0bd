{#- A report lookup (models/serving/dict_*_report.sql, kv_*) serves every row of its mart: the
    rows held over all its keys (in its array column `rows_column`) add up to the mart's rows. -#}
{% test report_rows_reconcile(model, mart, rows_column='report_rows') %}
with

served as (
    select sum(length({{ rows_column }})) as served_rows
    from {{ model }}
),

source_rows as (
    select count() as mart_rows
    from {{ mart }}
)

select
    served.served_rows,
    source_rows.mart_rows
from served
cross join source_rows
where served.served_rows != source_rows.mart_rows
{% endtest %}
