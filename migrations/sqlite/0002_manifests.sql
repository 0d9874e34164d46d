-- Query tables for licences, declared stock and manifests. Like orgs, they are projections of
-- the ledger, rewritten in the append's transaction; manifest_history only grows.

create table licences (
    license     text   primary key,
    holder      text   not null,
    capacity_g  integer not null,
    valid_from  text   not null,
    valid_until text   not null,
    status      text   not null,
    -- the scopes as JSON: [{"codes": [...], "activities": [...]}]
    scopes      text   not null,
    issued_seq  integer not null,
    updated_seq integer not null
);

create index licences_holder on licences (holder, license);

create table lots (
    seq         integer primary key,
    generator   text   not null,
    code        text   not null,
    date        text   not null,
    quantity_g  integer not null,
    remaining_g integer not null,
    reserved_g  integer not null
);

create index lots_generator on lots (generator, seq);

create table manifests (
    id          text   primary key,
    number      text   not null unique,
    status      text   not null,
    generator   text   not null,
    carrier     text   not null,
    receiver    text   not null,
    vehicle     text   ,
    opened_seq  integer not null unique,
    -- the lines as JSON: [{"code", "quantity_g", "received_g", "disposed_g", "method"}]
    lines       text   not null
);

create index manifests_generator on manifests (generator, opened_seq);
create index manifests_carrier on manifests (carrier, opened_seq);
create index manifests_receiver on manifests (receiver, opened_seq);
create index manifests_status on manifests (status, opened_seq);

create table manifest_history (
    manifest    text   not null,
    seq         integer not null,
    type        text   not null,
    at          text   not null,
    recorded_at text   not null,
    hash        text   not null,
    primary     key    (manifest, seq)
);

create index manifest_history_seq on manifest_history (seq);
