//! `hwledger verify`: recomputes a ledger from its entries and checks it against what its
//! source claims (the database's head and query tables, or a signed checkpoint).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use ed25519_dalek::VerifyingKey;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::client;
use crate::audit::{Auditor, Finding};
use crate::protocol::checkpoint::Checkpoint;
use crate::protocol::cosignature::{self, Witness};
use crate::protocol::event::{parse_hex, Entry, EntryView, Hash};
use crate::store::{
    history_text, trace_text, DbUrl, HistoryItem, LicenceView, LotCursor, LotView, ManifestFilter,
    ManifestView, OrgView, Store,
};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["db", "url", "file"])))]
pub struct VerifyArgs {
    /// Read the ledger from a database (sqlite://… or postgres://…).
    #[arg(long)]
    pub db: Option<String>,
    /// Read the ledger from a running service, as the org --org with its key --key (a
    /// regulator's: the entries are for regulators); with --proof-only, no key is needed.
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: a signing key (PKCS#8 PEM) of --org, to sign read tokens.
    #[arg(long, requires = "url")]
    pub key: Option<PathBuf>,
    /// With --url: the org reading.
    #[arg(long, requires = "url")]
    pub org: Option<String>,
    /// Read the ledger from a file written by `hwledger export`.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The ledger's public key (64 hex characters), obtained out of band.
    #[arg(long)]
    pub ledger_key: String,
    /// An older checkpoint (signed note) that the ledger must extend.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// With --url and --checkpoint: check only that the service's latest signed checkpoint
    /// extends the older one, by the service's consistency proof. Reads public paths only (no
    /// --key/--org) and O(log n) hashes; no entry is replayed.
    #[arg(long, requires_all = ["url", "checkpoint"])]
    pub proof_only: bool,
    /// A witness whose cosignature counts, as NAME=KEYHEX (its key name and Ed25519 public key),
    /// obtained out of band; repeatable. The checkpoint relied on is the service's cosigned
    /// checkpoint (/v1/tlog/checkpoint) with --url, else --checkpoint.
    #[arg(long = "witness", value_parser = cosignature::parse_witness_arg)]
    pub witnesses: Vec<Witness>,
    /// How many distinct --witness must have cosigned the checkpoint relied on.
    #[arg(long, default_value_t = 0)]
    pub quorum: usize,
}

impl VerifyArgs {
    /// `--ledger-key` as a public key.
    fn ledger_key(&self) -> anyhow::Result<VerifyingKey> {
        let bytes = parse_hex::<32>(&self.ledger_key)
            .context("--ledger-key must be 64 lowercase hex characters")?;
        VerifyingKey::from_bytes(&bytes).context("--ledger-key is not a public key")
    }

    /// The text of `--checkpoint`, if given.
    fn older_checkpoint(&self) -> anyhow::Result<Option<String>> {
        self.checkpoint
            .as_ref()
            .map(|p| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            })
            .transpose()
    }
}

/// Where entries come from.
enum Source {
    Db(Store),
    File(std::io::Lines<BufReader<std::fs::File>>),
    Url(Box<client::Reader>),
}

/// What the source says the ledger is, to compare with the recomputation.
enum Claim {
    /// The database's head row: size and root.
    Head {
        size: u64,
        root: Hash,
    },
    /// A checkpoint signed note (an export's last line, or the service's latest).
    Checkpoint(String),
    Nothing,
}

const CHUNK: u64 = 2000;

/// A run of what a source gives, before it is read into entries.
enum Run {
    /// Entries already read (a database, a service's pages), with the hash stated for each.
    Entries(Vec<(Entry, Option<Hash>)>),
    /// Lines of an export, read on the other cores with the entries' shapes and signatures.
    Lines(Vec<String>),
}

/// What the first stage reads an entry's event into: its shape checked, then its signature.
type Shaped = Result<crate::protocol::event::Prepared, String>;

/// One line of a source, as the first stage reads it: an entry with its event.
// Nearly every item is an entry: boxing it would cost an allocation per entry to save space
// on the one checkpoint line.
#[allow(clippy::large_enum_variant)]
enum Item {
    Entry(Entry, Option<Hash>, Shaped),
    /// An export's `{"checkpoint": …}` line.
    Checkpoint(String),
    /// A line that is not an entry, with why.
    Bad(String),
}

