-- Query tables of protocol version 2 for facilities (设施) and on-site treatment (自行利用/处置).
-- Like the others they are projections of the ledger, rewritten in the append's transaction.
-- The number 0005 is left to the list indexes of another line of work.

-- The storage facility a lot is kept in, if named (null for every lot of a version-1 ledger).
alter table lots add column facility text;

create table facilities (
    org            text   not null,
    facility       text   not null,
    kind           text   not null,
    storage_type   text   ,
    capacity_g     bigint not null,
    -- the methods as a JSON array of codes ([] for storage)
    methods        text   not null,
    name           text   not null,
    address        text   ,
    status         text   not null,
    registered_seq bigint not null,
    updated_seq    bigint not null,
    -- what remains of the lots in it (storage), else null
    stock_g        bigint ,
    primary key (org, facility)
);

-- Grams treated per facility and CST year of the treatments' date (utilize, dispose).
create table facility_years (
    org       text   not null,
    facility  text   not null,
    year      bigint not null,
    treated_g bigint not null,
    primary key (org, facility, year)
);

create table treatments (
    seq        bigint primary key,
    generator  text   not null,
    facility   text   not null,
    code       text   not null,
    quantity_g bigint not null,
    method     text   not null,
    date       text   not null,
    -- where it was taken from, as JSON: [[lot seq, grams], ...]
    lots       text   not null
);

create index treatments_generator on treatments (generator, seq);
