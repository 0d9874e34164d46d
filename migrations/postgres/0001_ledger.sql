-- The ledger: entries, the Merkle tree's stored nodes, and the head row that serialises writers.

create table entries (
    seq         bigint primary key,
    id          text   not null unique,
    type        text   not null,
    actor       text   not null,
    at          text   not null,
    recorded_at text   not null,
    prev        text   not null,
    hash        text   not null,
    key         text   not null,
    sig         text   not null,
    -- the event in its canonical (RFC 8785) form, exactly as signed
    event       text   not null
);

create function hwledger_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'entries are append-only: % refused', lower(tg_op);
end;
$$;

create index entries_type on entries (type, seq);

create trigger entries_no_update before update on entries
    for each row execute function hwledger_refuse_change();
create trigger entries_no_delete before delete on entries
    for each row execute function hwledger_refuse_change();
create trigger entries_no_truncate before truncate on entries
    for each statement execute function hwledger_refuse_change();

-- Roots of perfect subtrees: node (level, idx) covers leaves [idx * 2^level, (idx + 1) * 2^level).
create table tree_nodes (
    level integer not null,
    idx   bigint  not null,
    hash  bytea   not null,
    primary key (level, idx)
);

-- One row; every writer locks it (select ... for update) for the length of its transaction.
create table ledger_head (
    id          integer primary key check (id = 0),
    size        bigint not null,
    head        text   not null,
    root        text   not null,
    recorded_at text   not null
);

insert into ledger_head (id, size, head, root, recorded_at)
values (0, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', '');

-- Registry projections, rewritten from the domain state in the append's transaction.
create table orgs (
    org            text   primary key,
    name           text   not null,
    region         text   not null,
    roles          text   not null,
    registered_seq bigint not null
);

create table org_keys (
    key         text   primary key,
    org         text   not null references orgs (org),
    added_seq   bigint not null,
    revoked_seq bigint
);

create index org_keys_org on org_keys (org, added_seq);
