//! One instance of a microservice: a worker pool, a bounded queue, endpoints run step
//! by step, and calls to other services through client-side load balancing,
//! health checks and resilience policies (timeout, retry with backoff and a
//! budget, circuit breaker, bulkhead, rate limiter, fallback).
//!
//! Each instance is its own simulated node, so `crash`, `pause` and `slow`
//! faults hit one instance while its siblings keep serving, as with pods or
//! VMs. Policies live in the caller (as in Finagle, gRPC or an Envoy sidecar):
//! every instance keeps its own breakers, budgets and health view, and loses
//! them when it crashes (they are in memory in every library modelled here).
//! Sidecar mode (`sidecar_retry`) adds the mesh proxy's retry layer under the
//! application's: each application attempt is up to that many tries on the
//! wire, and the application's breaker and budget see only its outcome.

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::resilience::{
    BreakerPermit, BreakerTransition, CircuitBreaker, RateLimiter, RetryBudget, backoff_delay_ms,
};
use crate::components::service_io::{IoEvent, ServiceIo};
use crate::message::{Envelope, NodeId, Payload, ServiceStatus, SpanRef};
use crate::scenario::services::{
    ApiGatewaySpec, DependencySpec, EndpointSpec, FallbackSpec, LoadBalancerPolicy, ServiceSpec,
    StepSpec,
};
use crate::scenario::{ComponentSpec, Scenario};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_STEP_DONE: u32 = 1;
const TIMER_CALL_TIMEOUT: u32 = 2;
const TIMER_RETRY_BACKOFF: u32 = 3;
const TIMER_BULKHEAD_WAIT: u32 = 4;
const TIMER_HEALTH_TICK: u32 = 5;
const TIMER_HEALTH_PROBE_TIMEOUT: u32 = 6;
const TIMER_BREAKER_WAIT: u32 = 7;
const TIMER_SIDECAR_RETRY: u32 = 8;

/// Virtual nodes per instance on the consistent-hash ring (enough for an even
/// spread over a handful of instances; Envoy's ring_hash uses 1024 minimum).
const HASH_RING_VIRTUAL_NODES: u64 = 64;
/// Callers waiting for a bulkhead slot, per dependency; beyond it they are
/// refused as if `max_wait_duration_ms` were 0 (bounds memory).
const MAX_BULKHEAD_WAITERS: usize = 10_000;

/// Where a job's answer goes.
#[derive(Clone, Copy, Debug)]
enum Origin {
    /// A load generator's request: answered with `Response`.
    Client { from: NodeId, operation: u64 },
    /// Another service's call attempt: answered with `ServiceReply`.
    Caller {
        from: NodeId,
        call: u64,
        attempt: u32,
    },
    /// A message from the consumed queue: settled (ack or reject) at the end.
    Delivery { connection: u64, delivery_tag: u64 },
}

#[derive(Clone, Debug)]
struct Job {
    origin: Origin,
    trace: SpanRef,
    /// The span this job serves; calls it makes name it as their parent.
    span: SpanRef,
    endpoint: usize,
    key: u64,
    step: usize,
    arrived_at: SimTime,
    /// Gateway: (route, key) under which a successful answer is cached.
    cache_key: Option<(usize, u64)>,
}

/// One logical call (all its attempts) from a job to a dependency.
#[derive(Clone)]
struct Call {
    job: u64,
    dependency: usize,
    endpoint: String,
    attempt: u32,
    attempt_started_at: SimTime,
    instance: Option<usize>,
    timer: Option<TimerId>,
    permit: Option<BreakerPermit>,
    /// Holds a bulkhead slot right now.
    in_bulkhead: bool,
    previous_backoff_ms: f64,
    /// Sidecar mode: tries the proxy has sent for the current application attempt.
    sidecar_tries: u32,
    sidecar_previous_backoff_ms: f64,
}

#[derive(Clone, Copy)]
struct InstanceHealth {
    healthy: bool,
    consecutive_successes: u32,
    consecutive_failures: u32,
}

/// The caller's state for one called service.
#[derive(Clone)]
struct Dependency {
    spec: DependencySpec,
    instances: Vec<NodeId>,
    instance_names: Vec<String>,
    /// Calls this node has outstanding per instance (least-outstanding, P2C).
    outstanding: Vec<u32>,
    health: Vec<InstanceHealth>,
    /// Instances that serve (an autoscaler keeps the rest on standby).
    serving: Vec<bool>,
    round_robin_cursor: usize,
    /// Sorted (hash, instance index).
    hash_ring: Vec<(u64, usize)>,
    breaker: Option<CircuitBreaker>,
    limiter: Option<RateLimiter>,
    budget: Option<RetryBudget>,
    bulkhead_active: u32,
    bulkhead_waiting: VecDeque<(u64, TimerId)>,
}