impl Run {
    fn is_empty(&self) -> bool {
        match self {
            Run::Entries(v) => v.is_empty(),
            Run::Lines(v) => v.is_empty(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Run::Entries(v) => v.len(),
            Run::Lines(v) => v.len(),
        }
    }

    /// The items of the run, in order, each entry's event read and its shape checked (this
    /// needs no state, so it runs on the other cores).
    fn read(self) -> Vec<Item> {
        use crate::protocol::event::{map_on_cores, Prepared};
        match self {
            Run::Entries(v) => {
                let shaped = map_on_cores(&v, |(e, _)| Prepared::from_entry(e));
                v.into_iter()
                    .zip(shaped)
                    .map(|((e, h), p)| Item::Entry(e, h, p))
                    .collect()
            }
            Run::Lines(lines) => map_on_cores(&lines, |line| read_line(line)),
        }
    }
}

/// One line of an export: an entry (read straight into its fields, and its event read once
/// for both the entry's bytes and its shape), else the checkpoint line, else what is wrong.
fn read_line(line: &str) -> Item {
    // A key spelled with an escape is read as the key: such a line takes the long way.
    let direct = (!line.contains("\"checkpoint\"") && !line.contains("\\u"))
        .then(|| serde_json::from_str::<EntryView>(line).ok())
        .flatten();
    let view = match direct {
        Some(view) => Ok(view),
        None => {
            let value: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(_) => return Item::Bad("not JSON".into()),
            };
            if let Some(cp) = value.get("checkpoint") {
                return Item::Checkpoint(cp.as_str().unwrap_or_default().to_owned());
            }
            serde_json::from_value(value).context("not an entry")
        }
    };
    match view.and_then(entry_of) {
        Ok((e, stated, event)) => {
            let shaped = crate::protocol::event::Prepared::from_recorded(event, &e);
            Item::Entry(e, Some(stated), shaped)
        }
        Err(e) => Item::Bad(format!("{e:#}")),
    }
}

impl Source {
    /// The next run of entries from `from`: a run of the database's or the service's entries,
    /// or of an export's lines (read, as they need no state, with the entries' signatures).
    async fn next(&mut self, from: u64, claim: &Claim) -> anyhow::Result<Run> {
        match self {
            Source::Db(store) => Ok(Run::Entries(
                store
                    .entries_with_hash(from, CHUNK)
                    .await?
                    .into_iter()
                    .map(|(e, h)| (e, Some(h)))
                    .collect(),
            )),
            Source::File(lines) => {
                let mut out = Vec::new();
                for line in lines.by_ref() {
                    let line = line.context("reading the export")?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    out.push(line);
                    if out.len() as u64 >= CHUNK {
                        break;
                    }
                }
                Ok(Run::Lines(out))
            }
            Source::Url(reader) => {
                let size = match claim {
                    Claim::Checkpoint(text) => checkpoint_size(text)?,
                    _ => 0,
                };
                if from >= size {
                    return Ok(Run::Entries(Vec::new()));
                }
                let limit = (size - from).min(1000);
                let page: Value = serde_json::from_str(
                    &reader.get(&format!("/v1/entries?from={from}&limit={limit}"))?,
                )?;
                Ok(Run::Entries(
                    page["entries"]
                        .as_array()
                        .context("the service's entries page has no entries")?
                        .iter()
                        .map(|v| parse_view(v.clone()))
                        .collect::<anyhow::Result<_>>()?,
                ))
            }
        }
    }
}

fn parse_view(value: Value) -> anyhow::Result<(Entry, Option<Hash>)> {
    let view: EntryView = serde_json::from_value(value).context("not an entry")?;
    let (entry, stated, _) = entry_of(view)?;
    Ok((entry, Some(stated)))
}

/// The entry a view shows, the hash it states, and its event as read.
fn entry_of(view: EntryView) -> anyhow::Result<(Entry, Hash, Value)> {
    let seq = view.seq;
    let (entry, hash, event) = view
        .into_entry_and_event()
        .map_err(|e| anyhow::anyhow!("entry {seq}: {e}"))?;
    let stated = parse_hex::<32>(&hash).with_context(|| format!("entry {seq}: bad hash"))?;
    Ok((entry, stated, event))
}

/// The size line of a checkpoint, before its signature is checked (to know how far to read).
fn checkpoint_size(text: &str) -> anyhow::Result<u64> {
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("the checkpoint has no size line")
}

