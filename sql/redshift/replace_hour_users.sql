-- Replace hour :hour_start of users_dim with the staged export (runs inside one transaction,
-- after COPY into the temporary stage_users). Re-running it for the same hour is a no-op.
delete from users_dim
where hour_start = :hour_start;

insert into users_dim
select
    event_id,
    schema_version,
    user_id,
    name,
    email,
    phone_number,
    gender,
    address,
    created_at,
    email_domain,
    hour_start
from stage_users
where hour_start = :hour_start;
