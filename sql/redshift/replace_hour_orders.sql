-- Replace hour :hour_start of orders_fact with the staged export (runs inside one transaction,
-- after COPY into the temporary stage_orders). Re-running it for the same hour is a no-op.
delete from orders_fact
where hour_start = :hour_start;

insert into orders_fact
select
    event_id,
    schema_version,
    order_id,
    user_id,
    product_id,
    price,
    first_category,
    second_category,
    user_gender,
    user_region,
    created_at,
    hour_start
from stage_orders
where hour_start = :hour_start;