pub async fn run(args: VerifyArgs) -> ExitCode {
    if args.proof_only {
        return match tokio::task::spawn_blocking(move || extension_only(&args)).await {
            Ok(Ok(None)) => ExitCode::SUCCESS,
            Ok(Ok(Some(reason))) => {
                println!("FAILED: {reason}");
                ExitCode::from(1)
            }
            Ok(Err(e)) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    match verify(args).await {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(finding)) => {
            println!("FAILED: {finding}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Returns the first finding, or `None` when everything holds.
async fn verify(args: VerifyArgs) -> anyhow::Result<Option<Finding>> {
    let verifying = args.ledger_key()?;
    let ledger_key = verifying.to_bytes();
    let older = args.older_checkpoint()?;
    let mut claim = Claim::Nothing;
    let mut cosigned: Option<String> = None;
    let (mut source, total) = if let Some(db) = &args.db {
        let store = Store::connect(&DbUrl::new(db.clone())).await?;
        let head = store.head().await?;
        claim = Claim::Head {
            size: head.size,
            root: head.root,
        };
        (Source::Db(store), Some(head.size))
    } else if let Some(file) = &args.file {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        (Source::File(BufReader::new(f).lines()), None)
    } else {
        let base = args.url.clone().expect("clap requires a source");
        let (Some(key), Some(org)) = (&args.key, &args.org) else {
            bail!("--url needs --key and --org to read the entries (or --proof-only with --checkpoint)");
        };
        let reader = client::Reader::connect(&base, key, org)?;
        // The cosigned checkpoint first: the latest one is at least as large.
        cosigned = cosigned_checkpoint(&base)?;
        let text = client::get(&base, "/v1/checkpoint", None)?;
        let size = checkpoint_size(&text)?;
        claim = Claim::Checkpoint(text);
        (Source::Url(Box::new(reader)), Some(size))
    };
    cosignature::check_distinct(&args.witnesses).map_err(|e| anyhow::anyhow!("--witness: {e}"))?;
    if args.quorum > args.witnesses.len() {
        bail!(
            "--quorum {} is more than the {} --witness given",
            args.quorum,
            args.witnesses.len()
        );
    }
    // The checkpoint whose cosignatures are counted.
    let relied = if args.url.is_some() {
        cosigned.clone()
    } else {
        older.clone()
    };
    if args.quorum > 0 && relied.is_none() {
        if args.url.is_some() {
            return Ok(Some(Finding {
                seq: 0,
                reason: "the service has no checkpoint cosigned by its witness policy's quorum yet (/v1/tlog/checkpoint answered 503)".into(),
            }));
        }
        bail!("--quorum needs a cosigned checkpoint to rely on: give --checkpoint FILE (as /v1/tlog/checkpoint serves it)");
    }

    let mut auditor = Auditor::new(ledger_key);
    let older_size = match &older {
        Some(text) => Some(checkpoint_size(text)?),
        None => None,
    };
    if let Some(m) = older_size {
        auditor.remember_root_at(m);
    }
    let cosigned_size = match &cosigned {
        Some(text) => Some(checkpoint_size(text)?),
        None => None,
    };
    if let Some(s) = cosigned_size {
        auditor.remember_root_at(s);
    }
    if matches!(source, Source::Db(_)) {
        auditor.keep_container_steps();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} entries {per_sec} eta {eta}")
            .expect("a valid template"),
    );
    // Two stages overlap: while one run of entries is applied in order on this thread, the
    // next is read, and its lines, shapes and signatures are checked on the other cores.
    type Job = tokio::task::JoinHandle<Vec<Item>>;
    let prepare = |run: Run| -> Job {
        tokio::task::spawn_blocking(move || {
            let mut items = run.read();
            crate::protocol::event::verify_shaped(items.iter_mut().filter_map(|i| match i {
                Item::Entry(_, _, shaped) => Some(shaped),
                _ => None,
            }));
            items
        })
    };
    let mut read = 0;
    let mut ahead: Option<Job> = None;
    loop {
        // A reading error is reported only once the entries before it have been checked, so
        // that the first bad entry is the one named.
        let next = match source.next(read, &claim).await {
            Ok(v) if v.is_empty() => None,
            Ok(v) => {
                read += v.len() as u64;
                Some(Ok(prepare(v)))
            }
            Err(e) => Some(Err(e)),
        };
        if let Some(job) = ahead.take() {
            let items = job.await.context("checking shapes and signatures")?;
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                // The entries up to the next line that is not one, applied as one run.
                let mut chunk = Vec::new();
                let mut shaped = Vec::new();
                while let Some(Item::Entry(..)) = items.peek() {
                    if let Some(Item::Entry(e, h, p)) = items.next() {
                        chunk.push((e, h));
                        shaped.push(p);
                    }
                }
                if !chunk.is_empty() {
                    if let Err(f) = auditor.apply(&chunk, shaped) {
                        bar.abandon();
                        return Ok(Some(f));
                    }
                    if let Source::Db(store) = &source {
                        if let Some(f) = compare_history(store, &chunk).await? {
                            bar.abandon();
                            return Ok(Some(f));
                        }
                        let steps = auditor.take_container_steps();
                        if let Some(f) = compare_trace(store, &chunk, steps).await? {
                            bar.abandon();
                            return Ok(Some(f));
                        }
                    }
                }
                match items.next() {
                    Some(Item::Checkpoint(text)) => claim = Claim::Checkpoint(text),
                    Some(Item::Bad(reason)) => {
                        bar.abandon();
                        bail!("line after entry {}: {reason}", auditor.size());
                    }
                    _ => {}
                }
            }
            bar.set_position(auditor.size());
        }
        match next {
            None => break,
            Some(Err(e)) => return Err(e),
            Some(Ok(job)) => ahead = Some(job),
        }
    }
    bar.finish_and_clear();

    let size = auditor.size();
    let at_end = |reason: String| Finding { seq: size, reason };
    let origin = auditor.state().origin.clone().unwrap_or_default();
    if size == 0 {
        return Ok(Some(at_end("the ledger is empty: no genesis".into())));
    }
    match &claim {
        Claim::Head { size: s, root } => {
            if *s != size {
                return Ok(Some(at_end(format!(
                    "the database's head says {s} entries, it holds {size}"
                ))));
            }
            if *root != auditor.root() {
                return Ok(Some(at_end(
                    "the database's stored root is not the root of its entries".into(),
                )));
            }
        }
        Claim::Checkpoint(text) => {
            let cp = match Checkpoint::open(text, &origin, &verifying) {
                Ok(cp) => cp,
                Err(e) => return Ok(Some(at_end(format!("the checkpoint does not verify: {e}")))),
            };
            if cp.size != size || cp.root != auditor.root() {
                return Ok(Some(at_end(format!(
                    "the checkpoint (size {}) does not match the entries (size {size})",
                    cp.size
                ))));
            }
        }
        Claim::Nothing => {
            return Ok(Some(at_end(
                "the export ends without its checkpoint line: it is truncated".into(),
            )))
        }
    }
    // Nothing is printed as holding until every check has passed.
    let mut holds = Vec::new();
    if let (Some(text), Some(m)) = (&older, older_size) {
        let cp = match Checkpoint::open(text, &origin, &verifying) {
            Ok(cp) => cp,
            Err(e) => {
                return Ok(Some(at_end(format!(
                    "the older checkpoint does not verify: {e}"
                ))))
            }
        };
        if m > size || auditor.root_at(m) != Some(cp.root) {
            return Ok(Some(at_end(format!(
                "the ledger does not extend the older checkpoint of size {m}"
            ))));
        }
        holds.push(format!("extends the older checkpoint of size {m}"));
        if let Source::Url(reader) = &source {
            // The replay has proved the extension; the service's own proof must agree with it.
            // Proofs are public: no token needed.
            if let Err(reason) =
                service_consistency(reader.base(), m, size, &cp.root, &auditor.root())
            {
                return Ok(Some(at_end(reason)));
            }
            if m > 0 {
                holds.push(format!(
                    "the service's consistency proof from size {m} to {size} verifies"
                ));
            }
        }
    }
    if let (Some(text), Some(s)) = (&cosigned, cosigned_size) {
        let cp = match Checkpoint::open(text, &origin, &verifying) {
            Ok(cp) => cp,
            Err(e) => {
                return Ok(Some(at_end(format!(
                    "the service's cosigned checkpoint does not verify: {e}"
                ))))
            }
        };
        if s > size || auditor.root_at(s) != Some(cp.root) {
            return Ok(Some(at_end(format!(
                "the service's cosigned checkpoint of size {s} is not a prefix of its entries"
            ))));
        }
        holds.push(format!(
            "the cosigned checkpoint (/v1/tlog/checkpoint) of size {s} is the root of the first {s} entries"
        ));
        if s < size {
            holds.push(format!("entries {s} to {} are not yet witnessed", size - 1));
        }
    }
    if !args.witnesses.is_empty() {
        let text = relied.as_deref().unwrap_or_default();
        match super::verify_proof::witness_quorum(text, &args.witnesses, args.quorum) {
            Ok(found) => holds.push(format!("the checkpoint relied on is {found}")),
            Err(reason) => return Ok(Some(at_end(reason))),
        }
    }
    if let Source::Db(store) = &source {
        // The stored tree nodes, from which proofs and older checkpoints are built.
        let ids = crate::protocol::merkle::root_nodes(size);
        let nodes = store.tree_nodes(&ids).await?;
        let stored_root = crate::protocol::merkle::root_from(size, |id| nodes.get(&id).copied());
        if stored_root.ok() != Some(auditor.root()) {
            return Ok(Some(at_end(
                "the stored tree nodes do not give the root of the entries".into(),
            )));
        }
        if let Some(f) = compare_projections(store, &auditor).await? {
            return Ok(Some(f));
        }
        holds.push("query tables equal a replay of the ledger".to_owned());
    }
    println!("ok: {size} entries; sequence, chain, signatures and rules hold");
    println!("origin: {origin}");
    println!("root: {}", hex::encode(auditor.root()));
    for line in holds {
        println!("{line}");
    }
    print_oversight(auditor.state(), auditor.last_recorded());
    Ok(None)
}

/// The service's cosigned checkpoint (§5a), or `None` when no size meets its witness policy's
/// quorum yet (503) or the service predates witnesses (404).
fn cosigned_checkpoint(base: &str) -> anyhow::Result<Option<String>> {
    let url = format!("{}/v1/tlog/checkpoint", base.trim_end_matches('/'));
    match ureq::get(&url).call() {
        Ok(r) => Ok(Some(r.into_string()?)),
        Err(ureq::Error::Status(503 | 404, _)) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("GET {url}: {e}")),
    }
}

/// `--proof-only`: the service's latest checkpoint, signed by the ledger key, extends the older
/// checkpoint, by the service's consistency proof between the two. Returns the first failure.
fn extension_only(args: &VerifyArgs) -> anyhow::Result<Option<String>> {
    let verifying = args.ledger_key()?;
    let older = args
        .older_checkpoint()?
        .expect("clap requires --checkpoint with --proof-only");
    let base = args.url.as_deref().expect("clap requires --url");
    // The origin is the note's first line; opening the note checks it is the key's name.
    let origin = older.lines().next().unwrap_or_default();
    let old = match Checkpoint::open(&older, origin, &verifying) {
        Ok(cp) => cp,
        Err(e) => return Ok(Some(format!("the older checkpoint does not verify: {e}"))),
    };
    let latest = client::get(base, "/v1/checkpoint", None)?;
    let new = match Checkpoint::open(&latest, origin, &verifying) {
        Ok(cp) => cp,
        Err(e) => {
            return Ok(Some(format!(
                "the service's latest checkpoint does not verify: {e}"
            )))
        }
    };
    let (m, n) = (old.size, new.size);
    if m > n {
        return Ok(Some(format!(
            "the service's latest checkpoint (size {n}) is smaller than the older one (size {m})"
        )));
    }
    if m == n && old.root != new.root {
        return Ok(Some(format!(
            "the service's latest checkpoint has another root at the same size {m}"
        )));
    }
    if let Err(reason) = service_consistency(base, m, n, &old.root, &new.root) {
        return Ok(Some(reason));
    }
    println!("ok: the ledger {origin} of size {n} extends the older checkpoint of size {m}");
    println!("root: {}", hex::encode(new.root));
    println!("latest checkpoint:");
    print!("{latest}");
    Ok(None)
}

/// Fetches the service's consistency proof from `m` to `n` and checks it against the older
/// checkpoint's root and the root recomputed from the entries. Every tree extends the empty
/// one, for which there is no proof to ask.
fn service_consistency(
    base: &str,
    m: u64,
    n: u64,
    root_m: &Hash,
    root_n: &Hash,
) -> Result<(), String> {
    if m == 0 {
        return Ok(());
    }
    let what = format!("the service's consistency proof from size {m} to {n}");
    let text = client::get(
        base,
        &format!("/v1/proofs/consistency?from={m}&to={n}"),
        None,
    )
    .map_err(|e| format!("{what} could not be fetched: {e:#}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{what} is not JSON: {e}"))?;
    if v["from"].as_u64() != Some(m) || v["to"].as_u64() != Some(n) {
        return Err(format!(
            "{what} is for other sizes ({} to {})",
            v["from"], v["to"]
        ));
    }
    let hash = |field: &str| {
        v[field]
            .as_str()
            .and_then(parse_hex::<32>)
            .ok_or_else(|| format!("{what} has no valid {field}"))
    };
    if hash("root_from")? != *root_m {
        return Err(format!(
            "{what} states a root_from that is not the older checkpoint's root"
        ));
    }
    if hash("root_to")? != *root_n {
        return Err(format!(
            "{what} states a root_to that is not the root of the entries"
        ));
    }
    let proof = v["proof"]
        .as_array()
        .ok_or_else(|| format!("{what} has no proof list"))?
        .iter()
        .map(|h| h.as_str().and_then(parse_hex::<32>))
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| format!("{what} holds a hash that is not 64 hex characters"))?;
    crate::protocol::merkle::verify_consistency(m, n, root_m, root_n, &proof)
        .map_err(|e| format!("{what} does not verify: {e}"))
}

/// Prints the proper-disposal rate recomputed from the entries, and the conditions that still
/// await an automatic ticket.
fn print_oversight(
    state: &crate::domain::state::State,
    last: Option<crate::protocol::time::Timestamp>,
) {
    use crate::domain::oversight::RateFilter;
    use crate::protocol::time;
    if let Some(t) = last {
        let f = state.disposal_figures(t, &RateFilter::default());
        let rate = f.rate.map_or("none (nothing counted yet)".to_owned(), |r| {
            format!("{:.4}%", r * 100.0)
        });
        println!(
            "proper-disposal rate as of the last entry ({}): {rate}",
            time::format_millis(t)
        );
        println!(
            "  proper {} g, improper {} g, pending {} g, stored {} g",
            f.proper_g, f.improper_g, f.pending_g, f.stored_g
        );
        println!("  of the proper, treated on site {} g", f.treated_onsite_g);
        for (kind, g) in &f.improper_by_kind {
            println!("  improper {kind}: {g} g");
        }
        for (kind, n) in &f.compliance_by_kind {
            println!("  compliance {kind}: {n}");
        }
    }
    let now = time::truncate_millis(chrono::Utc::now());
    let waiting = state.overdue_tickets(now);
    println!(
        "conditions awaiting an automatic ticket now: {}",
        waiting.len()
    );
    for t in waiting.iter().take(50) {
        println!(
            "  {} {} {} g since {}",
            t.kind.as_str(),
            t.subject,
            t.quantity_g,
            time::format_timestamp(t.at)
        );
    }
}

/// The fields of an event that its manifest history row repeats, read without building the
/// event's JSON value (the entries were parsed strictly when they were checked).
#[derive(serde::Deserialize)]
struct HistoryFields<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    at: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    body: Option<HistoryBody<'a>>,
}

