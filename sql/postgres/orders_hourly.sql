-- Mart: orders and revenue (KRW) per UTC hour and dimension
-- (total | first_category | second_category | region | gender).
-- Upserted per hour by the hourly batch (delete + insert of the hour in one transaction).
create table if not exists orders_hourly (
    hour_start timestamptz not null,
    dimension text not null,
    value text not null,
    orders bigint not null,
    revenue bigint not null,
    run_id text not null,
    loaded_at timestamptz not null default now(),
    primary key (hour_start, dimension, value)
);

create index if not exists orders_hourly_dimension_hour
    on orders_hourly (dimension, hour_start);
