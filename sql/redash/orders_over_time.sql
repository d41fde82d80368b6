-- Redash: orders and revenue per hour for a chosen period (time series).
with totals as (
    select * from orders_hourly
    where dimension = 'total'
      and hour_start >= '{{ period.start }}'
      and hour_start < '{{ period.end }}'
),

final as (
    select
        hour_start,
        orders,
        revenue
    from totals
)

select * from final
order by hour_start;
