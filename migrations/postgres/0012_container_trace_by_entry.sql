-- A container's trace, kept in the order it is written.
--
-- The trace was keyed by (container, seq): every step of every container took a write at a
-- random place of that key, and a second write in the index by seq that `verify --db` reads.
-- It is now keyed by (seq, container), so the steps of each round are added at the end of one
-- index, and each container's row lists the seqs of its steps (`trace_seqs`, each followed by
-- a comma): its row is rewritten at every step anyway, and a trace is read by those keys.

alter table containers add column trace_seqs text not null default '';

update containers
set trace_seqs = steps.seqs
from (
    select container, string_agg(seq::text || ',', '' order by seq) as seqs
    from container_trace
    group by container
) as steps
where steps.container = containers.id;

alter table container_trace drop constraint container_trace_pkey;
drop index container_trace_seq;
alter table container_trace add primary key (seq, container);
