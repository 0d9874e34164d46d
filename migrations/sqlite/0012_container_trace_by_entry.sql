-- A container's trace, kept in the order it is written.
--
-- The trace was keyed by (container, seq): every step of every container took a write at a
-- random place of that key, and a second write in the index by seq that `verify --db` reads.
-- It is now keyed by (seq, container), so the steps of each round are added at the end of one
-- B-tree, and each container's row lists the seqs of its steps (`trace_seqs`, each followed by
-- a comma): its row is rewritten at every step anyway, and a trace is read by those keys.

alter table containers add column trace_seqs text not null default '';

update containers
set trace_seqs = steps.seqs
from (
    select container, group_concat(seq || ',', '' order by seq) as seqs
    from container_trace
    group by container
) as steps
where steps.container = containers.id;

create table container_trace_by_entry (
    seq        integer not null,
    container  text    not null,
    type       text    not null,
    at         text    not null,
    manifest   text    ,
    quantity_g integer ,
    primary key (seq, container)
) without rowid;

insert into container_trace_by_entry (seq, container, type, at, manifest, quantity_g)
select seq, container, type, at, manifest, quantity_g
from container_trace
order by seq, container;

drop table container_trace;
alter table container_trace_by_entry rename to container_trace;
