-- Every index is written on every insert, so only the indexes a query reads are kept.
--
-- `container_trace_manifest` (manifest, container) was never read by a query: a container's
-- trace is read by container (the primary key), and `verify --db` reads it by seq
-- (`container_trace_seq`). Keyed by a random manifest id, it took a write at a random place of
-- a large index for every step of every container.
drop index container_trace_manifest;

-- `entries_type` (type, seq) served one query: the limits in force at start-up, read from the
-- `ledger.genesis` entry and the `ledger.limits_set` entries. An index of only those entries
-- serves it as well and is not written for any other entry.
create index entries_limits on entries (seq)
    where type in ('ledger.genesis', 'ledger.limits_set');
drop index entries_type;
