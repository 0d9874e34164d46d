//! Oversight with the full ledger: the simulation's own computation of the automatic tickets
//! (spec §7) and of the proper-disposal rate (§8), one timed sweep, `GET /v1/stats/disposal`
//! under load with each filter, and `hwledger verify` on the whole database.
//!
//! The expected figures are computed here from the simulated mix alone, in the order the
//! ledger sequenced it (the seqs the batch answers gave), without the service's code, so that
//! a wrong figure from the endpoint, the sweep or `verify` fails the bench.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::process::Stdio;

use chrono::NaiveDate;

use super::*;

/// The kinds of improper handling in the order of §7, as the bench indexes them.
pub(super) const KINDS: [&str; 6] = [
    "quantity_shortfall",
    "unlicensed_receipt",
    "unlicensed_handling",
    "transit_overdue",
    "disposal_overdue",
    "storage_overdue",
];
const SHORTFALL: usize = 0;
const RECEIPT: usize = 1;
const HANDLING: usize = 2;
const TRANSIT: usize = 3;
const DISPOSAL: usize = 4;
const STORAGE: usize = 5;

type Ts = time::Timestamp;

/// Grams by class, as the figures of §8 have them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Sums {
    /// Proper grams, those treated on site included.
    proper: i64,
    /// Of which treated on site (`treated_onsite_g`).
    treated: i64,
    pending: i64,
    stored: i64,
    improper: [i64; 6],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Proper,
    /// Treated on site: proper, and also counted apart.
    Treated,
    Pending,
    Stored,
    Improper(usize),
}

