//! Scenario types for the `service` component kind: endpoints made of steps, and the
//! resilience policies (timeout, retry, circuit breaker, bulkhead, rate limiter,
//! fallback, health checks, load balancing) on each call edge to another service.
//!
//! Presets reproduce library defaults exactly (rows C1–C3 in
//! shared/reference/expected-outcomes.md); `resilience.rs` holds the algorithms.

use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One instance of a named service. Every `service` node is its own simulated
/// node, so a crash, pause or slow fault hits exactly one instance (as a real
/// pod or VM fails); nodes sharing `service_name` are the instances callers
/// balance across.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// The service this node is an instance of; callers name it in `call`
    /// steps. Absent: the node id (a service with one instance).
    #[serde(default)]
    pub service_name: Option<String>,
    /// Worker threads of this instance. A worker is held for the whole
    /// request, including synchronous calls (thread-per-request), so a slow
    /// dependency exhausts this pool too.
    #[serde(default = "default_service_workers")]
    pub workers: u32,
    /// Requests waiting for a worker beyond this are rejected (`rejected` reply).
    #[serde(default = "default_service_queue_capacity")]
    pub queue_capacity_requests: u32,
    /// What this service does; requests from a load generator run the first endpoint.
    pub endpoints: Vec<EndpointSpec>,
    /// Policies for calls to other services, one entry per called service.
    /// A called service without an entry gets `DependencySpec` defaults.
    #[serde(default)]
    pub dependencies: Vec<DependencySpec>,
    /// Reject work early instead of letting the queue grow (load shedding).
    #[serde(default)]
    pub load_shedding: Option<LoadSheddingSpec>,
    /// An AMQP connection to a `rabbit_broker`, for `publish` steps and for
    /// consuming a queue. Each instance has its own connection.
    #[serde(default)]
    pub messaging: Option<ServiceMessagingSpec>,
}

/// A service instance's AMQP connection (publisher confirms on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceMessagingSpec {
    /// The `rabbit_broker` node.
    pub broker: String,
    /// A `publish` step without its confirm for this long fails.
    #[serde(default = "default_publish_timeout_ms")]
    pub publish_timeout_ms: u64,
    #[serde(default = "default_messaging_heartbeat_timeout_ms")]
    pub heartbeat_timeout_ms: u64,
    #[serde(default = "default_messaging_reconnect_delay_ms")]
    pub reconnect_delay_ms: u64,
    /// Consume this queue: every delivery runs `endpoint` as a request, and is
    /// acknowledged when it succeeds (at-least-once: a crash before the ack
    /// redelivers it).
    #[serde(default)]
    pub consume: Option<ServiceConsumeSpec>,
}

/// What a service consumes and what it runs for each message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConsumeSpec {
    pub queue: String,
    /// The endpoint each message runs.
    pub endpoint: String,
    /// Unacknowledged deliveries at most (`basic.qos`).
    #[serde(default = "default_consume_prefetch")]
    pub prefetch_count: u32,
    /// A message whose endpoint fails is requeued (true) or rejected without
    /// requeue, to the queue's dead-letter exchange if it has one (false).
    #[serde(default)]
    pub requeue_on_error: bool,
}

fn default_publish_timeout_ms() -> u64 {
    5_000
}
fn default_messaging_heartbeat_timeout_ms() -> u64 {
    10_000
}
fn default_messaging_reconnect_delay_ms() -> u64 {
    1_000
}
fn default_consume_prefetch() -> u32 {
    10
}

/// What a `database` step does with the request's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseStepOperation {
    Read,
    /// Writes a fresh unique value.
    Write,
}

fn default_service_workers() -> u32 {
    8
}
fn default_service_queue_capacity() -> u32 {
    100
}

/// A named operation of a service: a small declarative call graph run step by step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub name: String,
    /// Run in order; the endpoint returns after the last step.
    pub steps: Vec<StepSpec>,
    /// Probability that the endpoint answers with an error after its steps
    /// (a bug, a failed validation): drawn once per request.
    #[serde(default)]
    pub error_probability: f64,
    /// Requests that arrive from a load generator get a key drawn uniformly
    /// from `0..key_count` (a user or session id); calls pass it on, and
    /// `consistent_hash` balancing routes by it.
    #[serde(default = "default_key_count")]
    pub key_count: u32,
}

