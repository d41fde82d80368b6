-- Redash: sign-ups by one dimension for a period, with each value's share (a bar per value).
-- Parameters: period (datetime-range: every UTC hour whose start lies in [start, end]) and
-- dimension (gender | region | email_domain). `shopstream mart ratios` and `shopstream report`
-- run this same file.
with signups as (
    select * from signups_hourly
    where hour_start >= date_trunc('hour', '{{ period.start }}'::timestamp) at time zone 'UTC'
      and hour_start <= '{{ period.end }}'::timestamp at time zone 'UTC'
      and dimension = '{{ dimension }}'
),

final as (
    select
        value,
        sum(signups) as signups,
        round(100.0 * sum(signups) / nullif(sum(sum(signups)) over (), 0), 2) as share_pct
    from signups
    group by value
)

select * from final
order by signups desc, value;