fn mix64(mut value: u64) -> u64 {
    // splitmix64 finaliser: a fixed, platform-independent hash.
    value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

impl Dependency {
    fn new(
        spec: DependencySpec,
        instances: Vec<(NodeId, String)>,
        initially_serving: usize,
    ) -> Dependency {
        let mut hash_ring: Vec<(u64, usize)> = instances
            .iter()
            .enumerate()
            .flat_map(|(index, (node, _))| {
                (0..HASH_RING_VIRTUAL_NODES)
                    .map(move |virtual_node| (mix64(((node.0 as u64) << 32) | virtual_node), index))
            })
            .collect();
        hash_ring.sort_unstable();
        let count = instances.len();
        Dependency {
            breaker: spec
                .circuit_breaker
                .as_ref()
                .map(|breaker| CircuitBreaker::new(breaker.config())),
            limiter: spec.rate_limiter.as_ref().map(RateLimiter::new),
            budget: spec
                .retry
                .as_ref()
                .and_then(|retry| retry.budget.as_ref())
                .map(RetryBudget::new),
            spec,
            instances: instances.iter().map(|(node, _)| *node).collect(),
            instance_names: instances.into_iter().map(|(_, name)| name).collect(),
            outstanding: vec![0; count],
            health: vec![
                InstanceHealth {
                    healthy: true,
                    consecutive_successes: 0,
                    consecutive_failures: 0,
                };
                count
            ],
            serving: (0..count).map(|index| index < initially_serving).collect(),
            round_robin_cursor: 0,
            hash_ring,
            bulkhead_active: 0,
            bulkhead_waiting: VecDeque::new(),
        }
    }

    /// Picks an instance among the healthy ones; when none is healthy, among
    /// all of them (Envoy's panic routing: better a maybe-dead host than none).
    fn pick(&mut self, ctx: &mut Context<'_>, key: u64) -> Option<usize> {
        let serving: Vec<usize> = (0..self.instances.len())
            .filter(|index| self.serving[*index])
            .collect();
        let healthy: Vec<usize> = serving
            .iter()
            .copied()
            .filter(|index| self.health[*index].healthy)
            .collect();
        let candidates: Vec<usize> = if healthy.is_empty() { serving } else { healthy };
        if candidates.is_empty() {
            return None;
        }
        let picked = match self.spec.load_balancer {
            LoadBalancerPolicy::RoundRobin => {
                let index = candidates[self.round_robin_cursor % candidates.len()];
                self.round_robin_cursor = self.round_robin_cursor.wrapping_add(1);
                index
            }
            LoadBalancerPolicy::Random => {
                candidates[ctx.rng().below(candidates.len() as u64) as usize]
            }
            LoadBalancerPolicy::LeastOutstanding => {
                let fewest = candidates
                    .iter()
                    .map(|index| self.outstanding[*index])
                    .min()
                    .unwrap_or(0);
                let tied: Vec<usize> = candidates
                    .iter()
                    .copied()
                    .filter(|index| self.outstanding[*index] == fewest)
                    .collect();
                // Ties broken at random, as Envoy does.
                tied[ctx.rng().below(tied.len() as u64) as usize]
            }
            LoadBalancerPolicy::PowerOfTwoChoices => {
                let first = ctx.rng().below(candidates.len() as u64) as usize;
                if candidates.len() == 1 {
                    candidates[first]
                } else {
                    let mut second = ctx.rng().below(candidates.len() as u64 - 1) as usize;
                    if second >= first {
                        second += 1;
                    }
                    let (first, second) = (candidates[first], candidates[second]);
                    if self.outstanding[second] < self.outstanding[first] {
                        second
                    } else {
                        first
                    }
                }
            }
            LoadBalancerPolicy::ConsistentHash => {
                let point = mix64(key ^ 0x5EED_0FC0_4515);
                let start = self.hash_ring.partition_point(|(hash, _)| *hash < point);
                let usable = |index: usize| candidates.contains(&index);
                (0..self.hash_ring.len())
                    .map(|offset| self.hash_ring[(start + offset) % self.hash_ring.len()].1)
                    .find(|index| usable(*index))?
            }
        };
        Some(picked)
    }
}

#[derive(Clone, Default)]
struct Statistics {
    started_at: Option<SimTime>,
    last_change: SimTime,
    area_in_system: u128,
    area_busy: u128,
    arrivals: u64,
    arrivals_that_waited: u64,
    started: u64,
    completed: u64,
    ok: u64,
    errors: u64,
    rejected: u64,
    shed: u64,
    wait_sum_us: u128,
    sojourn_sum_us: u128,
    calls: u64,
    call_attempts: u64,
    retries: u64,
    /// Tries the sidecar proxies sent again on their own (sidecar mode).
    sidecar_retries: u64,
    retry_budget_exhausted: u64,
    call_timeouts: u64,
    call_errors: u64,
    short_circuited: u64,
    bulkhead_rejected: u64,
    rate_limited: u64,
    fallbacks: u64,
    breaker_transitions: u64,
    late_replies: u64,
}

/// What an `api_gateway` adds in front of the worker pool. In memory: a
/// crash empties the cache and resets the per-client buckets.
#[derive(Clone)]
struct GatewayFront {
    spec: ApiGatewaySpec,
    limiters: BTreeMap<NodeId, RateLimiter>,
    /// (route, key) → expiry, and the same entries ordered by expiry for eviction.
    cache: BTreeMap<(usize, u64), SimTime>,
    cache_by_expiry: BTreeSet<(SimTime, (usize, u64))>,
    unauthorized: u64,
    client_rate_limited: u64,
    no_route: u64,
    cache_hits: u64,
}

impl GatewayFront {
    fn new(spec: ApiGatewaySpec) -> GatewayFront {
        GatewayFront {
            spec,
            limiters: BTreeMap::new(),
            cache: BTreeMap::new(),
            cache_by_expiry: BTreeSet::new(),
            unauthorized: 0,
            client_rate_limited: 0,
            no_route: 0,
            cache_hits: 0,
        }
    }

    /// The route whose prefix is the longest match for `path`.
    fn route(&self, path: &str) -> Option<usize> {
        self.spec
            .routes
            .iter()
            .enumerate()
            .filter(|(_, route)| path.starts_with(route.path_prefix.as_str()))
            .max_by_key(|(index, route)| (route.path_prefix.len(), std::cmp::Reverse(*index)))
            .map(|(index, _)| index)
    }

    fn cached(&mut self, now: SimTime, key: (usize, u64)) -> bool {
        self.cache.get(&key).is_some_and(|expiry| *expiry > now)
    }

    fn store(&mut self, now: SimTime, key: (usize, u64)) {
        let Some(ttl_ms) = self.spec.routes[key.0].cache_ttl_ms else {
            return;
        };
        if let Some(old) = self.cache.remove(&key) {
            self.cache_by_expiry.remove(&(old, key));
        }
        // Drop expired entries first, then the nearest to expiry while full.
        while let Some(first) = self.cache_by_expiry.first().copied() {
            if first.0 > now && self.cache.len() < self.spec.max_cache_entries as usize {
                break;
            }
            self.cache_by_expiry.remove(&first);
            self.cache.remove(&first.1);
        }
        if self.spec.max_cache_entries == 0 {
            return;
        }
        let expiry = now.plus(SimDuration::from_millis(ttl_ms));
        self.cache.insert(key, expiry);
        self.cache_by_expiry.insert((expiry, key));
    }
}

/// What a dependency is rebuilt from: its policy, its instances (node, name)
/// and how many of them serve at first.
type DependencyTemplate = (DependencySpec, Vec<(NodeId, String)>, usize);

#[derive(Clone)]
pub struct Service {
    spec: ServiceSpec,
    gateway: Option<GatewayFront>,
    /// Built once; cloned into `dependencies` on start and after a crash.
    dependency_templates: Vec<DependencyTemplate>,
    /// Index in `dependencies` by called service name.
    dependency_index: BTreeMap<String, usize>,
    // Volatile state, lost on crash:
    dependencies: Vec<Dependency>,
    waiting: VecDeque<Job>,
    jobs: BTreeMap<u64, Job>,
    calls: BTreeMap<u64, Call>,
    /// probe id → (dependency, instance, timeout timer).
    probes: BTreeMap<u64, (usize, usize, TimerId)>,
    next_job: u64,
    next_call: u64,
    next_probe: u64,
    statistics: Statistics,
    /// When the autoscaler last asked, and ∫ in-system by then.
    utilisation_mark: (SimTime, u128),
    me: NodeId,
    /// Publish, consume, database and cache steps.
    io: ServiceIo,
    /// The endpoint a consumed message runs.
    consume_endpoint: Option<usize>,
}

/// Instances of `service` in a scenario: `service` nodes whose service name is it.
pub fn service_instances(scenario: &Scenario, service: &str) -> Vec<usize> {
    scenario
        .topology
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| match &node.spec {
            ComponentSpec::Service(spec) => {
                spec.service_name.as_deref().unwrap_or(&node.id) == service
            }
            _ => false,
        })
        .map(|(index, _)| index)
        .collect()
}

