-- Redash: orders and revenue for a chosen period by a chosen dimension.
with orders as (
    select * from orders_hourly
    where hour_start >= '{{ period.start }}'
      and hour_start < '{{ period.end }}'
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
order by orders desc;
