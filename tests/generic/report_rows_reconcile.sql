{#- A report dictionary (models/serving/dict_*_report.sql) serves every row of its mart: the rows
    held over all its keys add up to the mart's rows. -#}
{% test report_rows_reconcile(model, mart) %}
with

served as (
    select sum(length(report_rows)) as served_rows
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
