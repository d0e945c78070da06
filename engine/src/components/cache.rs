//! `cache`: a cache in front of a backend — LRU or LFU eviction, a bounded capacity, TTL on the node's own clock, cache-aside or write-through writes — and the stampede a hot key's expiry causes, with its two fixes: request coalescing (single-flight) and probabilistic early expiration (XFetch).
//!
//! A request (from a load generator) asks for one key; requests carry no
//! key, so the cache draws it: key 0, the hot key, with `hot_key_fraction`,
//! else uniform over the rest. A hit is answered at once. A miss loads the
//! key from the backend and answers when the load returns. Without
//! coalescing every miss on a key sends its own load, so when a hot key
//! expires under load, all requests arriving during one backend round trip
//! hit the backend together: the stampede. Each load is stated as a
//! `CacheLoad` fact with the number of loads of that key in flight, and the
//! run summary reports the maximum.
//!
//! XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache
//! Stampede Prevention", VLDB 2015): on a hit, reload early when
//! `now − delta·beta·ln(U) ≥ expiry` (U uniform in (0,1], delta the last load's
//! duration), so one request refreshes the key shortly before it expires
//! while the others keep hitting.
//!
//! Values and writes. With a `kv_database` backend the cache holds values:
//! loads are database reads, and `write_fraction` of the requests are writes
//! of a fresh unique value. Every read and write the cache answers is
//! recorded as an operation in the same history form as `kv_client`'s
//! (`read k=0 v=7 db=users`), so the database checkers judge what clients of
//! the cache saw: `kv_linearizable` and `kv_lost_acknowledged_writes`. The
//! cache also counts its own stale reads (a value older than a write it had
//! acknowledged before the read began).
//!
//! - Cache-aside: write the database, then delete the entry. A miss whose
//!   load read the old value before the write and returns after the delete
//!   caches the old value until the TTL (the race Facebook's memcache leases
//!   close, Nishtala et al., NSDI 2013 §3.2.1).
//! - Write-through: writes of one key go to the database one at a time, and
//!   a successful write sets the entry. A load that began before a write of
//!   its key completed answers its waiters but is not cached, and later
//!   misses do not join it.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::coord_protocol::CoordFact;
use crate::components::db_protocol::{AcknowledgedWrites, DbMessage, DbOperation, DbOutcome};
use crate::components::kv_client::VALUES_PER_CLIENT;
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::ReadConsistency;
use crate::scenario::coord::{CacheEviction, CacheSpec, CacheWritePolicy};
use crate::time::{SimDuration, SimTime};
use crate::trace::{Fact, OperationPhase};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_LOAD_TIMEOUT: u32 = 1;
const TIMER_WRITE_TIMEOUT: u32 = 2;
/// A database request is sent again to the primary a `NotPrimary` answer
/// names at most this many times before it fails.
const MAX_DATABASE_REDIRECTS: u8 = 3;

#[derive(Clone)]
struct Entry {
    /// The cached value (value mode; `None`: the key was never written).
    value: Option<u64>,
    expires_at: SimTime,
    /// How long the last load took (XFetch's delta).
    load_duration: SimDuration,
    /// Position in the eviction order: (frequency for LFU or 0, last use).
    order: (u64, u64),
}

/// A client request waiting for a load: who, its request id, when it came,
/// and its history operation (value mode).
#[derive(Clone)]
struct Waiter {
    client: NodeId,
    operation: u64,
    arrived: SimTime,
    history: Option<u64>,
}

#[derive(Clone)]
struct Load {
    key: u32,
    started: SimTime,
    waiters: Vec<Waiter>,
    /// The key's completed-write count when the load began (write-through).
    writes_completed_at_start: u64,
    redirects: u8,
}

/// A client's write on its way to the database (value mode).
#[derive(Clone)]
struct Write {
    key: u32,
    value: u64,
    client: NodeId,
    operation: u64,
    arrived: SimTime,
    history: u64,
    redirects: u8,
}

