-- Query tables of protocol version 2 for containers (一物一码, HJ 1276-2022): each container's
-- lot, quantity and status, rewritten in the append's transaction, and its trace, which only
-- grows (one row per entry that made, reserved, released, scanned, received, returned or
-- treated it, or disposed of the manifest that delivered it).

create table containers (
    id         text   primary key,
    -- the unit that packed it (its first segment)
    org        text   not null,
    code       text   not null,
    date       text   not null,
    -- the seq of the lot it was last put in, its quantity there, and its place in that lot
    lot        integer not null,
    pos        integer not null,
    quantity_g integer not null,
    status     text   not null,
    manifest   text   ,
    received_g integer
);

create index containers_lot on containers (lot, pos);

create table container_trace (
    container  text   not null,
    seq        integer not null,
    type       text   not null,
    at         text   not null,
    manifest   text   ,
    quantity_g integer ,
    primary key (container, seq)
);

-- Who may read a container: the parties of the manifests in its trace.
create index container_trace_manifest on container_trace (manifest, container);