impl Service {
    pub fn new(
        spec: &ServiceSpec,
        me: NodeId,
        scenario: &Scenario,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> Service {
        // Every called service gets a dependency: its entry, or defaults.
        let mut called: Vec<String> = Vec::new();
        for endpoint in &spec.endpoints {
            for step in &endpoint.steps {
                if let StepSpec::Call { service, .. } = step
                    && !called.contains(service)
                {
                    called.push(service.clone());
                }
            }
        }
        for dependency in &spec.dependencies {
            if !called.contains(&dependency.service) {
                called.push(dependency.service.clone());
            }
        }
        let mut dependency_templates = Vec::new();
        let mut dependency_index = BTreeMap::new();
        for service in called {
            let dependency_spec = spec
                .dependencies
                .iter()
                .find(|dependency| dependency.service == service)
                .cloned()
                .unwrap_or_else(|| DependencySpec::default_for(&service));
            let instances: Vec<(NodeId, String)> = service_instances(scenario, &service)
                .into_iter()
                .filter_map(|index| {
                    let name = &scenario.topology.nodes[index].id;
                    Some((*node_ids.get(name)?, name.clone()))
                })
                .collect();
            // With an autoscaler, only its initial instances serve at first.
            let initially_serving = scenario
                .topology
                .nodes
                .iter()
                .find_map(|node| match &node.spec {
                    ComponentSpec::Autoscaler(autoscaler) if autoscaler.service == service => {
                        Some(crate::components::autoscaler::Autoscaler::initial_serving(
                            autoscaler,
                            instances.len(),
                        ))
                    }
                    _ => None,
                })
                .unwrap_or(instances.len());
            dependency_index.insert(service, dependency_templates.len());
            dependency_templates.push((dependency_spec, instances, initially_serving));
        }
        let mut service = Service {
            spec: spec.clone(),
            gateway: None,
            dependency_templates,
            dependency_index,
            dependencies: Vec::new(),
            waiting: VecDeque::new(),
            jobs: BTreeMap::new(),
            calls: BTreeMap::new(),
            probes: BTreeMap::new(),
            next_job: 0,
            next_call: 0,
            next_probe: 0,
            statistics: Statistics::default(),
            utilisation_mark: (SimTime::ZERO, 0),
            me,
            io: ServiceIo::new(spec, me, scenario, node_ids),
            consume_endpoint: spec
                .messaging
                .as_ref()
                .and_then(|messaging| messaging.consume.as_ref())
                .and_then(|consume| {
                    spec.endpoints
                        .iter()
                        .position(|endpoint| endpoint.name == consume.endpoint)
                }),
        };
        service.reset_dependencies();
        service
    }

    /// An API gateway is a service whose endpoints are its routes, each one
    /// call to the routed service, with the gateway's checks in front.
    pub fn new_gateway(
        spec: &ApiGatewaySpec,
        me: NodeId,
        scenario: &Scenario,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> Service {
        let endpoints = spec
            .routes
            .iter()
            .map(|route| EndpointSpec {
                name: route.path_prefix.clone(),
                steps: vec![StepSpec::Call {
                    service: route.service.clone(),
                    endpoint: route.endpoint.clone(),
                }],
                error_probability: 0.0,
                key_count: spec.key_count,
            })
            .collect();
        let mut dependencies = spec.dependencies.clone();
        for route in &spec.routes {
            if !dependencies
                .iter()
                .any(|dependency| dependency.service == route.service)
            {
                let mut dependency = DependencySpec::default_for(&route.service);
                dependency.timeout_ms = spec.request_timeout_ms;
                dependencies.push(dependency);
            }
        }
        let service_spec = ServiceSpec {
            service_name: None,
            workers: spec.workers,
            queue_capacity_requests: spec.queue_capacity_requests,
            endpoints,
            dependencies,
            load_shedding: None,
            messaging: None,
        };
        let mut service = Service::new(&service_spec, me, scenario, node_ids);
        service.gateway = Some(GatewayFront::new(spec.clone()));
        service
    }

    /// The gateway's checks, in order: token (401), client rate (429),
    /// route (404), cache; then the request joins the queue like any other.
    fn gateway_request(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        operation: u64,
        path: &str,
        auth_token: bool,
    ) {
        let now = ctx.now();
        let origin = Origin::Client { from, operation };
        let Some(front) = self.gateway.as_mut() else {
            return;
        };
        if front.spec.require_auth_token && !auth_token {
            front.unauthorized += 1;
            ctx.error("unauthorized");
            self.answer(ctx, origin, ServiceStatus::Rejected);
            return;
        }
        if let Some(limit) = &front.spec.per_client_rate_limit {
            let limiter = front
                .limiters
                .entry(from)
                .or_insert_with(|| RateLimiter::new(limit));
            if !limiter.try_acquire(now) {
                front.client_rate_limited += 1;
                ctx.error("client_rate_limited");
                self.answer(ctx, origin, ServiceStatus::Rejected);
                return;
            }
        }
        let Some(route) = front.route(path) else {
            front.no_route += 1;
            ctx.error("no_route");
            self.answer(ctx, origin, ServiceStatus::Rejected);
            return;
        };
        let key = ctx.rng().below(front.spec.key_count.max(1) as u64);
        let cacheable = front.spec.routes[route].cache_ttl_ms.is_some();
        if cacheable && front.cached(now, (route, key)) {
            front.cache_hits += 1;
            ctx.completed(SimDuration::ZERO);
            self.answer(ctx, origin, ServiceStatus::Ok);
            return;
        }
        let root = SpanRef {
            node: from,
            id: operation,
        };
        self.arrive(
            ctx,
            Job {
                origin,
                trace: root,
                span: root,
                endpoint: route,
                key,
                step: 0,
                arrived_at: now,
                cache_key: cacheable.then_some((route, key)),
            },
        );
    }

    fn reset_dependencies(&mut self) {
        self.dependencies = self
            .dependency_templates
            .iter()
            .map(|(spec, instances, serving)| {
                Dependency::new(spec.clone(), instances.clone(), *serving)
            })
            .collect();
    }

    fn advance_integrals(&mut self, now: SimTime) {
        let statistics = &mut self.statistics;
        let elapsed = now.since(statistics.last_change).as_micros() as u128;
        let busy = self.jobs.len() as u128;
        let waiting = self.waiting.len() as u128;
        statistics.area_in_system += (busy + waiting) * elapsed;
        statistics.area_busy += busy * elapsed;
        statistics.last_change = now;
    }

    // ---- Inbound requests ------------------------------------------------

    fn arrive(&mut self, ctx: &mut Context<'_>, job: Job) {
        let now = ctx.now();
        self.advance_integrals(now);
        self.statistics.arrivals += 1;
        if let Some(shedding) = &self.spec.load_shedding {
            let too_long = shedding
                .max_queue_length_requests
                .is_some_and(|limit| self.waiting.len() >= limit as usize);
            let too_old = shedding.max_queue_wait_ms.is_some_and(|limit| {
                self.waiting.front().is_some_and(|oldest| {
                    now.since(oldest.arrived_at) >= SimDuration::from_millis(limit)
                })
            });
            if too_long || too_old {
                self.statistics.shed += 1;
                ctx.error("shed");
                self.answer(ctx, job.origin, ServiceStatus::Shed);
                return;
            }
        }
        if self.jobs.len() < self.spec.workers as usize {
            self.start_job(ctx, job);
        } else if self.waiting.len() < self.spec.queue_capacity_requests as usize {
            self.statistics.arrivals_that_waited += 1;
            self.waiting.push_back(job);
        } else {
            self.statistics.rejected += 1;
            ctx.error("rejected_queue_full");
            self.answer(ctx, job.origin, ServiceStatus::Rejected);
        }
    }

    fn answer(&mut self, ctx: &mut Context<'_>, origin: Origin, status: ServiceStatus) {
        match origin {
            Origin::Client { from, operation } => ctx.send(
                from,
                Payload::Response {
                    operation,
                    ok: status == ServiceStatus::Ok,
                },
                256,
            ),
            Origin::Caller {
                from,
                call,
                attempt,
            } => ctx.send(
                from,
                Payload::ServiceReply {
                    call,
                    attempt,
                    status,
                },
                256,
            ),
            Origin::Delivery {
                connection,
                delivery_tag,
            } => match status {
                ServiceStatus::Ok => self.io.settle(ctx, connection, delivery_tag, true),
                // Refused before it ran (queue full, shed): it comes back.
                ServiceStatus::Rejected | ServiceStatus::Shed => {
                    self.io.settle_requeue(ctx, connection, delivery_tag)
                }
                _ => self.io.settle(ctx, connection, delivery_tag, false),
            },
        }
    }

    fn start_job(&mut self, ctx: &mut Context<'_>, job: Job) {
        let wait = ctx.now().since(job.arrived_at);
        self.statistics.started += 1;
        self.statistics.wait_sum_us += wait.as_micros() as u128;
        let id = self.next_job;
        self.next_job += 1;
        self.jobs.insert(id, job);
        self.run_step(ctx, id);
    }

    /// Runs the job's current step, or answers when none is left.
    fn run_step(&mut self, ctx: &mut Context<'_>, job_id: u64) {
        let Some(job) = self.jobs.get(&job_id) else {
            return;
        };
        let endpoint = &self.spec.endpoints[job.endpoint];
        let Some(step) = endpoint.steps.get(job.step) else {
            let failed = ctx.rng().chance(endpoint.error_probability);
            self.finish_job(ctx, job_id, !failed);
            return;
        };
        match step {
            StepSpec::Compute { service_time } => {
                let nominal = service_time.sample(ctx.rng());
                let service = ctx.service_time(nominal);
                ctx.set_timer(
                    service,
                    TimerTag {
                        kind: TIMER_STEP_DONE,
                        id: job_id,
                    },
                );
            }
            StepSpec::Call { service, endpoint } => {
                let dependency = self.dependency_index[service];
                let endpoint = endpoint.clone().unwrap_or_default();
                self.begin_call(ctx, job_id, dependency, endpoint);
            }
            StepSpec::Publish {
                exchange,
                routing_key,
            } => {
                let (exchange, routing_key) = (exchange.clone(), routing_key.clone());
                if !self.io.publish(ctx, job_id, &exchange, &routing_key) {
                    ctx.error("publish_refused");
                    self.finish_job(ctx, job_id, false);
                }
            }
            StepSpec::Database {
                database,
                operation,
                timeout_ms,
            } => {
                let (database, operation, timeout_ms, key) =
                    (database.clone(), *operation, *timeout_ms, job.key);
                if !self
                    .io
                    .database(ctx, job_id, &database, operation, key, timeout_ms)
                {
                    self.finish_job(ctx, job_id, false);
                }
            }
            StepSpec::Cache { cache, timeout_ms } => {
                let (cache, timeout_ms) = (cache.clone(), *timeout_ms);
                if !self.io.cache(ctx, job_id, &cache, timeout_ms) {
                    self.finish_job(ctx, job_id, false);
                }
            }
        }
    }

    fn on_io_event(&mut self, ctx: &mut Context<'_>, event: IoEvent) {
        match event {
            IoEvent::StepDone { job, ok: true } => self.next_step(ctx, job),
            IoEvent::StepDone { job, ok: false } => {
                ctx.error("step_failed");
                self.finish_job(ctx, job, false);
            }
            IoEvent::Delivered {
                connection,
                delivery_tag,
            } => {
                let Some(endpoint) = self.consume_endpoint else {
                    return;
                };
                let key_count = self.spec.endpoints[endpoint].key_count.max(1) as u64;
                let key = ctx.rng().below(key_count);
                let root = SpanRef {
                    node: self.me,
                    id: u64::MAX - self.io.consumed,
                };
                self.arrive(
                    ctx,
                    Job {
                        origin: Origin::Delivery {
                            connection,
                            delivery_tag,
                        },
                        trace: root,
                        span: root,
                        endpoint,
                        key,
                        step: 0,
                        arrived_at: ctx.now(),
                        cache_key: None,
                    },
                );
            }
        }
    }

    fn next_step(&mut self, ctx: &mut Context<'_>, job_id: u64) {
        if let Some(job) = self.jobs.get_mut(&job_id) {
            job.step += 1;
            self.run_step(ctx, job_id);
        }
    }

    fn finish_job(&mut self, ctx: &mut Context<'_>, job_id: u64, ok: bool) {
        let now = ctx.now();
        self.advance_integrals(now);
        let Some(job) = self.jobs.remove(&job_id) else {
            return;
        };
        let sojourn = now.since(job.arrived_at);
        self.statistics.completed += 1;
        self.statistics.sojourn_sum_us += sojourn.as_micros() as u128;
        if ok {
            self.statistics.ok += 1;
            ctx.completed(sojourn);
            if let (Some(front), Some(key)) = (self.gateway.as_mut(), job.cache_key) {
                front.store(now, key);
            }
        } else {
            self.statistics.errors += 1;
            ctx.error("endpoint_error");
        }
        let status = if ok {
            ServiceStatus::Ok
        } else {
            ServiceStatus::Error
        };
        self.answer(ctx, job.origin, status);
        if let Some(next) = self.waiting.pop_front() {
            self.start_job(ctx, next);
        }
    }

    // ---- Outbound calls --------------------------------------------------

    fn emit_transition(
        &mut self,
        ctx: &mut Context<'_>,
        dependency: usize,
        transition: BreakerTransition,
    ) {
        self.statistics.breaker_transitions += 1;
        let service = self.dependencies[dependency].spec.service.clone();
        ctx.state(format!(
            "circuit breaker to {service}: {} -> {} ({})",
            transition.from.as_str(),
            transition.to.as_str(),
            transition.reason
        ));
        ctx.fact(Fact::CircuitBreakerTransition {
            service,
            from: transition.from.as_str().to_string(),
            to: transition.to.as_str().to_string(),
            reason: transition.reason,
        });
        let automatic = self.dependencies[dependency]
            .breaker
            .as_ref()
            .is_some_and(|breaker| breaker.config().automatic_transition_from_open_to_half_open);
        if transition.to == crate::components::resilience::BreakerState::Open && automatic {
            let wait = self.dependencies[dependency]
                .breaker
                .as_ref()
                .map_or(0, |breaker| breaker.config().wait_duration_in_open_state_ms);
            ctx.set_timer(
                SimDuration::from_millis(wait),
                TimerTag {
                    kind: TIMER_BREAKER_WAIT,
                    id: dependency as u64,
                },
            );
        }
    }

    fn begin_call(&mut self, ctx: &mut Context<'_>, job: u64, dependency: usize, endpoint: String) {
        let id = self.next_call;
        self.next_call += 1;
        self.statistics.calls += 1;
        let now = ctx.now();
        if let Some(budget) = self.dependencies[dependency].budget.as_mut() {
            budget.deposit(now);
        }
        let base_ms = self.dependencies[dependency]
            .spec
            .retry
            .as_ref()
            .map_or(0.0, |retry| retry.base_ms);
        self.calls.insert(
            id,
            Call {
                job,
                dependency,
                endpoint,
                attempt: 0,
                attempt_started_at: now,
                instance: None,
                timer: None,
                permit: None,
                in_bulkhead: false,
                previous_backoff_ms: base_ms,
                sidecar_tries: 0,
                sidecar_previous_backoff_ms: 0.0,
            },
        );
        self.start_attempt(ctx, id);
    }

    /// Guards in order: rate limiter, circuit breaker, bulkhead; then send.
    fn start_attempt(&mut self, ctx: &mut Context<'_>, call_id: u64) {
        let now = ctx.now();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        call.attempt += 1;
        call.sidecar_tries = 0;
        let dependency_index = call.dependency;
        let dependency = &mut self.dependencies[dependency_index];
        call.sidecar_previous_backoff_ms = dependency
            .spec
            .sidecar_retry
            .as_ref()
            .map_or(0.0, |retry| retry.base_ms);
        if let Some(limiter) = dependency.limiter.as_mut()
            && !limiter.try_acquire(now)
        {
            self.statistics.rate_limited += 1;
            ctx.error("rate_limited");
            self.finish_call(ctx, call_id, false);
            return;
        }
        if let Some(breaker) = dependency.breaker.as_mut() {
            let (permit, transition) = breaker.try_acquire(now);
            if let Some(transition) = transition {
                self.emit_transition(ctx, dependency_index, transition);
            }
            match permit {
                Some(permit) => {
                    if let Some(call) = self.calls.get_mut(&call_id) {
                        call.permit = Some(permit);
                    }
                }
                None => {
                    self.statistics.short_circuited += 1;
                    ctx.error("short_circuited");
                    self.finish_call(ctx, call_id, false);
                    return;
                }
            }
        }
        let dependency = &mut self.dependencies[dependency_index];
        if let Some(bulkhead) = dependency.spec.bulkhead.clone()
            && dependency.bulkhead_active >= bulkhead.max_concurrent_calls
        {
            if bulkhead.max_wait_duration_ms > 0
                && dependency.bulkhead_waiting.len() < MAX_BULKHEAD_WAITERS
            {
                let timer = ctx.set_timer(
                    SimDuration::from_millis(bulkhead.max_wait_duration_ms),
                    TimerTag {
                        kind: TIMER_BULKHEAD_WAIT,
                        id: call_id,
                    },
                );
                dependency.bulkhead_waiting.push_back((call_id, timer));
                return;
            }
            self.refuse_by_bulkhead(ctx, call_id);
            return;
        }
        self.send_attempt(ctx, call_id);
    }

    fn refuse_by_bulkhead(&mut self, ctx: &mut Context<'_>, call_id: u64) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        // The call never happened: give the breaker permit back.
        if let (Some(permit), Some(breaker)) = (
            call.permit.take(),
            self.dependencies[call.dependency].breaker.as_mut(),
        ) {
            breaker.release(permit);
        }
        self.statistics.bulkhead_rejected += 1;
        ctx.error("bulkhead_full");
        self.finish_call(ctx, call_id, false);
    }

    fn send_attempt(&mut self, ctx: &mut Context<'_>, call_id: u64) {
        let Some(job_id) = self.calls.get(&call_id).map(|call| call.job) else {
            return;
        };
        let Some(job) = self.jobs.get(&job_id) else {
            return;
        };
        let (trace, parent, key) = (job.trace, job.span, job.key);
        let call = self.calls.get_mut(&call_id).expect("checked above");
        let dependency = &mut self.dependencies[call.dependency];
        let Some(instance) = dependency.pick(ctx, key) else {
            self.finish_call(ctx, call_id, false);
            return;
        };
        if dependency.spec.bulkhead.is_some() {
            dependency.bulkhead_active += 1;
            call.in_bulkhead = true;
        }
        dependency.outstanding[instance] += 1;
        call.instance = Some(instance);
        call.attempt_started_at = ctx.now();
        call.sidecar_tries += 1;
        self.statistics.call_attempts += 1;
        ctx.send(
            dependency.instances[instance],
            Payload::ServiceCall {
                call: call_id,
                attempt: call.attempt,
                trace,
                parent,
                endpoint: call.endpoint.clone(),
                key,
            },
            256,
        );
        call.timer = Some(ctx.set_timer(
            SimDuration::from_millis(dependency.spec.timeout_ms),
            TimerTag {
                kind: TIMER_CALL_TIMEOUT,
                id: call_id,
            },
        ));
    }

    /// One attempt ended (reply or timeout): free its slots, tell the breaker, retry or finish.
    fn attempt_finished(&mut self, ctx: &mut Context<'_>, call_id: u64, ok: bool) {
        let now = ctx.now();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if let Some(timer) = call.timer.take() {
            ctx.cancel_timer(timer);
        }
        let dependency_index = call.dependency;
        let dependency = &mut self.dependencies[dependency_index];
        if let Some(instance) = call.instance.take() {
            dependency.outstanding[instance] = dependency.outstanding[instance].saturating_sub(1);
        }
        let released_slot = std::mem::take(&mut call.in_bulkhead);
        let duration_ms = now.since(call.attempt_started_at).as_millis_f64();
        let attempt = call.attempt;
        let previous_backoff_ms = call.previous_backoff_ms;
        // Sidecar mode: the proxy retries this try on its own; the
        // application's breaker, retry and budget see nothing of it.
        let sidecar_retry = dependency
            .spec
            .sidecar_retry
            .clone()
            .filter(|sidecar| !ok && call.sidecar_tries < sidecar.max_attempts);
        if sidecar_retry.is_none()
            && let (Some(permit), Some(breaker)) = (call.permit.take(), dependency.breaker.as_mut())
            && let Some(transition) = breaker.on_result(now, permit, !ok, duration_ms)
        {
            self.emit_transition(ctx, dependency_index, transition);
        }
        if released_slot {
            self.release_bulkhead_slot(ctx, dependency_index);
        }
        if let Some(sidecar) = sidecar_retry {
            let uniform = ctx.rng().next_f64();
            let Some(call) = self.calls.get_mut(&call_id) else {
                return;
            };
            let delay_ms = backoff_delay_ms(
                sidecar.jitter,
                sidecar.base_ms,
                sidecar.cap_ms,
                call.sidecar_tries - 1,
                call.sidecar_previous_backoff_ms,
                uniform,
            );
            call.sidecar_previous_backoff_ms = delay_ms;
            self.statistics.sidecar_retries += 1;
            ctx.set_timer(
                SimDuration::from_millis_f64(delay_ms),
                TimerTag {
                    kind: TIMER_SIDECAR_RETRY,
                    id: call_id,
                },
            );
            return;
        }
        if ok {
            self.finish_call(ctx, call_id, true);
            return;
        }
        let dependency = &mut self.dependencies[dependency_index];
        let Some(retry) = dependency.spec.retry.clone() else {
            self.finish_call(ctx, call_id, false);
            return;
        };
        if attempt >= retry.max_attempts {
            self.finish_call(ctx, call_id, false);
            return;
        }
        if let Some(budget) = dependency.budget.as_mut()
            && !budget.try_withdraw(now)
        {
            self.statistics.retry_budget_exhausted += 1;
            ctx.error("retry_budget_exhausted");
            self.finish_call(ctx, call_id, false);
            return;
        }
        let uniform = ctx.rng().next_f64();
        let delay_ms = backoff_delay_ms(
            retry.jitter,
            retry.base_ms,
            retry.cap_ms,
            attempt - 1,
            previous_backoff_ms,
            uniform,
        );
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.previous_backoff_ms = delay_ms;
        }
        self.statistics.retries += 1;
        ctx.set_timer(
            SimDuration::from_millis_f64(delay_ms),
            TimerTag {
                kind: TIMER_RETRY_BACKOFF,
                id: call_id,
            },
        );
    }

    fn release_bulkhead_slot(&mut self, ctx: &mut Context<'_>, dependency_index: usize) {
        let dependency = &mut self.dependencies[dependency_index];
        dependency.bulkhead_active = dependency.bulkhead_active.saturating_sub(1);
        if let Some((waiter, timer)) = dependency.bulkhead_waiting.pop_front() {
            ctx.cancel_timer(timer);
            self.send_attempt(ctx, waiter);
        }
    }

    /// The logical call is over: the job goes on, or fails (unless a fallback answers).
    fn finish_call(&mut self, ctx: &mut Context<'_>, call_id: u64, ok: bool) {
        let Some(call) = self.calls.remove(&call_id) else {
            return;
        };
        if ok {
            self.next_step(ctx, call.job);
            return;
        }
        self.statistics.call_errors += 1;
        match self.dependencies[call.dependency].spec.fallback {
            FallbackSpec::DefaultResponse => {
                self.statistics.fallbacks += 1;
                self.next_step(ctx, call.job);
            }
            FallbackSpec::Error => self.finish_job(ctx, call.job, false),
        }
    }

    // ---- Health checks ---------------------------------------------------

    fn schedule_health_tick(&mut self, ctx: &mut Context<'_>, dependency: usize) {
        if let Some(health) = &self.dependencies[dependency].spec.health_check {
            ctx.set_timer(
                SimDuration::from_millis(health.interval_ms),
                TimerTag {
                    kind: TIMER_HEALTH_TICK,
                    id: dependency as u64,
                },
            );
        }
    }

    fn probe_all(&mut self, ctx: &mut Context<'_>, dependency_index: usize) {
        let dependency = &self.dependencies[dependency_index];
        let Some(health) = dependency.spec.health_check.clone() else {
            return;
        };
        for (instance, node) in dependency.instances.clone().into_iter().enumerate() {
            let probe = self.next_probe;
            self.next_probe += 1;
            ctx.send(node, Payload::HealthProbe { probe }, 64);
            let timer = ctx.set_timer(
                SimDuration::from_millis(health.timeout_ms),
                TimerTag {
                    kind: TIMER_HEALTH_PROBE_TIMEOUT,
                    id: probe,
                },
            );
            self.probes
                .insert(probe, (dependency_index, instance, timer));
        }
        self.schedule_health_tick(ctx, dependency_index);
    }

    fn probe_result(&mut self, ctx: &mut Context<'_>, probe: u64, success: bool) {
        let Some((dependency_index, instance, timer)) = self.probes.remove(&probe) else {
            return;
        };
        if success {
            ctx.cancel_timer(timer);
        }
        let dependency = &mut self.dependencies[dependency_index];
        let Some(health) = dependency.spec.health_check.clone() else {
            return;
        };
        let state = &mut dependency.health[instance];
        if success {
            state.consecutive_successes += 1;
            state.consecutive_failures = 0;
            if !state.healthy && state.consecutive_successes >= health.healthy_threshold {
                state.healthy = true;
                let text = format!(
                    "health check: {} healthy again ({} probes passed)",
                    dependency.instance_names[instance], state.consecutive_successes
                );
                ctx.state(text);
            }
        } else {
            state.consecutive_failures += 1;
            state.consecutive_successes = 0;
            if state.healthy && state.consecutive_failures >= health.unhealthy_threshold {
                state.healthy = false;
                let text = format!(
                    "health check: {} unhealthy ({} probes failed), out of balancing",
                    dependency.instance_names[instance], state.consecutive_failures
                );
                ctx.state(text);
            }
        }
    }
}

impl Component for Service {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.statistics.started_at.get_or_insert(ctx.now());
        self.statistics.last_change = ctx.now();
        self.io.start(ctx);
        for dependency in 0..self.dependencies.len() {
            self.schedule_health_tick(ctx, dependency);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let events = self.io.on_message(ctx, envelope);
        if !events.is_empty() {
            for event in events {
                self.on_io_event(ctx, event);
            }
            return;
        }
        let now = ctx.now();
        match &envelope.payload {
            Payload::Request { operation, .. } => {
                let endpoint = 0;
                let key_count = self.spec.endpoints[endpoint].key_count.max(1) as u64;
                let key = ctx.rng().below(key_count);
                let root = SpanRef {
                    node: envelope.from,
                    id: *operation,
                };
                self.arrive(
                    ctx,
                    Job {
                        origin: Origin::Client {
                            from: envelope.from,
                            operation: *operation,
                        },
                        trace: root,
                        span: root,
                        endpoint,
                        key,
                        step: 0,
                        arrived_at: now,
                        cache_key: None,
                    },
                );
            }
            Payload::ServiceCall {
                call,
                attempt,
                trace,
                endpoint,
                key,
                ..
            } => {
                let endpoint = self
                    .spec
                    .endpoints
                    .iter()
                    .position(|candidate| &candidate.name == endpoint)
                    .unwrap_or(0);
                self.arrive(
                    ctx,
                    Job {
                        origin: Origin::Caller {
                            from: envelope.from,
                            call: *call,
                            attempt: *attempt,
                        },
                        trace: *trace,
                        span: SpanRef {
                            node: envelope.from,
                            id: *call,
                        },
                        endpoint,
                        key: *key,
                        step: 0,
                        arrived_at: now,
                        cache_key: None,
                    },
                );
            }
            Payload::ServiceReply {
                call,
                attempt,
                status,
            } => {
                let current = self.calls.get(call).is_some_and(|pending| {
                    pending.attempt == *attempt
                        && pending.timer.is_some()
                        && pending.instance.is_some_and(|instance| {
                            self.dependencies[pending.dependency].instances[instance]
                                == envelope.from
                        })
                });
                if !current {
                    self.statistics.late_replies += 1;
                    return;
                }
                let ok = *status == ServiceStatus::Ok;
                if !ok {
                    ctx.error(match status {
                        ServiceStatus::Rejected => "call_rejected",
                        ServiceStatus::Shed => "call_shed",
                        _ => "call_error",
                    });
                }
                self.attempt_finished(ctx, *call, ok);
            }
            Payload::HttpRequest {
                operation,
                path,
                auth_token,
                ..
            } => {
                let path = path.clone();
                self.gateway_request(ctx, envelope.from, *operation, &path, *auth_token);
            }
            Payload::HealthProbe { probe } => {
                ctx.send(
                    envelope.from,
                    Payload::HealthProbeReply { probe: *probe },
                    64,
                );
            }
            Payload::HealthProbeReply { probe } => self.probe_result(ctx, *probe, true),
            Payload::UtilisationQuery { probe } => {
                self.advance_integrals(now);
                let (marked_at, marked_area) = self.utilisation_mark;
                let elapsed_us = now.since(marked_at).as_micros() as f64;
                let area = self.statistics.area_in_system - marked_area;
                self.utilisation_mark = (now, self.statistics.area_in_system);
                let report = Payload::UtilisationReport {
                    probe: *probe,
                    mean_in_system: if elapsed_us > 0.0 {
                        area as f64 / elapsed_us
                    } else {
                        (self.jobs.len() + self.waiting.len()) as f64
                    },
                    workers: self.spec.workers,
                };
                ctx.send(envelope.from, report, 64);
            }
            Payload::EndpointsUpdate { service, serving } => {
                if let Some(index) = self.dependency_index.get(service) {
                    let dependency = &mut self.dependencies[*index];
                    for (position, instance) in dependency.instances.iter().enumerate() {
                        dependency.serving[position] = serving.contains(instance);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if let Some(events) = self.io.on_timer(ctx, tag) {
            for event in events {
                self.on_io_event(ctx, event);
            }
            return;
        }
        match tag.kind {
            TIMER_STEP_DONE => self.next_step(ctx, tag.id),
            TIMER_CALL_TIMEOUT => {
                if let Some(call) = self.calls.get_mut(&tag.id) {
                    // The timer fired: nothing to cancel.
                    call.timer = None;
                    self.statistics.call_timeouts += 1;
                    ctx.error("call_timeout");
                    self.attempt_finished(ctx, tag.id, false);
                }
            }
            TIMER_RETRY_BACKOFF => self.start_attempt(ctx, tag.id),
            TIMER_SIDECAR_RETRY => self.send_attempt(ctx, tag.id),
            TIMER_BULKHEAD_WAIT => {
                let Some(call) = self.calls.get(&tag.id) else {
                    return;
                };
                let dependency = &mut self.dependencies[call.dependency];
                let before = dependency.bulkhead_waiting.len();
                dependency
                    .bulkhead_waiting
                    .retain(|(waiter, _)| *waiter != tag.id);
                if dependency.bulkhead_waiting.len() < before {
                    self.refuse_by_bulkhead(ctx, tag.id);
                }
            }
            TIMER_HEALTH_TICK => self.probe_all(ctx, tag.id as usize),
            TIMER_HEALTH_PROBE_TIMEOUT => self.probe_result(ctx, tag.id, false),
            TIMER_BREAKER_WAIT => {
                let dependency = tag.id as usize;
                let transition = self.dependencies[dependency]
                    .breaker
                    .as_mut()
                    .and_then(|breaker| breaker.on_wait_elapsed(ctx.now()));
                if let Some(transition) = transition {
                    self.emit_transition(ctx, dependency, transition);
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.advance_integrals(ctx.now());
        let lost = self.waiting.len() + self.jobs.len();
        self.waiting.clear();
        self.jobs.clear();
        self.calls.clear();
        self.probes.clear();
        self.io.on_crash();
        // Breakers, budgets, limiters, health views and the gateway cache are
        // in memory. The serving set is kept: a restarted caller re-reads the
        // endpoints on start, as kube-proxy does.
        let serving: Vec<Vec<bool>> = self
            .dependencies
            .iter()
            .map(|dependency| dependency.serving.clone())
            .collect();
        self.reset_dependencies();
        for (dependency, serving) in self.dependencies.iter_mut().zip(serving) {
            dependency.serving = serving;
        }
        if let Some(front) = self.gateway.take() {
            self.gateway = Some(GatewayFront::new(front.spec));
        }
        if lost > 0 {
            ctx.state(format!("lost {lost} queued/in-service requests"));
        }
    }

    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        self.statistics.last_change = ctx.now();
        self.io.start(ctx);
        for dependency in 0..self.dependencies.len() {
            self.schedule_health_tick(ctx, dependency);
        }
    }

    fn view(&self) -> ComponentView {
        let open = self
            .dependencies
            .iter()
            .filter(|dependency| {
                dependency.breaker.as_ref().is_some_and(|breaker| {
                    breaker.state() != crate::components::resilience::BreakerState::Closed
                })
            })
            .count();
        ComponentView {
            queue_depth: self.waiting.len() as u64,
            in_progress: self.jobs.len() as u64,
            badge: if open > 0 {
                format!(
                    "{}/{} busy, {open} breaker(s) not closed",
                    self.jobs.len(),
                    self.spec.workers
                )
            } else {
                format!("{}/{} busy", self.jobs.len(), self.spec.workers)
            },
        }
    }

    fn live_status(&self) -> crate::live::NodeLiveStatus {
        use crate::components::resilience::BreakerState;
        use crate::live::BreakerBadge;
        let circuit_breaker = self
            .dependencies
            .iter()
            .filter_map(|dependency| dependency.breaker.as_ref())
            .map(|breaker| match breaker.state() {
                BreakerState::Closed => BreakerBadge::Closed,
                BreakerState::HalfOpen => BreakerBadge::HalfOpen,
                BreakerState::Open => BreakerBadge::Open,
            })
            .max();
        crate::live::NodeLiveStatus {
            circuit_breaker,
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn summary(&self, now: SimTime) -> Vec<(&'static str, f64)> {
        let statistics = &self.statistics;
        let tail = now.since(statistics.last_change).as_micros() as u128;
        let busy = self.jobs.len() as u128;
        let waiting = self.waiting.len() as u128;
        let elapsed_us = now.since(statistics.started_at.unwrap_or(now)).as_micros() as f64;
        let per_time = |area: u128| {
            if elapsed_us > 0.0 {
                area as f64 / elapsed_us
            } else {
                0.0
            }
        };
        let per_job = |sum: u128, count: u64| {
            if count > 0 {
                sum as f64 / count as f64 / 1_000.0
            } else {
                0.0
            }
        };
        let admitted = statistics.arrivals - statistics.rejected - statistics.shed;
        let mut summary = vec![
            ("arrivals", statistics.arrivals as f64),
            ("served", statistics.completed as f64),
            ("ok", statistics.ok as f64),
            ("errors", statistics.errors as f64),
            ("rejected", statistics.rejected as f64),
            ("shed", statistics.shed as f64),
            (
                "throughput_per_s",
                if elapsed_us > 0.0 {
                    statistics.completed as f64 / (elapsed_us / 1e6)
                } else {
                    0.0
                },
            ),
            (
                "utilisation",
                per_time(statistics.area_busy + busy * tail) / self.spec.workers as f64,
            ),
            (
                "mean_in_system",
                per_time(statistics.area_in_system + (busy + waiting) * tail),
            ),
            (
                "wait_probability",
                if admitted > 0 {
                    statistics.arrivals_that_waited as f64 / admitted as f64
                } else {
                    0.0
                },
            ),
            (
                "mean_wait_ms",
                per_job(statistics.wait_sum_us, statistics.started),
            ),
            (
                "mean_sojourn_ms",
                per_job(statistics.sojourn_sum_us, statistics.completed),
            ),
            ("calls", statistics.calls as f64),
            ("call_attempts", statistics.call_attempts as f64),
            ("retries", statistics.retries as f64),
            (
                "retry_budget_exhausted",
                statistics.retry_budget_exhausted as f64,
            ),
            ("call_timeouts", statistics.call_timeouts as f64),
            ("call_errors", statistics.call_errors as f64),
            ("short_circuited", statistics.short_circuited as f64),
            ("bulkhead_rejected", statistics.bulkhead_rejected as f64),
            ("rate_limited", statistics.rate_limited as f64),
            ("fallbacks", statistics.fallbacks as f64),
            ("breaker_transitions", statistics.breaker_transitions as f64),
            ("late_replies", statistics.late_replies as f64),
        ];
        if let Some(front) = &self.gateway {
            summary.extend([
                ("unauthorized", front.unauthorized as f64),
                ("client_rate_limited", front.client_rate_limited as f64),
                ("no_route", front.no_route as f64),
                ("cache_hits", front.cache_hits as f64),
            ]);
        }
        let io = &self.io;
        if self.spec.messaging.is_some() || io.database_requests + io.cache_requests > 0 {
            summary.extend([
                ("published", io.published as f64),
                ("publish_failures", io.publish_failures as f64),
                ("consumed", io.consumed as f64),
                ("database_requests", io.database_requests as f64),
                ("database_failures", io.database_failures as f64),
                ("cache_requests", io.cache_requests as f64),
                ("cache_failures", io.cache_failures as f64),
            ]);
        }
        if self
            .dependencies
            .iter()
            .any(|dependency| dependency.spec.sidecar_retry.is_some())
        {
            summary.push(("sidecar_retries", statistics.sidecar_retries as f64));
        }
        summary
    }
}
