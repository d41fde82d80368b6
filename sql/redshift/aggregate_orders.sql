-- Orders of one hour by dimension: the rows the mart's orders_hourly gets for :hour_start.
-- second_category is qualified by its first_category ("Skirt/Straight" vs "Bottom/Straight").
with orders as (
    select * from orders_fact
    where hour_start = :hour_start
),

by_dimension as (
    select 'total' as dimension, 'all' as value, count(*) as orders, sum(price) as revenue
    from orders
    union all
    select 'first_category', first_category, count(*), sum(price)
    from orders group by first_category
    union all
    select 'second_category', first_category || '/' || second_category, count(*), sum(price)
    from orders group by first_category, second_category
    union all
    select 'region', user_region, count(*), sum(price) from orders group by user_region
    union all
    select 'gender', user_gender, count(*), sum(price) from orders group by user_gender
),

final as (
    select
        dimension,
        value,
        orders,
        cast(coalesce(revenue, 0) as bigint) as revenue
    from by_dimension
)

select * from final
order by dimension, value;
