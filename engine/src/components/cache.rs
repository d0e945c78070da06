//! `cache`: a cache-aside cache in front of a backend — LRU or LFU eviction, a bounded capacity, TTL on the node's own clock — and the stampede a hot key's expiry causes, with its two fixes: request coalescing (single-flight) and probabilistic early expiration (XFetch).
//!
//! A request (from a load generator) asks for one key; requests carry no
//! key, so the cache draws it: key 0, the hot key, with `hot_key_fraction`,
//! else uniform over the rest. A hit is answered at once. A miss loads the
//! key from the backend (a `request`, answered by a `response`) and answers
//! when the load returns. Without coalescing every miss on a key sends its
//! own load, so when a hot key expires under load, all requests arriving
//! during one backend round trip hit the backend together: the stampede.
//! Each load is stated as a `CacheLoad` fact with the number of loads of that
//! key in flight, and the run summary reports the maximum.
//!
//! XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache
//! Stampede Prevention", VLDB 2015): on a hit, reload early when
//! `now − delta·beta·ln(U) ≥ expiry` (U uniform in (0,1], delta the last load's
//! duration), so one request refreshes the key shortly before it expires
//! while the others keep hitting.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::coord_protocol::CoordFact;
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::coord::{CacheEviction, CacheSpec};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet};

const TIMER_LOAD_TIMEOUT: u32 = 1;

#[derive(Clone)]
struct Entry {
    expires_at: SimTime,
    /// How long the last load took (XFetch's delta).
    load_duration: SimDuration,
    /// Position in the eviction order: (frequency for LFU or 0, last use).
    order: (u64, u64),
}

#[derive(Clone)]
struct Load {
    key: u32,
    started: SimTime,
    waiters: Vec<(NodeId, u64, SimTime)>,
}

#[derive(Clone)]
pub struct Cache {
    backend: NodeId,
    spec: CacheSpec,
    entries: BTreeMap<u32, Entry>,
    /// Eviction order: the first element is the next victim.
    eviction_order: BTreeSet<(u64, u64, u32)>,
    use_clock: u64,
    loads: BTreeMap<u64, Load>,
    /// Single-flight: the load currently filling each key.
    load_for_key: BTreeMap<u32, u64>,
    loads_in_flight_per_key: BTreeMap<u32, u32>,
    next_load: u64,
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
}

impl Cache {
    pub fn new(spec: &CacheSpec, backend: NodeId) -> Cache {
        Cache {
            backend,
            spec: spec.clone(),
            entries: BTreeMap::new(),
            eviction_order: BTreeSet::new(),
            use_clock: 0,
            loads: BTreeMap::new(),
            load_for_key: BTreeMap::new(),
            loads_in_flight_per_key: BTreeMap::new(),
            next_load: 0,
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
        }
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

    fn insert(&mut self, key: u32, expires_at: SimTime, load_duration: SimDuration) {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.expires_at = expires_at;
            entry.load_duration = load_duration;
            self.touch(key);
            return;
        }
        while self.entries.len() >= self.spec.capacity_entries as usize {
            let Some(&(_, _, victim)) = self.eviction_order.iter().next() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&victim) {
                self.eviction_order
                    .remove(&(entry.order.0, entry.order.1, victim));
            }
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
                expires_at,
                load_duration,
                order: (frequency, self.use_clock),
            },
        );
        self.eviction_order.insert((frequency, self.use_clock, key));
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
            },
        );
        self.load_for_key.insert(key, id);
        ctx.send(
            self.backend,
            Payload::Request {
                operation: id,
                stream: 0,
            },
            64,
        );
        ctx.set_timer(
            SimDuration::from_millis(self.spec.backend_timeout_ms),
            TimerTag {
                kind: TIMER_LOAD_TIMEOUT,
                id,
            },
        );
        id
    }

    fn finish_load(&mut self, ctx: &mut Context<'_>, id: u64, ok: bool) {
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
        if ok {
            let expires_at = ctx
                .local_clock()
                .plus(SimDuration::from_millis(self.spec.ttl_ms));
            self.insert(load.key, expires_at, ctx.now().since(load.started));
        }
        self.waiting_requests -= load.waiters.len();
        for (client, operation, arrived) in load.waiters {
            ctx.send(client, Payload::Response { operation, ok }, 64);
            if ok {
                ctx.completed(ctx.now().since(arrived));
            } else {
                self.failed += 1;
                ctx.error("cache_load_failed");
            }
        }
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, client: NodeId, operation: u64) {
        let key = self.draw_key(ctx);
        let now = ctx.local_clock();
        if let Some(entry) = self.entries.get(&key)
            && now < entry.expires_at
        {
            self.hits += 1;
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
            ctx.send(
                client,
                Payload::Response {
                    operation,
                    ok: true,
                },
                64,
            );
            ctx.completed(SimDuration::ZERO);
            return;
        }
        self.misses += 1;
        if self.waiting_requests >= self.spec.max_waiting_requests as usize {
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
            return;
        }
        let expired_entry = self.entries.contains_key(&key);
        let load = match self.load_for_key.get(&key) {
            Some(&load) if self.spec.request_coalescing => load,
            _ => self.start_load(ctx, key, false, expired_entry),
        };
        if let Some(load) = self.loads.get_mut(&load) {
            load.waiters.push((client, operation, ctx.now()));
            self.waiting_requests += 1;
        }
    }
}

impl Component for Cache {
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match envelope.payload {
            Payload::Request { operation, .. } => self.on_request(ctx, envelope.from, operation),
            Payload::Response { operation, ok } if envelope.from == self.backend => {
                self.finish_load(ctx, operation, ok);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if tag.kind == TIMER_LOAD_TIMEOUT {
            self.finish_load(ctx, tag.id, false);
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.entries.clear();
        self.eviction_order.clear();
        self.loads.clear();
        self.load_for_key.clear();
        self.loads_in_flight_per_key.clear();
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
            in_progress: self.loads.len() as u64,
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
        vec![
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
        ]
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
        Cache::new(&spec, NodeId(0))
    }

    #[test]
    fn lru_evicts_the_least_recently_used_key() {
        let mut cache = cache(CacheEviction::Lru, 2);
        let later = SimTime::from_millis(1_000);
        cache.insert(1, later, SimDuration::ZERO);
        cache.insert(2, later, SimDuration::ZERO);
        cache.touch(1);
        cache.insert(3, later, SimDuration::ZERO);
        assert!(cache.entries.contains_key(&1) && cache.entries.contains_key(&3));
        assert!(!cache.entries.contains_key(&2));
    }

    #[test]
    fn lfu_evicts_the_least_frequently_used_key() {
        let mut cache = cache(CacheEviction::Lfu, 2);
        let later = SimTime::from_millis(1_000);
        cache.insert(1, later, SimDuration::ZERO);
        cache.insert(2, later, SimDuration::ZERO);
        cache.touch(1);
        cache.touch(1);
        cache.touch(2);
        // 2 was used last but less often than 1.
        cache.insert(3, later, SimDuration::ZERO);
        assert!(cache.entries.contains_key(&1) && cache.entries.contains_key(&3));
        assert!(!cache.entries.contains_key(&2));
    }
}
