-- Redash: orders and revenue by one dimension for a period, with each value's share of orders.
-- Parameters: period (datetime-range: every UTC hour whose start lies in [start, end]) and
-- dimension (total | first_category | second_category | region | gender). `shopstream mart
-- ratios` and `shopstream report` run this same file.
with orders as (
    select * from orders_hourly
    where hour_start >= date_trunc('hour', '{{ period.start }}'::timestamp) at time zone 'UTC'
      and hour_start <= '{{ period.end }}'::timestamp at time zone 'UTC'
      and dimension = '{{ dimension }}'
),

final as (
    select
        value,
        sum(orders) as orders,
        sum(revenue) as revenue,
        round(100.0 * sum(orders) / nullif(sum(sum(orders)) over (), 0), 2) as share_pct
    from orders
    group by value
)

select * from final
order by orders desc, value;