/// How a database answered (or did not answer) one of the cache's requests.
enum BackendAnswer {
    Ok(Option<u64>),
    /// Definitely not applied (refused, or a redirect loop).
    Refused(String),
    /// No answer in time, or the database could not decide: a write may
    /// have been applied.
    Unknown(String),
}

#[derive(Clone)]
pub struct Cache {
    backend: NodeId,
    spec: CacheSpec,
    /// The backend's database name when it is a `kv_database` (value mode).
    database: Option<String>,
    /// Where database requests go: the backend, or the primary it named.
    database_target: NodeId,
    value_base: u64,
    next_value: u64,
    next_history: u64,
    entries: BTreeMap<u32, Entry>,
    /// Eviction order: the first element is the next victim.
    eviction_order: BTreeSet<(u64, u64, u32)>,
    use_clock: u64,
    loads: BTreeMap<u64, Load>,
    /// Single-flight: the load currently filling each key.
    load_for_key: BTreeMap<u32, u64>,
    loads_in_flight_per_key: BTreeMap<u32, u32>,
    /// Backend requests (loads and writes) share this id counter.
    next_load: u64,
    writes: BTreeMap<u64, Write>,
    /// Write-through: the write of each key in flight, and the ones queued behind it.
    write_in_flight_for_key: BTreeSet<u32>,
    writes_queued_per_key: BTreeMap<u32, VecDeque<Write>>,
    /// Completed writes per key (write-through: a load older than the last is not cached).
    writes_completed_per_key: BTreeMap<u32, u64>,
    acknowledged: AcknowledgedWrites,
    waiting_requests: usize,
    hits: u64,
    misses: u64,
    backend_loads: u64,
    early_reloads: u64,
    max_loads_in_flight_per_key: u32,
    /// The same for key 0, the hot key (the cold start included).
    max_hot_key_loads_in_flight: u32,
    /// Loads of the hot key in flight at once that were started because its
    /// entry had expired (or was refreshed early): the stampede's size.
    max_hot_key_reloads_in_flight: u32,
    evictions: u64,
    refused: u64,
    failed: u64,
    writes_ok: u64,
    writes_failed: u64,
    invalidations: u64,
    /// Loads whose value was not cached because a write of the key completed meanwhile.
    loads_not_cached: u64,
    stale_reads: u64,
}

impl Cache {
    /// `database`: the backend's database name when it is a `kv_database`.
    pub fn new(spec: &CacheSpec, me: NodeId, backend: NodeId, database: Option<String>) -> Cache {
        Cache {
            backend,
            spec: spec.clone(),
            database,
            database_target: backend,
            value_base: (u64::from(me.0) + 1) * VALUES_PER_CLIENT,
            next_value: 0,
            next_history: 0,
            entries: BTreeMap::new(),
            eviction_order: BTreeSet::new(),
            use_clock: 0,
            loads: BTreeMap::new(),
            load_for_key: BTreeMap::new(),
            loads_in_flight_per_key: BTreeMap::new(),
            next_load: 0,
            writes: BTreeMap::new(),
            write_in_flight_for_key: BTreeSet::new(),
            writes_queued_per_key: BTreeMap::new(),
            writes_completed_per_key: BTreeMap::new(),
            acknowledged: AcknowledgedWrites::default(),
            waiting_requests: 0,
            hits: 0,
            misses: 0,
            backend_loads: 0,
            early_reloads: 0,
            max_loads_in_flight_per_key: 0,
            max_hot_key_loads_in_flight: 0,
            max_hot_key_reloads_in_flight: 0,
            evictions: 0,
            refused: 0,
            failed: 0,
            writes_ok: 0,
            writes_failed: 0,
            invalidations: 0,
            loads_not_cached: 0,
            stale_reads: 0,
        }
    }

    fn write_through(&self) -> bool {
        self.spec.write_policy == CacheWritePolicy::WriteThrough
    }

    fn draw_key(&self, ctx: &mut Context<'_>) -> u32 {
        if self.spec.key_count <= 1 || ctx.rng().chance(self.spec.hot_key_fraction) {
            0
        } else {
            1 + ctx.rng().below(u64::from(self.spec.key_count - 1)) as u32
        }
    }