fn default_key_count() -> u32 {
    1_000
}

/// One step of an endpoint. The enum is open: publish/consume/database and
/// transaction steps (sagas, 2PC, TCC, outbox) are meant to be added here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSpec {
    /// Busy the worker for a service time (scaled by the `slow` fault).
    Compute { service_time: Distribution },
    /// Call an endpoint of another service synchronously and wait for it; the
    /// edge's policies (see `dependencies`) apply.
    Call {
        service: String,
        /// Absent: the callee's first endpoint.
        #[serde(default)]
        endpoint: Option<String>,
    },
    /// Publish a persistent message to an exchange of the service's
    /// `messaging` broker, and wait for the broker's confirm (asynchronous
    /// for whoever consumes it). A nack, a lost connection or no confirm
    /// within `publish_timeout_ms` fails the step.
    Publish {
        exchange: String,
        routing_key: String,
    },
    /// Read or write the request's key in a `kv_database` (by database name),
    /// at its primary or leader; redirects are followed. Refused, unavailable
    /// or unanswered within `timeout_ms`: the step fails.
    Database {
        database: String,
        operation: DatabaseStepOperation,
        #[serde(default = "default_external_step_timeout_ms")]
        timeout_ms: u64,
    },
    /// Ask a `cache` node (by id) and wait for its answer.
    Cache {
        cache: String,
        #[serde(default = "default_external_step_timeout_ms")]
        timeout_ms: u64,
    },
}

fn default_external_step_timeout_ms() -> u64 {
    1_000
}

/// How one service calls another: load balancing, health checks and resilience policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DependencySpec {
    /// The called service (`service_name` of its instances).
    pub service: String,
    #[serde(default)]
    pub load_balancer: LoadBalancerPolicy,
    /// One attempt without a reply for this long fails with a timeout.
    #[serde(default = "default_call_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    /// Sidecar/mesh mode: the instance's proxy (an Envoy sidecar, as Istio
    /// deploys it) retries every attempt the application makes, below the
    /// application's own retry, breaker and rate limiter, which see one result
    /// per application attempt. Each try gets `timeout_ms` (Envoy's
    /// `per_try_timeout`). Retries multiply across the two layers and across
    /// hops. Istio's default is 3 tries in total; Envoy's back-off is fully
    /// jittered from 25 ms, capped at 250 ms. No budget: set none.
    #[serde(default)]
    pub sidecar_retry: Option<RetrySpec>,
    #[serde(default)]
    pub circuit_breaker: Option<CircuitBreakerSpec>,
    #[serde(default)]
    pub bulkhead: Option<BulkheadSpec>,
    /// Client-side throttle on attempts to this service.
    #[serde(default)]
    pub rate_limiter: Option<RateLimiterSpec>,
    #[serde(default)]
    pub health_check: Option<HealthCheckSpec>,
    /// What the step does when the call finally fails.
    #[serde(default)]
    pub fallback: FallbackSpec,
}

fn default_call_timeout_ms() -> u64 {
    1_000
}

