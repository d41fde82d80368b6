-- Redash: sign-ups for a chosen period by a chosen dimension (parameters from Redash).
with signups as (
    select * from signups_hourly
    where hour_start >= '{{ period.start }}'
      and hour_start < '{{ period.end }}'
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
order by signups desc;