#[derive(serde::Deserialize)]
struct HistoryBody<'a> {
    #[serde(borrow)]
    manifest: Option<std::borrow::Cow<'a, str>>,
}

/// Compares the manifest history rows of a run of entries with the entries themselves.
///
/// The run's rows are compared as one text the database renders (`history_text`); only when
/// that differs are they read row by row, to name the first entry that differs.
async fn compare_history(
    store: &Store,
    chunk: &[(Entry, Option<Hash>)],
) -> anyhow::Result<Option<Finding>> {
    let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
        return Ok(None);
    };
    let mut expected = Vec::new();
    for (e, stated) in chunk {
        let event: HistoryFields = serde_json::from_str(&e.event_jcs)
            .with_context(|| format!("entry {}: reading its event", e.seq))?;
        if !event.kind.starts_with("manifest.") {
            continue;
        }
        let manifest = event
            .body
            .and_then(|b| b.manifest)
            .and_then(|m| uuid::Uuid::parse_str(&m).ok());
        expected.push((
            manifest,
            HistoryItem {
                seq: e.seq,
                kind: event.kind.into_owned(),
                at: event.at.into_owned(),
                recorded_at: e.recorded_at.clone(),
                hash: hex::encode(stated.unwrap_or_else(|| e.hash())),
            },
        ));
    }
    let (from, to) = (first.0.seq, last.0.seq + 1);
    if store.history_text_between(from, to).await? == history_text(&expected) {
        return Ok(None);
    }
    let stored = store.history_between(from, to).await?;
    let stored: Vec<(Option<uuid::Uuid>, HistoryItem)> =
        stored.into_iter().map(|(m, h)| (Some(m), h)).collect();
    Ok(
        first_difference(&stored, &expected, |r| r.1.seq).map(|seq| Finding {
            seq,
            reason: "the manifest_history table differs from the ledger here".into(),
        }),
    )
}