impl DependencySpec {
    /// The policy a caller uses for a service it lists no entry for.
    pub fn default_for(service: &str) -> DependencySpec {
        DependencySpec {
            service: service.to_string(),
            load_balancer: LoadBalancerPolicy::default(),
            timeout_ms: default_call_timeout_ms(),
            retry: None,
            sidecar_retry: None,
            circuit_breaker: None,
            bulkhead: None,
            rate_limiter: None,
            health_check: None,
            fallback: FallbackSpec::default(),
        }
    }
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalancerPolicy {
    #[default]
    RoundRobin,
    Random,
    /// The instance with the fewest calls this caller has outstanding (Envoy LEAST_REQUEST with all hosts).
    LeastOutstanding,
    /// Two random instances, the one with fewer outstanding calls (Mitzenmacher; Envoy's default choice_count 2).
    PowerOfTwoChoices,
    /// A hash ring (64 virtual nodes per instance) keyed by the request key:
    /// the same key reaches the same instance while it is healthy.
    ConsistentHash,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FallbackSpec {
    /// The failure propagates: the endpoint answers with an error.
    #[default]
    Error,
    /// A degraded default answer: the step succeeds (counted as `fallbacks`).
    DefaultResponse,
}

/// Retries with capped exponential backoff (AWS "Exponential Backoff and Jitter", row B2).
/// Error replies and timeouts are retried; calls refused locally (breaker open,
/// bulkhead full, rate limited) are not, so the local guards cannot amplify load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in total, the first included (resilience4j `maxAttempts`, default 3).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_backoff_base_ms")]
    pub base_ms: f64,
    #[serde(default = "default_backoff_cap_ms")]
    pub cap_ms: f64,
    #[serde(default)]
    pub jitter: JitterKind,
    /// Finagle-style retry budget; absent: every failed attempt may retry.
    #[serde(default)]
    pub budget: Option<RetryBudgetSpec>,
}

fn default_max_attempts() -> u32 {
    3
}
fn default_backoff_base_ms() -> f64 {
    100.0
}
fn default_backoff_cap_ms() -> f64 {
    10_000.0
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JitterKind {
    /// expo = min(cap, base·2^n), no randomness: retries of many clients stay in lockstep.
    None,
    /// U(0, expo).
    #[default]
    Full,
    /// expo/2 + U(0, expo/2).
    Equal,
    /// min(cap, U(base, 3·previous)), previous starting at base.
    Decorrelated,
}

/// Finagle's `RetryBudget` (a token bucket over a sliding time window): every
/// call deposits `percent_can_retry` of a retry, each retry withdraws one, and
/// `min_retries_per_second · ttl` retries are always available; deposits and
/// withdrawals expire after `ttl_ms`. Finagle defaults: 20%, 10/s, 10 s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBudgetSpec {
    #[serde(default = "default_percent_can_retry")]
    pub percent_can_retry: f64,
    #[serde(default = "default_min_retries_per_second")]
    pub min_retries_per_second: f64,
    #[serde(default = "default_budget_ttl_ms")]
    pub ttl_ms: u64,
}

fn default_percent_can_retry() -> f64 {
    20.0
}
fn default_min_retries_per_second() -> f64 {
    10.0
}
fn default_budget_ttl_ms() -> u64 {
    10_000
}

/// A circuit breaker: a library's defaults, or every setting spelled out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CircuitBreakerSpec {
    /// resilience4j `CircuitBreakerConfig.ofDefaults()` (row C1).
    Resilience4jDefaults,
    /// Netflix Hystrix `HystrixCommandProperties` defaults (row C2).
    HystrixDefaults,
    /// Polly v8 `CircuitBreakerStrategyOptions` defaults (row C3).
    PollyV8Defaults,
    Custom(CircuitBreakerConfig),
}

/// The resilience4j state machine's settings (names follow resilience4j).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    pub sliding_window: SlidingWindowSpec,
    /// No rate is computed (the breaker cannot open) before this many calls
    /// are in the window. For a count-based window resilience4j caps it at
    /// the window size.
    pub minimum_number_of_calls: u32,
    /// Opens when the failure rate is at least this (percent).
    pub failure_rate_threshold_percent: f64,
    /// Opens when the share of slow calls is at least this (percent).
    pub slow_call_rate_threshold_percent: f64,
    /// A call that takes at least this long is slow; absent: calls are never slow.
    #[serde(default)]
    pub slow_call_duration_threshold_ms: Option<u64>,
    pub wait_duration_in_open_state_ms: u64,
    /// Trial calls let through in half-open; their outcomes decide.
    pub permitted_number_of_calls_in_half_open_state: u32,
    /// Move to half-open when the wait ends (a timer) rather than on the next call.
    #[serde(default)]
    pub automatic_transition_from_open_to_half_open: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SlidingWindowSpec {
    /// The last `size_calls` outcomes.
    CountBased { size_calls: u32 },
    /// Outcomes of the last `size_ms`, aggregated in buckets of `bucket_ms`
    /// (resilience4j: 1 s buckets; Hystrix: 10 buckets; Polly: 10 windows).
    TimeBased { size_ms: u64, bucket_ms: u64 },
}

