-- Redash: the reconciliation ledger of one entity per UTC hour and stage for a period: the latest
-- run's count of each stage, its difference from bronze (quarantine is informational: no
-- difference), whether that run was a late-data correction, and how many runs the hour had.
-- Parameters: period (datetime-range: every UTC hour whose start lies in [start, end]), entity.
with entries as (
    select * from ledger
    where entity = '{{ entity }}'
      and hour_start >= date_trunc('hour', '{{ period.start }}'::timestamp) at time zone 'UTC'
      and hour_start <= '{{ period.end }}'::timestamp at time zone 'UTC'
),

ranked as (
    select
        *,
        row_number() over (
            partition by hour_start, stage order by recorded_at desc, ledger_id desc
        ) as recency,
        count(*) over (partition by hour_start, stage) as runs,
        sum(case when is_correction then 1 else 0 end) over (partition by hour_start, stage) as corrections
    from entries
),

latest as (
    select * from ranked
    where recency = 1
),

bronze as (
    select
        hour_start,
        row_count as bronze_count
    from latest
    where stage = 'bronze'
),

final as (
    select
        latest.hour_start,
        latest.stage,
        latest.row_count,
        case
            when latest.stage in ('bronze', 'quarantine') then null
            else latest.row_count - bronze.bronze_count
        end as difference,
        latest.is_correction,
        latest.corrections,
        latest.runs,
        latest.recorded_at
    from latest
    left join bronze on latest.hour_start = bronze.hour_start
)

select * from final
order by hour_start, stage;
