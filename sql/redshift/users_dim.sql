-- users_dim: one row per sign-up (users.event_id), replaced per hour_start by the hourly load.
-- Columns: conf/contract.yaml users fields + email_domain + hour_start (checked by tests).
-- VARCHAR lengths are bytes in Redshift: 4 x the contract's max_length in characters.
create table if not exists users_dim (
    event_id char(36) not null,
    schema_version integer not null,
    user_id bigint not null,
    name varchar(256) not null,
    email varchar(512) not null,
    phone_number varchar(128) not null,
    gender varchar(32) not null,
    address varchar(128) not null,
    created_at timestamptz not null,
    email_domain varchar(512) not null,
    hour_start timestamptz not null,
    primary key (event_id)
)
diststyle key
distkey (user_id)
compound sortkey (hour_start, user_id);