impl CircuitBreakerSpec {
    /// The exact settings a preset stands for.
    pub fn config(&self) -> CircuitBreakerConfig {
        match self {
            // resilience4j CircuitBreakerConfig defaults: COUNT_BASED window of
            // 100, minimumNumberOfCalls 100, failureRateThreshold 50,
            // slowCallRateThreshold 100, slowCallDurationThreshold 60 s,
            // waitDurationInOpenState 60 s, permittedNumberOfCallsInHalfOpenState 10,
            // automaticTransitionFromOpenToHalfOpenEnabled false.
            CircuitBreakerSpec::Resilience4jDefaults => CircuitBreakerConfig {
                sliding_window: SlidingWindowSpec::CountBased { size_calls: 100 },
                minimum_number_of_calls: 100,
                failure_rate_threshold_percent: 50.0,
                slow_call_rate_threshold_percent: 100.0,
                slow_call_duration_threshold_ms: Some(60_000),
                wait_duration_in_open_state_ms: 60_000,
                permitted_number_of_calls_in_half_open_state: 10,
                automatic_transition_from_open_to_half_open: false,
            },
            // Hystrix: metrics.rollingStats.timeInMilliseconds 10000 in 10
            // buckets, circuitBreaker.requestVolumeThreshold 20,
            // errorThresholdPercentage 50, sleepWindowInMilliseconds 5000, one
            // trial request after the sleep window (checked on the next call).
            CircuitBreakerSpec::HystrixDefaults => CircuitBreakerConfig {
                sliding_window: SlidingWindowSpec::TimeBased {
                    size_ms: 10_000,
                    bucket_ms: 1_000,
                },
                minimum_number_of_calls: 20,
                failure_rate_threshold_percent: 50.0,
                slow_call_rate_threshold_percent: 100.0,
                slow_call_duration_threshold_ms: None,
                wait_duration_in_open_state_ms: 5_000,
                permitted_number_of_calls_in_half_open_state: 1,
                automatic_transition_from_open_to_half_open: false,
            },
            // Polly v8 CircuitBreakerStrategyOptions: FailureRatio 0.1,
            // MinimumThroughput 100, SamplingDuration 30 s (rolled in 10
            // windows), BreakDuration 5 s, one probe in half-open.
            CircuitBreakerSpec::PollyV8Defaults => CircuitBreakerConfig {
                sliding_window: SlidingWindowSpec::TimeBased {
                    size_ms: 30_000,
                    bucket_ms: 3_000,
                },
                minimum_number_of_calls: 100,
                failure_rate_threshold_percent: 10.0,
                slow_call_rate_threshold_percent: 100.0,
                slow_call_duration_threshold_ms: None,
                wait_duration_in_open_state_ms: 5_000,
                permitted_number_of_calls_in_half_open_state: 1,
                automatic_transition_from_open_to_half_open: false,
            },
            CircuitBreakerSpec::Custom(config) => config.clone(),
        }
    }
}

/// resilience4j's semaphore bulkhead: at most `max_concurrent_calls` in
/// flight; a caller waits up to `max_wait_duration_ms` for a slot (0: reject at once).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkheadSpec {
    #[serde(default = "default_bulkhead_concurrent")]
    pub max_concurrent_calls: u32,
    #[serde(default)]
    pub max_wait_duration_ms: u64,
}

fn default_bulkhead_concurrent() -> u32 {
    25
}

/// Admission by rate. Both algorithms admit the same sequences (GCRA is the
/// virtual-scheduling form of a token bucket); both are offered because
/// systems document them differently.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimiterSpec {
    pub algorithm: RateLimiterAlgorithm,
    /// Sustained admissions per second.
    pub rate_per_second: f64,
    /// Admissions allowed at once from idle (bucket capacity).
    pub burst: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateLimiterAlgorithm {
    TokenBucket,
    /// Generic Cell Rate Algorithm (theoretical arrival time), as in redis-cell and `governor`.
    Gcra,
}

/// Active health checks (Envoy/HAProxy style): probe every instance each
/// interval; `unhealthy_threshold` consecutive failures take it out of
/// balancing, `healthy_threshold` consecutive successes bring it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    #[serde(default = "default_health_interval_ms")]
    pub interval_ms: u64,
    #[serde(default = "default_health_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_unhealthy_threshold")]
    pub unhealthy_threshold: u32,
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u32,
}

fn default_health_interval_ms() -> u64 {
    1_000
}
fn default_health_timeout_ms() -> u64 {
    500
}
fn default_unhealthy_threshold() -> u32 {
    2
}
fn default_healthy_threshold() -> u32 {
    2
}

