-- A party's manifests of one status, in opening order: lists filtered by both read one page of
-- index instead of every manifest of the party.
create index manifests_generator_status on manifests (generator, status, opened_seq);
create index manifests_carrier_status on manifests (carrier, status, opened_seq);
create index manifests_receiver_status on manifests (receiver, status, opened_seq);

-- Lots with something left, which is what GET /v1/stock lists by default.
create index lots_generator_remaining on lots (generator, seq) where remaining_g > 0;
