-- Query tables for the problem list (问题清单). Like the others they are projections of the
-- ledger, rewritten in the append's transaction; ticket_history only grows. Whether a ticket is
-- overdue depends on the day it is read, so it is computed then and not stored.

create table tickets (
    id              text   primary key,
    kind            text   not null,
    status          text   not null,
    -- the subject as JSON: {"manifest", "org", "code", "lot", "site": {"address", "lat", "lon"}}
    subject         text   not null,
    summary         text   not null,
    quantity_g      integer ,
    lead            text   ,
    -- the supporting departments as a JSON array of strings
    support         text   not null,
    responsible     text   ,
    due             text   ,
    opened_at       text   not null,
    closed_at       text   ,
    opened_seq      integer not null unique,
    -- copied from the subject, and from the subject manifest (whose parties and number never
    -- change), so that the org filter and the export need no join
    subject_org     text   ,
    manifest_number text   ,
    generator       text   ,
    carrier         text   ,
    receiver        text
);

create index tickets_status on tickets (status, opened_seq);
create index tickets_kind on tickets (kind, opened_seq);
-- the org filter matches any of these columns; one index each lets the planner combine them
create index tickets_subject_org on tickets (subject_org, opened_seq);
create index tickets_responsible on tickets (responsible, opened_seq);
create index tickets_generator on tickets (generator, opened_seq);
create index tickets_carrier on tickets (carrier, opened_seq);
create index tickets_receiver on tickets (receiver, opened_seq);

create table ticket_history (
    ticket      text   not null,
    seq         integer not null,
    type        text   not null,
    at          text   not null,
    recorded_at text   not null,
    hash        text   not null,
    primary     key    (ticket, seq)
);

create index ticket_history_seq on ticket_history (seq);