/// Shed (reject at once) requests when the instance is already too far behind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadSheddingSpec {
    /// Shed arrivals while this many requests are waiting.
    #[serde(default)]
    pub max_queue_length_requests: Option<u32>,
    /// Shed arrivals while the oldest waiting request has waited this long
    /// (queueing delay, as CoDel-style shedders measure it).
    #[serde(default)]
    pub max_queue_wait_ms: Option<u64>,
}

/// An API gateway: routes HTTP-style requests by path prefix to services,
/// refuses requests without an auth token, rate-limits each client, caches
/// answers per (route, key) for a TTL, and bounds each request with a timeout.
/// Clients send paths when their workload stream sets `path`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiGatewaySpec {
    /// The longest matching `path_prefix` wins; no match is answered with an error (404).
    pub routes: Vec<GatewayRouteSpec>,
    /// Refuse requests that carry no token (401), before any other work.
    #[serde(default = "default_true")]
    pub require_auth_token: bool,
    /// A token bucket per client node (429 beyond it); absent: no limit.
    #[serde(default)]
    pub per_client_rate_limit: Option<RateLimiterSpec>,
    /// Calls to a routed service without a `dependencies` entry time out after this (504).
    #[serde(default = "default_gateway_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Policies per routed service, as for a `service` (timeouts, retries, breakers…).
    #[serde(default)]
    pub dependencies: Vec<DependencySpec>,
    /// Concurrent requests in flight through the gateway.
    #[serde(default = "default_gateway_workers")]
    pub workers: u32,
    #[serde(default = "default_service_queue_capacity")]
    pub queue_capacity_requests: u32,
    /// Requests get a key drawn from `0..key_count` (the cache key with the route).
    #[serde(default = "default_key_count")]
    pub key_count: u32,
    /// Cached answers kept at most; the one closest to expiry is evicted first.
    #[serde(default = "default_gateway_cache_entries")]
    pub max_cache_entries: u32,
}

fn default_true() -> bool {
    true
}
fn default_gateway_request_timeout_ms() -> u64 {
    3_000
}
fn default_gateway_workers() -> u32 {
    1_000
}
fn default_gateway_cache_entries() -> u32 {
    10_000
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayRouteSpec {
    /// Starts with `/`, e.g. `/orders`.
    pub path_prefix: String,
    pub service: String,
    /// Absent: the service's first endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Cache successful answers this long; absent: no caching.
    #[serde(default)]
    pub cache_ttl_ms: Option<u64>,
}

/// A horizontal autoscaler for one service (Kubernetes HPA style). The
/// service's instances are its `service` nodes in document order: the first
/// `min_instances` serve from the start, the others are standby capacity.
/// Every `evaluation_interval_ms` it polls the serving instances for their
/// utilisation (busy + queued requests per worker) and wants
/// `ceil(serving × utilisation / target)` instances, within min and max.
/// A new instance serves `cold_start_ms` after the decision (image pull,
/// JVM warm-up); callers learn the serving set from the autoscaler, as
/// Kubernetes Endpoints tell kube-proxy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerSpec {
    pub service: String,
    #[serde(default = "default_min_instances")]
    pub min_instances: u32,
    /// Absent: every instance declared.
    #[serde(default)]
    pub max_instances: Option<u32>,
    #[serde(default = "default_target_utilisation_percent")]
    pub target_utilisation_percent: f64,
    #[serde(default = "default_evaluation_interval_ms")]
    pub evaluation_interval_ms: u64,
    /// No scale-down within this long of the last change (HPA's stabilisation window is 300 s).
    #[serde(default = "default_scale_down_cooldown_ms")]
    pub scale_down_cooldown_ms: u64,
    /// No further scale-up within this long of the last scale-up.
    #[serde(default = "default_scale_up_cooldown_ms")]
    pub scale_up_cooldown_ms: u64,
    #[serde(default = "default_cold_start_ms")]
    pub cold_start_ms: u64,
}

fn default_min_instances() -> u32 {
    1
}
fn default_target_utilisation_percent() -> f64 {
    60.0
}
fn default_evaluation_interval_ms() -> u64 {
    1_000
}
fn default_scale_down_cooldown_ms() -> u64 {
    30_000
}
fn default_scale_up_cooldown_ms() -> u64 {
    3_000
}
fn default_cold_start_ms() -> u64 {
    5_000
}