    /// Marks `key` used now (moves it in the eviction order).
    fn touch(&mut self, key: u32) {
        self.use_clock += 1;
        let Some(entry) = self.entries.get_mut(&key) else {
            return;
        };
        self.eviction_order
            .remove(&(entry.order.0, entry.order.1, key));
        let frequency = match self.spec.eviction {
            CacheEviction::Lru => 0,
            CacheEviction::Lfu => entry.order.0 + 1,
        };
        entry.order = (frequency, self.use_clock);
        self.eviction_order
            .insert((entry.order.0, entry.order.1, key));
    }

    fn insert(
        &mut self,
        key: u32,
        value: Option<u64>,
        expires_at: SimTime,
        load_duration: SimDuration,
    ) {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.value = value;
            entry.expires_at = expires_at;
            entry.load_duration = load_duration;
            self.touch(key);
            return;
        }
        while self.entries.len() >= self.spec.capacity_entries as usize {
            let Some(&(_, _, victim)) = self.eviction_order.iter().next() else {
                break;
            };
            self.remove(victim);
            self.evictions += 1;
        }
        self.use_clock += 1;
        let frequency = match self.spec.eviction {
            CacheEviction::Lru => 0,
            CacheEviction::Lfu => 1,
        };
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at,
                load_duration,
                order: (frequency, self.use_clock),
            },
        );
        self.eviction_order.insert((frequency, self.use_clock, key));
    }

    fn remove(&mut self, key: u32) {
        if let Some(entry) = self.entries.remove(&key) {
            self.eviction_order
                .remove(&(entry.order.0, entry.order.1, key));
        }
    }

    fn writes_completed(&self, key: u32) -> u64 {
        self.writes_completed_per_key
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Sends a backend request: `request`/`response` to a plain backend, a
    /// database request in value mode.
    fn send_to_backend(&mut self, ctx: &mut Context<'_>, id: u64, operation: DbOperation) {
        if self.database.is_some() {
            ctx.send(
                self.database_target,
                Payload::Db(DbMessage::Request {
                    request: id,
                    operation,
                    consistency: ReadConsistency::Leader,
                    context: Vec::new(),
                }),
                64,
            );
        } else {
            ctx.send(
                self.backend,
                Payload::Request {
                    operation: id,
                    stream: 0,
                },
                64,
            );
        }
    }

    /// Starts a history operation (value mode); its id.
    fn invoke(&mut self, ctx: &mut Context<'_>, operation: DbOperation) -> Option<u64> {
        let database = self.database.as_deref()?;
        let id = self.next_history;
        self.next_history += 1;
        ctx.operation(
            id,
            OperationPhase::Invoke,
            format!("{operation} db={database}"),
        );
        Some(id)
    }

    /// Answers a read: to the client, in the history (value mode), and in the
    /// stale-read count.
    #[allow(clippy::too_many_arguments)]
    fn answer_read(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        operation: u64,
        history: Option<u64>,
        key: u32,
        value: Option<u64>,
        arrived: SimTime,
        how: &str,
    ) {
        ctx.send(
            client,
            Payload::Response {
                operation,
                ok: true,
            },
            64,
        );
        ctx.completed(ctx.now().since(arrived));
        let (Some(history), Some(database)) = (history, self.database.as_deref()) else {
            return;
        };
        let values: Vec<u64> = value.into_iter().collect();
        let shown = value.map_or_else(|| "nil".to_string(), |value| value.to_string());
        let mut detail = format!("read k={key} v={shown} db={database} {how}");
        if self.acknowledged.read_is_stale(key, &values, arrived) {
            self.stale_reads += 1;
            ctx.error("cache_stale_read");
            detail.push_str(" stale");
        }
        ctx.operation(history, OperationPhase::Ok, detail);
    }

    /// `reload`: the key had an entry (expired, or refreshed early).
    fn start_load(&mut self, ctx: &mut Context<'_>, key: u32, early: bool, reload: bool) -> u64 {
        let id = self.next_load;
        self.next_load += 1;
        self.backend_loads += 1;
        let in_flight = self.loads_in_flight_per_key.entry(key).or_insert(0);
        *in_flight += 1;
        let in_flight = *in_flight;
        self.max_loads_in_flight_per_key = self.max_loads_in_flight_per_key.max(in_flight);
        if key == 0 {
            self.max_hot_key_loads_in_flight = self.max_hot_key_loads_in_flight.max(in_flight);
            if reload {
                self.max_hot_key_reloads_in_flight =
                    self.max_hot_key_reloads_in_flight.max(in_flight);
            }
        }
        ctx.fact(Fact::Coord(CoordFact::CacheLoad {
            key,
            loads_in_flight: in_flight,
            early,
        }));
        self.loads.insert(
            id,
            Load {
                key,
                started: ctx.now(),
                waiters: Vec::new(),
                writes_completed_at_start: self.writes_completed(key),
                redirects: 0,
            },
        );
        self.load_for_key.insert(key, id);
        self.send_to_backend(ctx, id, DbOperation::Read { key });
        ctx.set_timer(
            SimDuration::from_millis(self.spec.backend_timeout_ms),
            TimerTag {
                kind: TIMER_LOAD_TIMEOUT,
                id,
            },
        );
        id
    }

    fn finish_load(&mut self, ctx: &mut Context<'_>, id: u64, answer: BackendAnswer) {
        let Some(load) = self.loads.remove(&id) else {
            return;
        };
        if let Some(count) = self.loads_in_flight_per_key.get_mut(&load.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.loads_in_flight_per_key.remove(&load.key);
            }
        }
        if self.load_for_key.get(&load.key) == Some(&id) {
            self.load_for_key.remove(&load.key);
        }
        let value = match answer {
            BackendAnswer::Ok(value) => Some(value),
            BackendAnswer::Refused(_) | BackendAnswer::Unknown(_) => None,
        };
        if let Some(value) = value {
            let overtaken = self.write_through()
                && self.writes_completed(load.key) != load.writes_completed_at_start;
            if overtaken {
                self.loads_not_cached += 1;
            } else {
                let expires_at = ctx
                    .local_clock()
                    .plus(SimDuration::from_millis(self.spec.ttl_ms));
                self.insert(load.key, value, expires_at, ctx.now().since(load.started));
            }
        }
        self.waiting_requests -= load.waiters.len();
        for waiter in load.waiters {
            match value {
                Some(value) => self.answer_read(
                    ctx,
                    waiter.client,
                    waiter.operation,
                    waiter.history,
                    load.key,
                    value,
                    waiter.arrived,
                    "miss",
                ),
                None => {
                    ctx.send(
                        waiter.client,
                        Payload::Response {
                            operation: waiter.operation,
                            ok: false,
                        },
                        64,
                    );
                    self.failed += 1;
                    ctx.error("cache_load_failed");
                    if let Some(history) = waiter.history {
                        ctx.operation(history, OperationPhase::Fail, "load failed");
                    }
                }
            }
        }
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, client: NodeId, operation: u64) {
        let key = self.draw_key(ctx);
        // Only a cache that writes draws here, so read-only runs keep their streams.
        if self.database.is_some()
            && self.spec.write_fraction > 0.0
            && ctx.rng().chance(self.spec.write_fraction)
        {
            self.on_write_request(ctx, client, operation, key);
            return;
        }
        let history = self.invoke(ctx, DbOperation::Read { key });
        let now = ctx.local_clock();
        if let Some(entry) = self.entries.get(&key)
            && now < entry.expires_at
        {
            self.hits += 1;
            let value = entry.value;
            // XFetch: maybe refresh early, once per key at a time.
            if self.spec.early_expiry_beta > 0.0 && !self.load_for_key.contains_key(&key) {
                let uniform = ctx.rng().next_f64_open_zero();
                let lead_ms = entry.load_duration.as_millis_f64()
                    * self.spec.early_expiry_beta
                    * -libm::log(uniform);
                if now.plus(SimDuration::from_millis_f64(lead_ms)) >= entry.expires_at {
                    self.early_reloads += 1;
                    self.start_load(ctx, key, true, true);
                }
            }
            self.touch(key);
            let arrived = ctx.now();
            self.answer_read(ctx, client, operation, history, key, value, arrived, "hit");
            return;
        }
        self.misses += 1;
        if self.waiting_requests >= self.spec.max_waiting_requests as usize {
            self.refuse(ctx, client, operation, history);
            return;
        }
        let expired_entry = self.entries.contains_key(&key);
        let joinable = self.load_for_key.get(&key).copied().filter(|load| {
            self.spec.request_coalescing
                && (!self.write_through()
                    || self.loads.get(load).is_some_and(|load| {
                        load.writes_completed_at_start == self.writes_completed(key)
                    }))
        });
        let load = match joinable {
            Some(load) => load,
            None => self.start_load(ctx, key, false, expired_entry),
        };
        if let Some(load) = self.loads.get_mut(&load) {
            load.waiters.push(Waiter {
                client,
                operation,
                arrived: ctx.now(),
                history,
            });
            self.waiting_requests += 1;
        }
    }

    fn refuse(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        operation: u64,
        history: Option<u64>,
    ) {
        self.refused += 1;
        ctx.error("cache_waiting_full");
        ctx.send(
            client,
            Payload::Response {
                operation,
                ok: false,
            },
            64,
        );
        if let Some(history) = history {
            ctx.operation(history, OperationPhase::Fail, "refused: waiting full");
        }
    }

    fn on_write_request(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        operation: u64,
        key: u32,
    ) {
        let value = self.value_base + self.next_value;
        self.next_value += 1;
        let history = self
            .invoke(ctx, DbOperation::Write { key, value })
            .unwrap_or_default();
        if self.waiting_requests >= self.spec.max_waiting_requests as usize {
            self.refuse(ctx, client, operation, Some(history));
            return;
        }
        self.waiting_requests += 1;
        let write = Write {
            key,
            value,
            client,
            operation,
            arrived: ctx.now(),
            history,
            redirects: 0,
        };
        if self.write_through() && self.write_in_flight_for_key.contains(&key) {
            self.writes_queued_per_key
                .entry(key)
                .or_default()
                .push_back(write);
            return;
        }
        self.send_write(ctx, write);
    }

    fn send_write(&mut self, ctx: &mut Context<'_>, write: Write) {
        let id = self.next_load;
        self.next_load += 1;
        self.write_in_flight_for_key.insert(write.key);
        let operation = DbOperation::Write {
            key: write.key,
            value: write.value,
        };
        self.writes.insert(id, write);
        self.send_to_backend(ctx, id, operation);
        ctx.set_timer(
            SimDuration::from_millis(self.spec.backend_timeout_ms),
            TimerTag {
                kind: TIMER_WRITE_TIMEOUT,
                id,
            },
        );
    }

    fn finish_write(&mut self, ctx: &mut Context<'_>, id: u64, answer: BackendAnswer) {
        let Some(write) = self.writes.remove(&id) else {
            return;
        };
        self.waiting_requests -= 1;
        let key = write.key;
        let database = self.database.clone().unwrap_or_default();
        match answer {
            BackendAnswer::Ok(_) => {
                self.writes_ok += 1;
                *self.writes_completed_per_key.entry(key).or_insert(0) += 1;
                if self.write_through() {
                    let expires_at = ctx
                        .local_clock()
                        .plus(SimDuration::from_millis(self.spec.ttl_ms));
                    let took = ctx.now().since(write.arrived);
                    self.insert(key, Some(write.value), expires_at, took);
                } else if self.entries.contains_key(&key) {
                    self.invalidations += 1;
                    self.remove(key);
                }
                self.acknowledged
                    .record(key, write.value, write.arrived, ctx.now());
                ctx.send(
                    write.client,
                    Payload::Response {
                        operation: write.operation,
                        ok: true,
                    },
                    64,
                );
                ctx.completed(ctx.now().since(write.arrived));
                ctx.operation(
                    write.history,
                    OperationPhase::Ok,
                    format!("write k={key} v={} db={database}", write.value),
                );
            }
            BackendAnswer::Refused(why) => self.fail_write(ctx, &write, OperationPhase::Fail, why),
            BackendAnswer::Unknown(why) => self.fail_write(ctx, &write, OperationPhase::Info, why),
        }
        self.write_in_flight_for_key.remove(&key);
        if let Some(queue) = self.writes_queued_per_key.get_mut(&key) {
            let next = queue.pop_front();
            if queue.is_empty() {
                self.writes_queued_per_key.remove(&key);
            }
            if let Some(next) = next {
                self.send_write(ctx, next);
            }
        }
    }

    /// A write the database refused (`Fail`) or may have applied (`Info`).
    fn fail_write(
        &mut self,
        ctx: &mut Context<'_>,
        write: &Write,
        phase: OperationPhase,
        why: String,
    ) {
        self.writes_failed += 1;
        ctx.error("cache_write_failed");
        // Write-through cannot tell whether the database has the value now,
        // so it stops serving the key from memory.
        if self.write_through() && self.entries.contains_key(&write.key) {
            self.invalidations += 1;
            self.remove(write.key);
        }
        ctx.send(
            write.client,
            Payload::Response {
                operation: write.operation,
                ok: false,
            },
            64,
        );
        ctx.operation(write.history, phase, why);
    }

    /// A database's answer to one of the cache's requests.
    fn on_database_response(&mut self, ctx: &mut Context<'_>, request: u64, outcome: &DbOutcome) {
        let answer = match outcome {
            DbOutcome::Ok { values, .. } => BackendAnswer::Ok(values.iter().max().copied()),
            DbOutcome::NotPrimary { primary_hint } => {
                let redirects = self
                    .loads
                    .get_mut(&request)
                    .map(|load| &mut load.redirects)
                    .or_else(|| {
                        self.writes
                            .get_mut(&request)
                            .map(|write| &mut write.redirects)
                    });
                let Some(redirects) = redirects else {
                    return;
                };
                if let Some(primary) = *primary_hint
                    && *redirects < MAX_DATABASE_REDIRECTS
                {
                    // Nothing was written: the same request goes to the primary.
                    *redirects += 1;
                    self.database_target = primary;
                    let operation = match (self.loads.get(&request), self.writes.get(&request)) {
                        (Some(load), _) => DbOperation::Read { key: load.key },
                        (None, Some(write)) => DbOperation::Write {
                            key: write.key,
                            value: write.value,
                        },
                        (None, None) => return,
                    };
                    self.send_to_backend(ctx, request, operation);
                    return;
                }
                BackendAnswer::Refused("fail: no primary".to_string())
            }
            DbOutcome::Rejected { reason } => BackendAnswer::Refused(format!("fail: {reason}")),
            DbOutcome::Unavailable { reason } => BackendAnswer::Unknown(format!("info: {reason}")),
        };
        if self.loads.contains_key(&request) {
            self.finish_load(ctx, request, answer);
        } else {
            self.finish_write(ctx, request, answer);
        }
    }
}

