-- Redash: how far the batch path has got: per entity, the end of the newest hour in the mart and
-- when it was loaded (compare with now() to see the lag). No parameters.
with hours as (
    select 'users' as entity, hour_start, loaded_at from signups_hourly where dimension = 'total'
    union all
    select 'orders' as entity, hour_start, loaded_at from orders_hourly where dimension = 'total'
),

final as (
    select
        entity,
        max(hour_start) + interval '1 hour' as data_through,
        max(loaded_at) as loaded_at,
        now() as checked_at
    from hours
    group by entity
)

select * from final
order by entity;
