-- `hwledger verify --db` compares the container trace rows of each run of entries with those
-- the entries call for: it reads them by seq.
create index container_trace_seq on container_trace (seq);
