-- orders_fact: one row per order event (orders.event_id), replaced per hour_start by the load.
-- Columns: conf/contract.yaml orders fields + hour_start (checked by tests).
-- Distributed on user_id so the join with users_dim is collocated.
create table if not exists orders_fact (
    event_id char(36) not null,
    schema_version integer not null,
    order_id bigint not null,
    user_id bigint not null,
    product_id integer not null,
    price integer not null,
    first_category varchar(128) not null,
    second_category varchar(128) not null,
    user_gender varchar(32) not null,
    user_region varchar(128) not null,
    created_at timestamptz not null,
    hour_start timestamptz not null,
    primary key (event_id)
)
diststyle key
distkey (user_id)
compound sortkey (hour_start, order_id);
