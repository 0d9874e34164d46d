-- Witness cosignatures (protocol version 2, §5a). For each checkpoint size and witness (its key
-- name and key), the newest cosignature line the witness returned, already verified; any
-- process of the ledger serves them, and a restart loses none.
create table cosignatures (
    size        bigint not null,
    witness     text   not null,
    -- the witness's Ed25519 public key, lowercase hex
    key         text   not null,
    -- the signature line as returned, without its newline
    line        text   not null,
    -- the cosignature's timestamp, POSIX seconds
    cosigned_at bigint not null,
    primary key (size, witness, key)
);

create index cosignatures_by_witness on cosignatures (witness, key, size);

-- Witnesses whose answer was evidence of a fork (a 422, or a 409 naming a size the ledger does
-- not have): nothing is sent to them until an operator deletes the row.
create table witness_halts (
    witness   text not null,
    key       text not null,
    halted_at text not null,
    reason    text not null,
    primary key (witness, key)
);
