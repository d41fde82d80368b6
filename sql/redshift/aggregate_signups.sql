-- Sign-ups of one hour by dimension: the rows the mart's signups_hourly gets for :hour_start.
with users as (
    select * from users_dim
    where hour_start = :hour_start
),

by_dimension as (
    select 'total' as dimension, 'all' as value, count(*) as signups from users
    union all
    select 'gender', gender, count(*) from users group by gender
    union all
    select 'region', address, count(*) from users group by address
    union all
    select 'email_domain', email_domain, count(*) from users group by email_domain
),

final as (
    select
        dimension,
        value,
        signups
    from by_dimension
)

select * from final
order by dimension, value;
