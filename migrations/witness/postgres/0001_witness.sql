-- A witness (`hwledger witness`, spec §5a): per log, the checkpoint it last cosigned, and the
-- requests it refused as evidence of a fork. Its own database, never the ledger's.

-- One row per origin once it has cosigned for it; updated only by compare-and-swap on
-- (size, root), so the size never goes backwards.
create table witness_checkpoints (
    origin      text   primary key,
    size        bigint not null check (size >= 0),
    -- the root hash of that size, lowercase hex
    root        text   not null,
    -- the timestamp of the cosignature, POSIX seconds
    cosigned_at bigint not null check (cosigned_at > 0),
    -- the signed checkpoint as received (the log's signature, and any others it carried)
    note        text   not null
);

-- Requests answered 422: a proof that does not verify, or another root for a size already
-- cosigned. Kept whole, as received, and never changed.
create table witness_evidence (
    id          bigint generated always as identity primary key,
    origin      text   not null,
    -- POSIX seconds
    received_at bigint not null,
    reason      text   not null,
    body        bytea  not null,
    -- the signed checkpoint last cosigned for the origin when the request came, if any: with
    -- the request's own, the two signed checkpoints that show a split view
    cosigned    text
);

create index witness_evidence_origin on witness_evidence (origin, id);

create function witness_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'evidence is never changed: % refused', lower(tg_op);
end;
$$;

create trigger witness_evidence_no_update before update on witness_evidence
    for each row execute function witness_refuse_change();
create trigger witness_evidence_no_delete before delete on witness_evidence
    for each row execute function witness_refuse_change();
create trigger witness_evidence_no_truncate before truncate on witness_evidence
    for each statement execute function witness_refuse_change();
