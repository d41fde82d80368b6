-- Count and checksum of one hour of one warehouse table, for the reconciliation ledger.
-- checksum = sum of the first 8 hex digits of md5(cast(event_id as varchar)): the same formula runs in Spark
-- (bronze) and PostgreSQL, so equal sets of event_ids give equal checksums.
select
    count(*) as row_count,
    coalesce(sum(strtol(substring(md5(cast(event_id as varchar)), 1, 8), 16)), 0) as checksum
from {table}
where hour_start = :hour_start;
