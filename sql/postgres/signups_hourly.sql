-- Mart: sign-ups per UTC hour and dimension (total | gender | region | email_domain).
-- Upserted per hour by the hourly batch (delete + insert of the hour in one transaction).
create table if not exists signups_hourly (
    hour_start timestamptz not null,
    dimension text not null,
    value text not null,
    signups bigint not null,
    run_id text not null,
    loaded_at timestamptz not null default now(),
    primary key (hour_start, dimension, value)
);

create index if not exists signups_hourly_dimension_hour
    on signups_hourly (dimension, hour_start);