impl Component for Cache {
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match &envelope.payload {
            Payload::Request { operation, .. } => {
                self.on_request(ctx, envelope.from, *operation);
            }
            Payload::Response { operation, ok } if envelope.from == self.backend => {
                let answer = if *ok {
                    BackendAnswer::Ok(None)
                } else {
                    BackendAnswer::Refused("fail: backend error".to_string())
                };
                self.finish_load(ctx, *operation, answer);
            }
            Payload::Db(DbMessage::Response { request, outcome }) if self.database.is_some() => {
                self.on_database_response(ctx, *request, outcome);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        let timed_out = BackendAnswer::Unknown("info: backend timeout".to_string());
        match tag.kind {
            TIMER_LOAD_TIMEOUT => self.finish_load(ctx, tag.id, timed_out),
            TIMER_WRITE_TIMEOUT => self.finish_write(ctx, tag.id, timed_out),
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.entries.clear();
        self.eviction_order.clear();
        self.loads.clear();
        self.load_for_key.clear();
        self.loads_in_flight_per_key.clear();
        self.writes.clear();
        self.write_in_flight_for_key.clear();
        self.writes_queued_per_key.clear();
        self.database_target = self.backend;
        self.waiting_requests = 0;
        ctx.state("crashed: cache emptied (cold restart)");
    }

    /// The hit ratio since the start, once there has been a lookup.
    fn live_status(&self) -> crate::live::NodeLiveStatus {
        let lookups = self.hits + self.misses;
        crate::live::NodeLiveStatus {
            cache_hit_percent: (lookups > 0)
                .then(|| u8::try_from(self.hits * 100 / lookups).unwrap_or(100)),
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn view(&self) -> ComponentView {
        let lookups = self.hits + self.misses;
        ComponentView {
            queue_depth: self.waiting_requests as u64,
            in_progress: (self.loads.len() + self.writes.len()) as u64,
            badge: format!(
                "{} keys hit {:.0}%",
                self.entries.len(),
                if lookups == 0 {
                    0.0
                } else {
                    100.0 * self.hits as f64 / lookups as f64
                }
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let lookups = self.hits + self.misses;
        let mut summary = vec![
            ("hits", self.hits as f64),
            ("misses", self.misses as f64),
            (
                "hit_ratio",
                if lookups == 0 {
                    0.0
                } else {
                    self.hits as f64 / lookups as f64
                },
            ),
            ("backend_loads", self.backend_loads as f64),
            ("early_reloads", self.early_reloads as f64),
            (
                "max_loads_in_flight_per_key",
                f64::from(self.max_loads_in_flight_per_key),
            ),
            (
                "max_hot_key_loads_in_flight",
                f64::from(self.max_hot_key_loads_in_flight),
            ),
            (
                "max_hot_key_reloads_in_flight",
                f64::from(self.max_hot_key_reloads_in_flight),
            ),
            ("evictions", self.evictions as f64),
            ("entries", self.entries.len() as f64),
            ("requests_refused", self.refused as f64),
            ("requests_failed", self.failed as f64),
        ];
        if self.database.is_some() {
            summary.extend([
                ("writes_ok", self.writes_ok as f64),
                ("writes_failed", self.writes_failed as f64),
                ("invalidations", self.invalidations as f64),
                ("loads_not_cached", self.loads_not_cached as f64),
                ("stale_reads", self.stale_reads as f64),
            ]);
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(eviction: CacheEviction, capacity_entries: u32) -> Cache {
        let spec: CacheSpec = serde_json::from_value(serde_json::json!({
            "backend": "db", "capacity_entries": capacity_entries, "eviction": eviction
        }))
        .expect("spec");
        Cache::new(&spec, NodeId(1), NodeId(0), None)
    }

    #[test]
    fn lru_evicts_the_least_recently_used_key() {
        let mut cache = cache(CacheEviction::Lru, 2);
        let later = SimTime::from_millis(1_000);
        cache.insert(1, None, later, SimDuration::ZERO);
        cache.insert(2, None, later, SimDuration::ZERO);
        cache.touch(1);
        cache.insert(3, None, later, SimDuration::ZERO);
        assert!(cache.entries.contains_key(&1) && cache.entries.contains_key(&3));
        assert!(!cache.entries.contains_key(&2));
    }

    #[test]
    fn lfu_evicts_the_least_frequently_used_key() {
        let mut cache = cache(CacheEviction::Lfu, 2);
        let later = SimTime::from_millis(1_000);
        cache.insert(1, None, later, SimDuration::ZERO);
        cache.insert(2, None, later, SimDuration::ZERO);
        cache.touch(1);
        cache.touch(1);
        cache.touch(2);
        // 2 was used last but less often than 1.
        cache.insert(3, None, later, SimDuration::ZERO);
        assert!(cache.entries.contains_key(&1) && cache.entries.contains_key(&3));
        assert!(!cache.entries.contains_key(&2));
    }
}
