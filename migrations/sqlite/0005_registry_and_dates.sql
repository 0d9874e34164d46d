-- The registry list (GET /v1/orgs) in registration order, by role and by region prefix, and
-- manifests by the CST date of their opening (GET /v1/manifests?from=&to=): each page an
-- ordered index read, however large the registry or the ledger grows.

create unique index orgs_registered on orgs (registered_seq);

-- A region prefix of 6, 4 or 2 digits (county, city, province) is one equality on one of these;
-- other lengths narrow the next shorter one (see Store::orgs).
create index orgs_region on orgs (region, registered_seq);
create index orgs_city on orgs (substr(region, 1, 4), registered_seq);
create index orgs_province on orgs (substr(region, 1, 2), registered_seq);

-- One per role: the query names the same condition, literally, so the planner can use it.
create index orgs_role_regulator on orgs (registered_seq) where roles like '%regulator%';
create index orgs_role_generator on orgs (registered_seq) where roles like '%generator%';
create index orgs_role_carrier on orgs (registered_seq) where roles like '%carrier%';
create index orgs_role_receiver on orgs (registered_seq) where roles like '%receiver%';

-- The CST date (YYYY-MM-DD) of the manifest.opened event's `at`, written with the row from now
-- on and computed here for the rows already there (the `at` text is YYYY-MM-DDTHH:MM:SS…Z).
alter table manifests add column opened_date text not null default '';

update manifests
set opened_date = (
    select date(substr(h.at, 1, 19), '+8 hours')
    from manifest_history h
    where h.manifest = manifests.id and h.seq = manifests.opened_seq
);

create index manifests_opened_date on manifests (opened_date, opened_seq);
