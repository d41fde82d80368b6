-- Reconciliation ledger: one row per (hour, entity, stage) per run. `shopstream reconcile`
-- compares the latest row of each stage; a closed hour must show zero difference.
create table if not exists ledger (
    ledger_id bigserial primary key,
    hour_start timestamptz not null,
    entity text not null,
    stage text not null,
    row_count bigint not null,
    checksum bigint,
    run_id text not null,
    is_correction boolean not null default false,
    note text not null default '',
    recorded_at timestamptz not null default now()
);

create index if not exists ledger_hour_entity_stage
    on ledger (hour_start, entity, stage, recorded_at desc);
