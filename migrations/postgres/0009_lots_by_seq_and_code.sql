-- Collectors and chains (protocol version 2): a storing (manifest.stored) makes one lot per
-- manifest line, so a lot is named by the seq of the entry that made it and its code; a lot
-- stored at a receiver remembers the manifest it came from.
create table lots_by_code (
    seq         bigint not null,
    generator   text   not null,
    code        text   not null,
    date        text   not null,
    quantity_g  bigint not null,
    remaining_g bigint not null,
    reserved_g  bigint not null,
    facility    text   ,
    -- the manifest a stored lot came from; null for a lot of waste.declared
    origin      text   ,
    primary key (seq, code)
);

insert into lots_by_code (seq, generator, code, date, quantity_g, remaining_g, reserved_g, facility)
select seq, generator, code, date, quantity_g, remaining_g, reserved_g, facility from lots;

drop table lots;
alter table lots_by_code rename to lots;

create index lots_generator on lots (generator, seq, code);
create index lots_generator_remaining on lots (generator, seq, code) where remaining_g > 0;