/// Compares the container trace rows of a run of entries with those the entries call for, as
/// one text first and row by row only when that differs (see `compare_history`).
async fn compare_trace(
    store: &Store,
    chunk: &[(Entry, Option<Hash>)],
    mut expected: Vec<crate::store::ContainerStep>,
) -> anyhow::Result<Option<Finding>> {
    let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
        return Ok(None);
    };
    let (from, to) = (first.0.seq, last.0.seq + 1);
    expected.sort_by(|a, b| (a.seq, &a.container).cmp(&(b.seq, &b.container)));
    if store.container_trace_text_between(from, to).await? == trace_text(&expected) {
        return Ok(None);
    }
    let stored = store.container_trace_between(from, to).await?;
    Ok(
        first_difference(&stored, &expected, |s| s.seq).map(|seq| Finding {
            seq,
            reason: "the container_trace table differs from the ledger here".into(),
        }),
    )
}

/// The seq of the first row where two lists of rows in seq order differ (a row only one of
/// them has counts), or `None` when they are equal.
fn first_difference<T: PartialEq>(
    stored: &[T],
    expected: &[T],
    seq: impl Fn(&T) -> u64,
) -> Option<u64> {
    if stored == expected {
        return None;
    }
    let differs = stored.iter().zip(expected).find(|(a, b)| a != b);
    Some(match differs {
        Some((a, b)) => seq(a).min(seq(b)),
        // Equal as far as both go: the first row past the shorter list.
        None => seq(stored
            .get(expected.len())
            .unwrap_or_else(|| &expected[stored.len()])),
    })
}

