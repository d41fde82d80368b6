-- Redash: sign-ups per UTC hour for a period (time series).
-- Parameter: period (datetime-range: every UTC hour whose start lies in [start, end]).
with totals as (
    select * from signups_hourly
    where dimension = 'total'
      and hour_start >= date_trunc('hour', '{{ period.start }}'::timestamp) at time zone 'UTC'
      and hour_start <= '{{ period.end }}'::timestamp at time zone 'UTC'
),

final as (
    select
        hour_start,
        signups
    from totals
)

select * from final
order by hour_start;