impl Sums {
    fn add(&mut self, class: Class, q: i64) {
        match class {
            Class::Proper => self.proper += q,
            Class::Treated => {
                self.proper += q;
                self.treated += q;
            }
            Class::Pending => self.pending += q,
            Class::Stored => self.stored += q,
            Class::Improper(k) => self.improper[k] += q,
        }
    }
    fn plus(mut self, o: &Sums) -> Sums {
        self.proper += o.proper;
        self.treated += o.treated;
        self.pending += o.pending;
        self.stored += o.stored;
        for (a, b) in self.improper.iter_mut().zip(o.improper) {
            *a += b;
        }
        self
    }
    fn improper_g(&self) -> i64 {
        self.improper.iter().sum()
    }
    fn rate(&self) -> Option<f64> {
        let total = self.proper + self.improper_g();
        (total > 0).then(|| self.proper as f64 / total as f64)
    }
    pub(super) fn describe(&self) -> String {
        format!(
            "proper {} g (treated on site {} g), improper {} g ({}), pending {} g, stored {} g, rate {}",
            self.proper,
            self.treated,
            self.improper_g(),
            KINDS
                .iter()
                .zip(self.improper)
                .map(|(k, g)| format!("{k} {g}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.pending,
            self.stored,
            self.rate()
                .map_or("null".to_owned(), |r| format!("{:.4} %", 100.0 * r))
        )
    }
}

/// One quantity the rate counts: a manifest line picked up, or what remains of a lot.
struct Contribution {
    generator: usize,
    date: NaiveDate,
    category: u8,
    quantity_g: i64,
    class: Class,
    /// When it turns improper, and as what.
    deadline: Option<(Ts, usize)>,
}

impl Contribution {
    fn class_at(&self, t: Ts) -> Class {
        match self.deadline {
            Some((d, k)) if d < t => Class::Improper(k),
            _ => self.class,
        }
    }
}

fn category_of(waste: usize) -> u8 {
    let code = WASTES[waste].code.as_bytes();
    (code[8] - b'0') * 10 + (code[9] - b'0')
}

/// What the simulation expects of the ledger once the mix is in.
pub(super) struct Expected {
    contributions: Vec<Contribution>,
    /// Automatic tickets the mix's own events called for, by kind.
    pub(super) caused: [usize; 6],
    /// Deadlines a sweep would act on, by kind: manifests still picked up or received, and
    /// lots with something left.
    watched: Vec<(Ts, usize)>,
}

/// A generator's lots of one code with something left, by (date, seq, lot).
type LotQueue = BTreeSet<(NaiveDate, u64, usize)>;

struct LotState {
    generator: usize,
    waste: usize,
    date: NaiveDate,
    remaining: i64,
    reserved: i64,
    /// Made of containers: taken only by naming them, never from the FIFO queue.
    containers: bool,
}

#[derive(Default)]
struct ManifestState {
    status: Option<Step>,
    /// Per line: (lot, grams) reserved, oldest lot first.
    allocation: Vec<Vec<(usize, i64)>>,
    picked: Option<Ts>,
    received: Option<Ts>,
    receipt_covered: bool,
    handling_covered: bool,
}

impl Expected {
    /// Replays the simulated mix in ledger order (`seqs[i]` is the seq of mix event `i`) under
    /// the rules of §6–§8 as the bench understands them.
    pub(super) fn compute(work: &Workload, seqs: &[u64]) -> Expected {
        let (mix, clock) = (&work.mix, &work.clock);
        let limits = work
            .limits
            .genesis_limits(hwledger::protocol::time::cst_date(chrono::Utc::now()));
        let secs = chrono::Duration::seconds;
        let mut order: Vec<usize> = (0..mix.events.len()).collect();
        order.sort_by_key(|&i| seqs[i]);

        let mut lots: HashMap<usize, LotState> = HashMap::new();
        // Per (generator, waste): lots with something left, by (date, seq).
        let mut queues: HashMap<(usize, usize), LotQueue> = HashMap::new();
        let mut manifests: Vec<ManifestState> = (0..mix.plans.len())
            .map(|_| ManifestState::default())
            .collect();
        let mut suspended: HashSet<usize> = HashSet::new();
        let mut caused = [0usize; 6];
        let mut treatments: Vec<Contribution> = Vec::new();

        for &i in &order {
            let at = clock.at(i);
            match mix.events[i] {
                Ev::Declared {
                    generator,
                    waste,
                    quantity_g,
                    lot,
                } => {
                    let date = lot.map_or(time::cst_date(at), |l| mix.date_of(l.day));
                    let containers = lot.is_some_and(|l| l.containers > 0);
                    lots.insert(
                        i,
                        LotState {
                            generator,
                            waste,
                            date,
                            remaining: quantity_g,
                            reserved: 0,
                            containers,
                        },
                    );
                    if !containers {
                        queues
                            .entry((generator, waste))
                            .or_default()
                            .insert((date, seqs[i], i));
                    }
                }
                Ev::Treated {
                    generator,
                    waste,
                    quantity_g,
                    day,
                    lot,
                } => {
                    let date = mix.date_of(day);
                    let taken: Vec<(usize, i64)> = match lot {
                        // Its containers, all back in stock.
                        Some(lot) => vec![(lot, quantity_g)],
                        // Container-less stock dated on or before the treatment, oldest first.
                        None => {
                            let mut left = quantity_g;
                            let mut taken = Vec::new();
                            for &(d, _, lot) in queues.entry((generator, waste)).or_default().iter()
                            {
                                if left == 0 || d > date {
                                    break;
                                }
                                let s = &lots[&lot];
                                let take = (s.remaining - s.reserved).min(left);
                                if take > 0 {
                                    left -= take;
                                    taken.push((lot, take));
                                }
                            }
                            assert_eq!(left, 0, "the simulation treated without stock");
                            taken
                        }
                    };
                    for (lot, q) in taken {
                        let s = lots.get_mut(&lot).expect("treated lots exist");
                        assert!(
                            s.remaining - s.reserved >= q,
                            "treated more than the lot has"
                        );
                        s.remaining -= q;
                        if s.remaining == 0 && !s.containers {
                            queues
                                .get_mut(&(s.generator, s.waste))
                                .expect("a queue")
                                .remove(&(s.date, seqs[lot], lot));
                        }
                    }
                    treatments.push(Contribution {
                        generator,
                        date,
                        category: category_of(waste),
                        quantity_g,
                        class: Class::Treated,
                        deadline: None,
                    });
                }
                Ev::Licence { receiver, suspend } => {
                    if suspend {
                        suspended.insert(receiver);
                    } else {
                        suspended.remove(&receiver);
                    }
                }
                Ev::Manifest { plan, step } => {
                    let p = &mix.plans[plan];
                    let m = &mut manifests[plan];
                    m.status = Some(step);
                    match step {
                        Step::Open => {
                            for l in &p.lines {
                                if let Some(lot) = l.lot {
                                    // Every container of the line's own lot.
                                    let s = lots.get_mut(&lot).expect("declared before");
                                    assert_eq!(s.remaining - s.reserved, l.quantity_g);
                                    s.reserved += l.quantity_g;
                                    m.allocation.push(vec![(lot, l.quantity_g)]);
                                    continue;
                                }
                                let queue = queues.entry((p.generator, l.waste)).or_default();
                                let mut left = l.quantity_g;
                                let mut taken = Vec::new();
                                for &(_, _, lot) in queue.iter() {
                                    if left == 0 {
                                        break;
                                    }
                                    let s = lots.get_mut(&lot).expect("queued lots exist");
                                    let take = (s.remaining - s.reserved).min(left);
                                    if take > 0 {
                                        s.reserved += take;
                                        left -= take;
                                        taken.push((lot, take));
                                    }
                                }
                                assert_eq!(left, 0, "the simulation opened without stock");
                                m.allocation.push(taken);
                            }
                        }
                        Step::Cancel => {
                            for &(lot, q) in m.allocation.iter().flatten() {
                                lots.get_mut(&lot).expect("allocated").reserved -= q;
                            }
                        }
                        Step::PickUp => {
                            m.picked = Some(at);
                            for &(lot, q) in m.allocation.iter().flatten() {
                                let s = lots.get_mut(&lot).expect("allocated");
                                s.reserved -= q;
                                s.remaining -= q;
                                if s.remaining == 0 && !s.containers {
                                    queues
                                        .get_mut(&(s.generator, s.waste))
                                        .expect("a queue")
                                        .remove(&(s.date, seqs[lot], lot));
                                }
                            }
                        }
                        Step::Reject => {
                            for &(lot, q) in m.allocation.iter().flatten() {
                                let s = lots.get_mut(&lot).expect("allocated");
                                s.remaining += q;
                                if !s.containers {
                                    queues
                                        .entry((s.generator, s.waste))
                                        .or_default()
                                        .insert((s.date, seqs[lot], lot));
                                }
                            }
                            let picked = m.picked.expect("picked up before rejected");
                            if at > picked + secs(limits.transit_s) {
                                caused[TRANSIT] += 1;
                            }
                        }
                        Step::Receive => {
                            m.received = Some(at);
                            m.receipt_covered = !suspended.contains(&p.receiver);
                            let bp = i128::from(limits.shortfall_bp);
                            // Beyond tolerance, or a container counted 0.
                            let short = p.lines.iter().any(|l| {
                                let s = l.quantity_g - l.received_g.min(l.quantity_g);
                                (s > 0 && i128::from(s) * 10_000 > i128::from(l.quantity_g) * bp)
                                    || l.missing.is_some()
                            });
                            if short {
                                caused[SHORTFALL] += 1;
                            }
                            if !m.receipt_covered {
                                caused[RECEIPT] += 1;
                            }
                            let picked = m.picked.expect("picked up before received");
                            if at > picked + secs(limits.transit_s) {
                                caused[TRANSIT] += 1;
                            }
                        }
                        Step::Dispose => {
                            m.handling_covered = !suspended.contains(&p.receiver);
                            if !m.handling_covered {
                                caused[HANDLING] += 1;
                            }
                            let received = m.received.expect("received before disposed");
                            if at > received + secs(limits.disposal_s) {
                                caused[DISPOSAL] += 1;
                            }
                        }
                    }
                }
            }
        }

        let mut contributions = treatments;
        let mut watched = Vec::new();
        let bp = i128::from(limits.shortfall_bp);
        for (p, m) in mix.plans.iter().zip(&manifests) {
            let Some(picked) = m.picked else { continue };
            let status = m.status.expect("picked up");
            if status == Step::Reject {
                continue;
            }
            let date = time::cst_date(picked);
            let transit_deadline = picked + secs(limits.transit_s);
            let disposal_deadline = m.received.map(|r| r + secs(limits.disposal_s));
            match status {
                Step::PickUp => watched.push((transit_deadline, TRANSIT)),
                Step::Receive => watched.push((disposal_deadline.expect("received"), DISPOSAL)),
                _ => {}
            }
            for l in &p.lines {
                let c =
                    |quantity_g: i64, class: Class, deadline: Option<(Ts, usize)>| Contribution {
                        generator: p.generator,
                        date,
                        category: category_of(l.waste),
                        quantity_g,
                        class,
                        deadline,
                    };
                let q = l.quantity_g;
                if status == Step::PickUp {
                    contributions.push(c(q, Class::Pending, Some((transit_deadline, TRANSIT))));
                    continue;
                }
                let counted = l.received_g.min(q);
                let short = q - counted;
                if short > 0
                    && (i128::from(short) * 10_000 > i128::from(q) * bp || l.missing.is_some())
                {
                    contributions.push(c(short, Class::Improper(SHORTFALL), None));
                }
                if counted > 0 {
                    contributions.push(if !m.receipt_covered {
                        c(counted, Class::Improper(RECEIPT), None)
                    } else if status == Step::Dispose {
                        if m.handling_covered {
                            c(counted, Class::Proper, None)
                        } else {
                            c(counted, Class::Improper(HANDLING), None)
                        }
                    } else {
                        c(
                            counted,
                            Class::Pending,
                            Some((disposal_deadline.expect("received"), DISPOSAL)),
                        )
                    });
                }
            }
        }
        for s in lots.values().filter(|s| s.remaining > 0) {
            let deadline = time::cst_day_start(s.date) + secs(limits.storage_s);
            watched.push((deadline, STORAGE));
            contributions.push(Contribution {
                generator: s.generator,
                date: s.date,
                category: category_of(s.waste),
                quantity_g: s.remaining,
                class: Class::Stored,
                deadline: Some((deadline, STORAGE)),
            });
        }
        watched.sort();
        Expected {
            contributions,
            caused,
            watched,
        }
    }

    pub(super) fn caused_total(&self) -> usize {
        self.caused.iter().sum()
    }

    /// The tickets a sweep at `now` opens, by kind (deadlines strictly before `now`).
    pub(super) fn swept_at(&self, now: Ts) -> [usize; 6] {
        let mut out = [0; 6];
        for (_, k) in self.watched.iter().take_while(|(d, _)| *d < now) {
            out[*k] += 1;
        }
        out
    }

    /// The figures at `t` for a filter, and the changes at every later deadline, so that an
    /// answer at any time from `t` on is checked exactly without summing everything again.
    fn timeline(&self, world: &World, filter: &StatsFilter, t: Ts) -> Timeline {
        let mut base = Sums::default();
        let mut later: Vec<(Ts, Class, usize, i64)> = Vec::new();
        for c in self
            .contributions
            .iter()
            .filter(|c| filter.matches(world, c))
        {
            base.add(c.class_at(t), c.quantity_g);
            if let Some((d, k)) = c.deadline {
                if d >= t {
                    later.push((d, c.class, k, c.quantity_g));
                }
            }
        }
        later.sort_by_key(|x| x.0);
        let mut running = Sums::default();
        let steps = later
            .into_iter()
            .map(|(d, class, k, q)| {
                running.add(class, -q);
                running.add(Class::Improper(k), q);
                (d, running)
            })
            .collect();
        Timeline {
            from: t,
            base,
            steps,
        }
    }
}

/// The expected figures of one filter from a time on.
struct Timeline {
    from: Ts,
    base: Sums,
    /// (deadline, change since `from` once the time is past it), by deadline.
    steps: Vec<(Ts, Sums)>,
}

impl Timeline {
    fn at(&self, t: Ts) -> anyhow::Result<Sums> {
        ensure!(
            t >= self.from,
            "an answer as of {} precedes the expectation's start",
            time::format_millis(t)
        );
        let k = self.steps.partition_point(|(d, _)| *d < t);
        Ok(match k {
            0 => self.base,
            k => self.base.plus(&self.steps[k - 1].1),
        })
    }
}

/// A selection of `GET /v1/stats/disposal` (§8 filters).
pub(super) struct StatsFilter {
    name: String,
    query: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    region: Option<String>,
    org: Option<String>,
    category: Option<u8>,
}

impl StatsFilter {
    fn new(name: &str) -> StatsFilter {
        StatsFilter {
            name: name.to_owned(),
            query: String::new(),
            from: None,
            to: None,
            region: None,
            org: None,
            category: None,
        }
    }
    fn param(mut self, key: &str, value: &str) -> StatsFilter {
        self.query.push_str(&format!(
            "{}{key}={value}",
            if self.query.is_empty() { "" } else { "&" }
        ));
        self
    }
    fn region(self, prefix: &str) -> StatsFilter {
        let mut f = self.param("region", prefix);
        f.region = Some(prefix.to_owned());
        f
    }
    fn org(self, org: &str) -> StatsFilter {
        let mut f = self.param("org", org);
        f.org = Some(org.to_owned());
        f
    }
    fn category(self, number: u8) -> StatsFilter {
        let mut f = self.param("category", &format!("HW{number:02}"));
        f.category = Some(number);
        f
    }
    fn from(self, d: NaiveDate) -> StatsFilter {
        let mut f = self.param("from", &time::format_date(d));
        f.from = Some(d);
        f
    }
    fn to(self, d: NaiveDate) -> StatsFilter {
        let mut f = self.param("to", &time::format_date(d));
        f.to = Some(d);
        f
    }
    fn path(&self) -> String {
        if self.query.is_empty() {
            "/v1/stats/disposal".into()
        } else {
            format!("/v1/stats/disposal?{}", self.query)
        }
    }
    fn matches(&self, world: &World, c: &Contribution) -> bool {
        let g = &world.generators[c.generator].party;
        self.from.is_none_or(|f| c.date >= f)
            && self.to.is_none_or(|t| c.date < t)
            && self.category.is_none_or(|k| c.category == k)
            && self.org.as_ref().is_none_or(|o| &g.org == o)
            && self
                .region
                .as_ref()
                .is_none_or(|r| g.region.starts_with(r.as_str()))
    }
}

/// The filters measured: none, each filter of §8 alone, and a combination.
fn filters(world: &World, mix: &Mix, clock: &Clock) -> Vec<StatsFilter> {
    // The busiest generator, and the CST date in the middle of the mix.
    let mut per_generator = vec![0usize; world.generators.len()];
    for p in &mix.plans {
        per_generator[p.generator] += 1;
    }
    let busiest = (0..per_generator.len())
        .max_by_key(|&g| per_generator[g])
        .unwrap_or(0);
    let g = &world.generators[busiest].party;
    let mid = time::cst_date(clock.at(mix.events.len() / 2));
    let next = mid.succ_opt().expect("a date after");
    vec![
        StatsFilter::new("(no filter)"),
        StatsFilter::new("region (4 digits)").region(&g.region[..4]),
        StatsFilter::new("region (6 digits)").region(g.region),
        StatsFilter::new("org").org(&g.org),
        StatsFilter::new("category").category(8),
        StatsFilter::new("from/to (one CST day)").from(mid).to(next),
        StatsFilter::new("region + category + from")
            .region("3205")
            .category(17)
            .from(mid),
    ]
}

#[derive(Deserialize)]
struct StatsAnswer {
    size: u64,
    as_of: String,
    proper_g: i64,
    improper_g: i64,
    pending_g: i64,
    stored_g: i64,
    treated_onsite_g: i64,
    rate: Option<f64>,
    improper_by_kind: HashMap<String, i64>,
}

impl StatsAnswer {
    fn check(&self, expect: &Sums, size: u64) -> anyhow::Result<()> {
        ensure!(
            self.size == size,
            "size {}, the ledger has {size}",
            self.size
        );
        let by_kind: Vec<i64> = KINDS
            .iter()
            .map(|k| self.improper_by_kind.get(*k).copied().unwrap_or(-1))
            .collect();
        let same_rate = match (self.rate, expect.rate()) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-12,
            (None, None) => true,
            _ => false,
        };
        ensure!(
            self.proper_g == expect.proper
                && self.treated_onsite_g == expect.treated
                && self.improper_g == expect.improper_g()
                && self.pending_g == expect.pending
                && self.stored_g == expect.stored
                && by_kind == expect.improper
                && self.improper_by_kind.len() == KINDS.len()
                && same_rate,
            "as of {}: proper {} g (treated on site {} g), improper {} g {:?}, pending {} g, stored {} g, rate {:?}; the simulation expects {}",
            self.as_of,
            self.proper_g,
            self.treated_onsite_g,
            self.improper_g,
            self.improper_by_kind,
            self.pending_g,
            self.stored_g,
            self.rate,
            expect.describe()
        );
        Ok(())
    }
}

/// `hwledger verify` on the full database.
pub(super) struct VerifyRun {
    pub(super) wall: Duration,
    pub(super) entries: u64,
    pub(super) peak_rss: u64,
    /// Its rate line, and the figures it printed, equal to the service's.
    pub(super) rate_line: String,
    pub(super) awaiting: String,
}

/// Everything this phase measured.
pub(super) struct OversightResult {
    pub(super) caused: [usize; 6],
    pub(super) swept: [usize; 6],
    pub(super) sweep: Duration,
    pub(super) second_sweep: (Duration, usize),
    pub(super) tickets_by_kind: [usize; 6],
    pub(super) ledger_size: u64,
    pub(super) head: Sums,
    pub(super) head_at: String,
    pub(super) stats: Vec<ReadPhase>,
    pub(super) stats_single: Vec<ReadPhase>,
    pub(super) verify: Result<VerifyRun, String>,
}

/// The target for `GET /v1/stats/disposal`, p99 in milliseconds.
const TARGET_STATS_MS: f64 = 50.0;

fn last_entry_time(agent: &ureq::Agent, base: &str) -> anyhow::Result<(u64, Ts)> {
    let info = get_json(agent, &format!("{base}/v1/ledger"))?;
    let size = info["size"]
        .as_u64()
        .context("GET /v1/ledger has no size")?;
    let e = get_json(agent, &format!("{base}/v1/entries/{}", size - 1))?;
    let t = e["recorded_at"]
        .as_str()
        .context("an entry without recorded_at")?;
    Ok((
        size,
        time::parse_timestamp(t).map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

/// Counts the tickets of each automatic kind by walking `GET /v1/tickets?kind=`.
fn count_tickets(agent: &ureq::Agent, base: &str) -> anyhow::Result<[usize; 6]> {
    let mut out = [0; 6];
    for (k, kind) in KINDS.iter().enumerate() {
        let mut after: Option<String> = None;
        loop {
            let mut url = format!("{base}/v1/tickets?kind={kind}&limit=1000");
            if let Some(a) = &after {
                url.push_str(&format!("&after={a}"));
            }
            let page = get_json(agent, &url)?;
            let tickets = page["tickets"].as_array().context("no tickets array")?;
            ensure!(
                tickets.iter().all(|t| t["kind"] == *kind),
                "GET /v1/tickets?kind={kind} lists another kind"
            );
            out[k] += tickets.len();
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => break,
            }
        }
    }
    Ok(out)
}

/// The sweep, the stats endpoint and `verify`, with the mix in. `sweep` runs one sweep on the
/// in-process service and returns how many tickets it opened.
pub(super) fn run(
    base: &str,
    args: &Args,
    work: &Workload,
    seqs: &[u64],
    db_url: &str,
    ledger_key_hex: &str,
    sweep: &dyn Fn() -> anyhow::Result<usize>,
) -> anyhow::Result<OversightResult> {
    let agent = agent();
    let t = Instant::now();
    let expected = Expected::compute(work, seqs);
    println!(
        "oversight: the simulation's own replay of the mix in ledger order took {:.1} s; it expects {} tickets opened by the mix's events ({})",
        t.elapsed().as_secs_f64(),
        expected.caused_total(),
        describe_kinds(&expected.caused)
    );
    let mix_size = 1
        + work.setup.iter().map(Vec::len).sum::<usize>() as u64
        + seqs.len() as u64
        + expected.caused_total() as u64;
    let (size0, _) = last_entry_time(&agent, base)?;
    ensure!(
        size0 == mix_size,
        "after the mix the ledger holds {size0} entries; the simulation expects {mix_size} (with {} automatic tickets)",
        expected.caused_total()
    );

    // One sweep with the full ledger: every deadline passed since the start of the mix.
    let before = time::truncate_millis(chrono::Utc::now());
    let t = Instant::now();
    let opened = sweep()?;
    let sweep_wall = t.elapsed();
    let (size1, now) = last_entry_time(&agent, base)?;
    ensure!(
        size1 == size0 + opened as u64,
        "the sweep reported {opened} tickets but the ledger grew from {size0} to {size1}"
    );
    // The sweep's tickets are recorded at the time it judged the deadlines by.
    let swept = expected.swept_at(if opened > 0 { now } else { before });
    ensure!(
        swept.iter().sum::<usize>() == opened,
        "the sweep at {} opened {opened} tickets; the simulation expects {} ({})",
        time::format_millis(now),
        swept.iter().sum::<usize>(),
        describe_kinds(&swept)
    );
    println!(
        "sweep with the full ledger: {:.3} s, opened {opened} tickets ({})",
        sweep_wall.as_secs_f64(),
        describe_kinds(&swept)
    );
    let tickets_by_kind = count_tickets(&agent, base)?;
    let size2 = size1;
    let want: Vec<usize> = (0..6).map(|k| expected.caused[k] + swept[k]).collect();
    ensure!(
        tickets_by_kind.to_vec() == want,
        "GET /v1/tickets counts {} by kind; the simulation expects {want:?}",
        describe_kinds(&tickets_by_kind)
    );

    // GET /v1/stats/disposal at now, per filter; every answer checked at its own as_of.
    let filters = filters(&work.world, &work.mix, &work.clock);
    let start = time::truncate_millis(chrono::Utc::now());
    let mut stats = Vec::new();
    let mut singles = Vec::new();
    let mut head = Sums::default();
    for f in &filters {
        let timeline = expected.timeline(&work.world, f, start);
        if f.query.is_empty() {
            head = timeline.base;
        }
        let paths: Vec<String> = vec![f.path(); args.stats_requests];
        let check = |_: usize, buf: &[u8]| -> anyhow::Result<()> {
            let a: StatsAnswer = serde_json::from_slice(buf)?;
            let t = time::parse_timestamp(&a.as_of).map_err(|e| anyhow::anyhow!("{e}"))?;
            a.check(&timeline.at(t)?, size2)
        };
        let name = format!("GET {}", f.path());
        let r = measure_reads(
            base,
            &name,
            Some(TARGET_STATS_MS),
            args.read_clients,
            &paths,
            &check,
        )?;
        let one = &paths[..(paths.len() / 5).max(200).min(paths.len())];
        let s = measure_reads(base, &name, Some(TARGET_STATS_MS), 1, one, &check)?;
        println!(
            "  stats {:<26} p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms ({} clients); 1 client p50 {:.2} ms, p99 {:.2} ms; figures as the simulation expects",
            f.name,
            r.p(0.5),
            r.p(0.99),
            r.max(),
            r.clients,
            s.p(0.5),
            s.p(0.99)
        );
        stats.push(r);
        singles.push(s);
    }
    println!(
        "  expected at the head at {}: {}",
        time::format_millis(start),
        head.describe()
    );

    // hwledger verify on the database, as a process of its own.
    // (Before any other sweep: the rate as of the last entry is then the service's maintained
    // figure, not a replay.)
    let verify = verify_db(&agent, base, db_url, ledger_key_hex, &expected, &work.world)
        .map_err(|e| format!("{e:#}"));
    if let Err(e) = &verify {
        bail!("hwledger verify: {e}");
    }
    // A second sweep: the steady state, with little or nothing to open.
    let t = Instant::now();
    let again = sweep()?;
    let second = (t.elapsed(), again);
    println!(
        "a second sweep, after the stats and verify: {:.3} s, opened {again}",
        second.0.as_secs_f64()
    );
    Ok(OversightResult {
        caused: expected.caused,
        swept,
        sweep: sweep_wall,
        second_sweep: second,
        tickets_by_kind,
        ledger_size: size2,
        head,
        head_at: time::format_millis(start),
        stats,
        stats_single: singles,
        verify,
    })
}

pub(super) fn describe_kinds(counts: &[usize; 6]) -> String {
    KINDS
        .iter()
        .zip(counts)
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `hwledger verify --db`, times it and samples its peak RSS; checks that it exits 0 and
/// that the figures it prints equal the service's answer and the simulation's at that time.
fn verify_db(
    agent: &ureq::Agent,
    base: &str,
    db_url: &str,
    ledger_key_hex: &str,
    expected: &Expected,
    world: &World,
) -> anyhow::Result<VerifyRun> {
    let dir = tempfile::tempdir()?;
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .args(["verify", "--db", db_url, "--ledger-key", ledger_key_hex])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?)
        .spawn()
        .context("cannot start hwledger verify")?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            {
                peak = peak.max(kib * 1024);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = started.elapsed();
    let out = std::fs::read_to_string(&out_path)?;
    let err = std::fs::read_to_string(&err_path)?;
    ensure!(
        status.success(),
        "exited with {status}: {}{}",
        clip(out.as_bytes()),
        clip(err.as_bytes())
    );
    let entries: u64 = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("ok: ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .context("no `ok: N entries` line")?;
    let rate_line = out
        .lines()
        .find(|l| l.starts_with("proper-disposal rate as of the last entry ("))
        .context("no rate line")?
        .to_owned();
    let (as_of, rate_text) = rate_line
        .strip_prefix("proper-disposal rate as of the last entry (")
        .and_then(|r| r.split_once("): "))
        .context("a rate line of another form")?;
    let number = |prefix: &str| -> anyhow::Result<i64> {
        out.lines()
            .find_map(|l| {
                l.trim_start().split(", ").find_map(|part| {
                    part.strip_prefix(prefix)?
                        .strip_suffix(" g")?
                        .parse::<i64>()
                        .ok()
                })
            })
            .with_context(|| format!("no `{prefix}… g` figure"))
    };
    let printed = Sums {
        proper: number("proper ")?,
        treated: number("treated on site ")?,
        pending: number("pending ")?,
        stored: number("stored ")?,
        improper: {
            let mut a = [0; 6];
            for (k, kind) in KINDS.iter().enumerate() {
                a[k] = number(&format!("improper {kind}: "))?;
            }
            a
        },
    };
    ensure!(
        number("improper ")? == printed.improper_g(),
        "verify's improper total is not the sum of its kinds"
    );
    // The service's figures at the same time.
    let answer: StatsAnswer = serde_json::from_value(get_json(
        agent,
        &format!("{base}/v1/stats/disposal?as_of={as_of}"),
    )?)?;
    answer
        .check(&printed, entries)
        .context("the service's figures differ from what hwledger verify printed")?;
    let service_rate = answer
        .rate
        .map_or("none (nothing counted yet)".to_owned(), |r| {
            format!("{:.4}%", r * 100.0)
        });
    ensure!(
        service_rate == rate_text,
        "verify printed the rate {rate_text}, the service answers {service_rate}"
    );
    // And the simulation's, at that time.
    let t = time::parse_timestamp(as_of).map_err(|e| anyhow::anyhow!("{e}"))?;
    let all = StatsFilter::new("all");
    let want = expected.timeline(world, &all, t).base;
    ensure!(
        want == printed,
        "verify printed {}; the simulation expects {}",
        printed.describe(),
        want.describe()
    );
    let awaiting = out
        .lines()
        .find(|l| l.starts_with("conditions awaiting an automatic ticket now:"))
        .unwrap_or("")
        .to_owned();
    println!(
        "hwledger verify --db: exit 0 after {:.1} s: {entries} entries, {:.0} entries/s, {:.1} s per million entries; peak RSS {:.0} MB",
        wall.as_secs_f64(),
        entries as f64 / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / entries.max(1) as f64,
        mb(peak)
    );
    println!("  {rate_line} — equal to the service's and to the simulation's figures; {awaiting}");
    Ok(VerifyRun {
        wall,
        entries,
        peak_rss: peak,
        rate_line,
        awaiting,
    })
}