/// Compares the database's query tables with the state recomputed from the entries.
async fn compare_projections(store: &Store, auditor: &Auditor) -> anyhow::Result<Option<Finding>> {
    let state = auditor.state();
    let at_end = |reason: String| Finding {
        seq: auditor.size(),
        reason,
    };
    let mut expected: Vec<&String> = state.orgs.keys().collect();
    expected.sort();
    let stored = store.all_org_ids().await?;
    if stored.iter().collect::<Vec<_>>() != expected {
        return Ok(Some(at_end(
            "the orgs table does not list the registered organisations".into(),
        )));
    }
    for org in expected {
        if store.org(org).await? != OrgView::from_state(state, org) {
            return Ok(Some(at_end(format!(
                "the orgs table differs from the ledger for {org}"
            ))));
        }
    }
    let counts = store.projection_counts().await?;
    let want = [
        state.orgs.len() as u64,
        state.licences.len() as u64,
        state.lots.len() as u64,
        state.manifests.len() as u64,
    ];
    let tables = ["orgs", "licences", "lots", "manifests"];
    for ((table, got), want) in tables.iter().zip(counts).zip(want) {
        if got != want {
            return Ok(Some(at_end(format!(
                "the {table} table has {got} rows, the ledger {want}"
            ))));
        }
    }
    for l in store.licences(None).await? {
        if state.licences.get(&l.license).map(LicenceView::of).as_ref() != Some(&l) {
            return Ok(Some(at_end(format!(
                "the licences table differs from the ledger for {}",
                l.license
            ))));
        }
    }
    let mut generators: Vec<&String> = state.lots.values().map(|l| &l.generator).collect();
    generators.sort();
    generators.dedup();
    for g in generators {
        let mut after = None;
        loop {
            let page = store.lots(g, true, after.as_ref(), 1000).await?;
            for lot in &page {
                let want = state
                    .lots
                    .get(&crate::domain::stock::LotKey::new(lot.seq, &lot.code))
                    .filter(|l| &l.generator == g);
                if want.map(|l| LotView::of_state(state, l)).as_ref() != Some(lot) {
                    return Ok(Some(at_end(format!(
                        "the lots table differs from the ledger for lot {}",
                        lot.seq
                    ))));
                }
            }
            match page.last() {
                Some(l) if page.len() == 1000 => after = Some(LotCursor::of(l)),
                _ => break,
            }
        }
    }
    let mut filter = ManifestFilter {
        limit: 1000,
        ..Default::default()
    };
    loop {
        let page = store.manifests(&filter).await?;
        for m in &page {
            let mut want = state
                .manifests
                .get(&m.manifest)
                .map(|x| ManifestView::of(state, x));
            // Rows written before storings existed lack a line's `origin` and `onward`.
            if let Some(w) = &mut want {
                for (wl, rl) in w.lines.iter_mut().zip(&m.lines) {
                    if rl.origin.is_none() {
                        wl.origin = None;
                        wl.onward = None;
                    }
                }
            }
            if want.as_ref() != Some(m) {
                return Ok(Some(at_end(format!(
                    "the manifests table differs from the ledger for {}",
                    m.manifest
                ))));
            }
        }
        match page.last() {
            Some(m) if page.len() == 1000 => filter.after = Some(m.opened_seq),
            _ => break,
        }
    }
    // Tickets: every row (with its history's seqs) equals the replay's, there are as many rows
    // as tickets and history rows as ticket events, and each history row agrees with its entry.
    // One day serves both sides, so `overdue` cannot differ across midnight.
    let today = crate::protocol::time::cst_date(chrono::Utc::now());
    let mut filter = crate::store::TicketFilter {
        limit: 1000,
        ..Default::default()
    };
    loop {
        let page = store.tickets(&filter, today).await?;
        for t in &page {
            if !t.equals_replay(state, today) {
                return Ok(Some(at_end(format!(
                    "the tickets table differs from the ledger for {}",
                    t.ticket
                ))));
            }
        }
        match page.last() {
            Some(t) if page.len() == 1000 => filter.after = Some(t.opened_seq),
            _ => break,
        }
    }
    let (tickets, history) = store.ticket_counts().await?;
    let events: usize = state.tickets.values().map(|t| t.history.len()).sum();
    if (tickets, history) != (state.tickets.len() as u64, events as u64) {
        return Ok(Some(at_end(format!(
            "the tickets tables have {tickets} tickets and {history} history rows, the ledger {} and {events}",
            state.tickets.len()
        ))));
    }
    // Containers: as many rows as containers (each lot's, with its status, are compared with
    // the lots above).
    let containers = store.container_count().await?;
    if containers != state.containers.len() as u64 {
        return Ok(Some(at_end(format!(
            "the containers table has {containers} rows, the ledger {}",
            state.containers.len()
        ))));
    }
    // Each container's row lists the seqs of its trace rows, by which its trace is read.
    if let Some(id) = store.container_trace_seqs_mismatch().await? {
        return Ok(Some(at_end(format!(
            "the containers table lists other trace steps for {id} than the container_trace table holds"
        ))));
    }
    // Facilities (with their yearly treated quantities) and on-site treatments.
    let (facilities, treatments) = store.facility_counts().await?;
    if (facilities, treatments) != (state.facilities.len() as u64, state.treatments.len() as u64) {
        return Ok(Some(at_end(format!(
            "the facilities and treatments tables have {facilities} and {treatments} rows, the ledger {} and {}",
            state.facilities.len(),
            state.treatments.len()
        ))));
    }
    for f in state.facilities.values() {
        let years: Vec<i32> = f.treated.keys().copied().chain([0]).collect();
        for year in years {
            let want = crate::store::FacilityView::of(f, year);
            if store.facility(&f.org, &f.facility, year).await?.as_ref() != Some(&want) {
                return Ok(Some(at_end(format!(
                    "the facilities table differs from the ledger for {} of {}",
                    f.facility, f.org
                ))));
            }
        }
    }
    let mut after = None;
    loop {
        let page = store.treatments(after, 1000).await?;
        for t in &page {
            let want = state
                .treatments
                .get(&t.seq)
                .map(crate::store::TreatmentView::of);
            if want.as_ref() != Some(t) {
                return Ok(Some(Finding {
                    seq: t.seq,
                    reason: "the treatments table differs from the ledger here".into(),
                }));
            }
        }
        match page.last() {
            Some(t) if page.len() == 1000 => after = Some(t.seq),
            _ => break,
        }
    }
    if let Some(seq) = store.ticket_history_mismatch().await? {
        return Ok(Some(Finding {
            seq,
            reason: "the ticket_history table differs from the ledger here".into(),
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use serde_json::json;

    use super::*;
    use crate::protocol::merkle::{self, Frontier, NodeId};

    /// Serves `body` as the answer to each of `count` requests; returns the base URL.
    fn canned(body: String, count: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(count) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        base
    }

    #[test]
    fn the_service_consistency_proof_is_checked_against_both_roots() {
        let mut frontier = Frontier::new();
        let mut nodes = std::collections::HashMap::<NodeId, Hash>::new();
        for i in 0u8..11 {
            nodes.extend(frontier.push(merkle::leaf_hash(&[i; 32])));
        }
        let get = |id| nodes.get(&id).copied();
        let (m, n) = (6, 11);
        let root_m = merkle::root_from(m, get).unwrap();
        let root_n = merkle::root_from(n, get).unwrap();
        let proof: Vec<String> = merkle::consistency_proof(m, n, get)
            .unwrap()
            .into_iter()
            .map(hex::encode)
            .collect();
        let answer = |proof: &[String], root_from: &Hash, root_to: &Hash| {
            json!({"from": m, "to": n, "root_from": hex::encode(root_from),
                   "root_to": hex::encode(root_to), "proof": proof})
            .to_string()
        };
        let good = canned(answer(&proof, &root_m, &root_n), 1);
        assert_eq!(service_consistency(&good, m, n, &root_m, &root_n), Ok(()));

        let mut bad = proof.clone();
        bad[1] = hex::encode([9u8; 32]);
        let base = canned(answer(&bad, &root_m, &root_n), 1);
        let e = service_consistency(&base, m, n, &root_m, &root_n).unwrap_err();
        assert!(e.contains("from size 6 to 11 does not verify"), "{e}");

        let base = canned(answer(&proof, &root_n, &root_n), 1);
        let e = service_consistency(&base, m, n, &root_m, &root_n).unwrap_err();
        assert!(
            e.contains("root_from that is not the older checkpoint's"),
            "{e}"
        );

        let base = canned(answer(&proof, &root_m, &root_m), 1);
        let e = service_consistency(&base, m, n, &root_m, &root_n).unwrap_err();
        assert!(
            e.contains("root_to that is not the root of the entries"),
            "{e}"
        );

        let base = canned(answer(&proof, &root_m, &root_n), 1);
        let e = service_consistency(&base, m, n + 1, &root_m, &root_n).unwrap_err();
        assert!(e.contains("is for other sizes"), "{e}");

        // Nothing to ask for the empty tree, so no request is made.
        assert_eq!(
            service_consistency("http://127.0.0.1:9", 0, n, &root_m, &root_n),
            Ok(())
        );
    }
}
