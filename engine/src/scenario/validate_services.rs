//! Validation of `service` nodes: ranges of every policy setting, and references
//! from call steps and dependencies to services and their endpoints.

use super::limits::*;
use super::problems::Problems;
use super::services::*;
use super::{ComponentSpec, Scenario};

fn duration_ms(problems: &mut Problems, path: String, value_ms: u64) {
    if value_ms == 0 || value_ms > MAX_DURATION_MS {
        problems.push(
            path,
            format!("expected 1 to {MAX_DURATION_MS} ms, found {value_ms}"),
        );
    }
}

fn count(problems: &mut Problems, path: String, value: u32, min: u32, max: u32) {
    if value < min || value > max {
        problems.push(path, format!("expected {min} to {max}, found {value}"));
    }
}

fn positive_ms(problems: &mut Problems, path: String, value: f64) {
    if !value.is_finite() || value <= 0.0 || value > MAX_DURATION_MS as f64 {
        problems.push(
            path,
            format!("expected more than 0 and at most {MAX_DURATION_MS} ms, found {value}"),
        );
    }
}

fn percent(problems: &mut Problems, path: String, value: f64) {
    if !value.is_finite() || value <= 0.0 || value > 100.0 {
        problems.push(
            path,
            format!("expected a percentage above 0 and at most 100, found {value}"),
        );
    }
}

/// Service names that exist: every `service` node's `service_name` (or id).
fn service_names(scenario: &Scenario) -> Vec<&str> {
    let mut names: Vec<&str> = scenario
        .topology
        .nodes
        .iter()
        .filter_map(|node| match &node.spec {
            ComponentSpec::Service(spec) => Some(spec.service_name.as_deref().unwrap_or(&node.id)),
            _ => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The endpoints of the first instance of `service` (instances should agree).
fn endpoints_of<'a>(scenario: &'a Scenario, service: &str) -> Option<&'a [EndpointSpec]> {
    scenario
        .topology
        .nodes
        .iter()
        .find_map(|node| match &node.spec {
            ComponentSpec::Service(spec)
                if spec.service_name.as_deref().unwrap_or(&node.id) == service =>
            {
                Some(spec.endpoints.as_slice())
            }
            _ => None,
        })
}

fn hint(wanted: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|candidate| (strsim::jaro_winkler(wanted, candidate), *candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|left, right| left.0.total_cmp(&right.0))
        .map(|(_, name)| format!(" (did you mean {name:?}?)"))
        .unwrap_or_default()
}

/// Ranges and limits of one `service` node's properties (`properties` is its JSON path).
pub fn service_properties(properties: &str, spec: &ServiceSpec, problems: &mut Problems) {
    count(
        problems,
        format!("{properties}.workers"),
        spec.workers,
        1,
        MAX_WORKERS,
    );
    count(
        problems,
        format!("{properties}.queue_capacity_requests"),
        spec.queue_capacity_requests,
        0,
        MAX_QUEUE_CAPACITY,
    );
    if spec.endpoints.is_empty() || spec.endpoints.len() > MAX_SERVICE_ENDPOINTS {
        problems.push(
            format!("{properties}.endpoints"),
            format!(
                "expected 1 to {MAX_SERVICE_ENDPOINTS} endpoints, found {}",
                spec.endpoints.len()
            ),
        );
    }
    for (index, endpoint) in spec.endpoints.iter().enumerate() {
        let path = format!("{properties}.endpoints[{index}]");
        if endpoint.name.is_empty() || endpoint.name.chars().count() > MAX_ID_CHARS {
            problems.push(
                format!("{path}.name"),
                format!("expected a name of 1 to {MAX_ID_CHARS} characters"),
            );
        }
        if spec.endpoints[..index]
            .iter()
            .any(|earlier| earlier.name == endpoint.name)
        {
            problems.push(
                format!("{path}.name"),
                format!("duplicate endpoint name {:?}", endpoint.name),
            );
        }
        if endpoint.steps.len() > MAX_SERVICE_STEPS {
            problems.push(
                format!("{path}.steps"),
                format!(
                    "expected at most {MAX_SERVICE_STEPS} steps, found {}",
                    endpoint.steps.len()
                ),
            );
        }
        if !(0.0..=1.0).contains(&endpoint.error_probability) {
            problems.push(
                format!("{path}.error_probability"),
                format!(
                    "expected a probability between 0 and 1, found {}",
                    endpoint.error_probability
                ),
            );
        }
        count(
            problems,
            format!("{path}.key_count"),
            endpoint.key_count,
            1,
            u32::MAX,
        );
        for (step_index, step) in endpoint.steps.iter().enumerate() {
            if let StepSpec::Compute { service_time } = step {
                service_time.validate(
                    &format!("{path}.steps[{step_index}].compute.service_time"),
                    problems,
                );
            }
        }
    }
    if spec.dependencies.len() > MAX_SERVICE_DEPENDENCIES {
        problems.push(
            format!("{properties}.dependencies"),
            format!(
                "expected at most {MAX_SERVICE_DEPENDENCIES} dependencies, found {}",
                spec.dependencies.len()
            ),
        );
    }
    for (index, dependency) in spec.dependencies.iter().enumerate() {
        dependency_properties(
            &format!("{properties}.dependencies[{index}]"),
            dependency,
            problems,
        );
    }
    if let Some(shedding) = &spec.load_shedding {
        if let Some(wait_ms) = shedding.max_queue_wait_ms {
            duration_ms(
                problems,
                format!("{properties}.load_shedding.max_queue_wait_ms"),
                wait_ms,
            );
        }
        if let Some(length) = shedding.max_queue_length_requests {
            count(
                problems,
                format!("{properties}.load_shedding.max_queue_length_requests"),
                length,
                1,
                MAX_QUEUE_CAPACITY,
            );
        }
    }
}

fn dependency_properties(path: &str, dependency: &DependencySpec, problems: &mut Problems) {
    duration_ms(
        problems,
        format!("{path}.timeout_ms"),
        dependency.timeout_ms,
    );
    if let Some(retry) = &dependency.retry {
        retry_properties(&format!("{path}.retry"), retry, problems);
    }
    if let Some(sidecar) = &dependency.sidecar_retry {
        let sidecar_path = format!("{path}.sidecar_retry");
        retry_properties(&sidecar_path, sidecar, problems);
        if sidecar.budget.is_some() {
            problems.push(
                format!("{sidecar_path}.budget"),
                "expected no budget: the sidecar layer retries without one (put the budget on `retry`)",
            );
        }
    }
    if let Some(CircuitBreakerSpec::Custom(config)) = &dependency.circuit_breaker {
        let base = format!("{path}.circuit_breaker.custom");
        match config.sliding_window {
            SlidingWindowSpec::CountBased { size_calls } => count(
                problems,
                format!("{base}.sliding_window.count_based.size_calls"),
                size_calls,
                1,
                MAX_BREAKER_WINDOW_CALLS,
            ),
            SlidingWindowSpec::TimeBased { size_ms, bucket_ms } => {
                duration_ms(
                    problems,
                    format!("{base}.sliding_window.time_based.size_ms"),
                    size_ms,
                );
                duration_ms(
                    problems,
                    format!("{base}.sliding_window.time_based.bucket_ms"),
                    bucket_ms,
                );
                if bucket_ms > 0 && size_ms.div_ceil(bucket_ms) > MAX_BREAKER_WINDOW_BUCKETS {
                    problems.push(
                        format!("{base}.sliding_window.time_based.bucket_ms"),
                        format!(
                            "expected at most {MAX_BREAKER_WINDOW_BUCKETS} buckets per window, found {}",
                            size_ms.div_ceil(bucket_ms)
                        ),
                    );
                }
            }
        }
        count(
            problems,
            format!("{base}.minimum_number_of_calls"),
            config.minimum_number_of_calls,
            1,
            u32::MAX,
        );
        percent(
            problems,
            format!("{base}.failure_rate_threshold_percent"),
            config.failure_rate_threshold_percent,
        );
        percent(
            problems,
            format!("{base}.slow_call_rate_threshold_percent"),
            config.slow_call_rate_threshold_percent,
        );
        if let Some(slow_ms) = config.slow_call_duration_threshold_ms {
            duration_ms(
                problems,
                format!("{base}.slow_call_duration_threshold_ms"),
                slow_ms,
            );
        }
        duration_ms(
            problems,
            format!("{base}.wait_duration_in_open_state_ms"),
            config.wait_duration_in_open_state_ms,
        );
        count(
            problems,
            format!("{base}.permitted_number_of_calls_in_half_open_state"),
            config.permitted_number_of_calls_in_half_open_state,
            1,
            MAX_BREAKER_WINDOW_CALLS,
        );
    }
    if let Some(bulkhead) = &dependency.bulkhead {
        count(
            problems,
            format!("{path}.bulkhead.max_concurrent_calls"),
            bulkhead.max_concurrent_calls,
            1,
            MAX_WORKERS,
        );
        if bulkhead.max_wait_duration_ms > MAX_DURATION_MS {
            problems.push(
                format!("{path}.bulkhead.max_wait_duration_ms"),
                format!(
                    "expected 0 to {MAX_DURATION_MS} ms, found {}",
                    bulkhead.max_wait_duration_ms
                ),
            );
        }
    }
    if let Some(limiter) = &dependency.rate_limiter {
        rate_limiter_properties(&format!("{path}.rate_limiter"), limiter, problems);
    }
    if let Some(health) = &dependency.health_check {
        duration_ms(
            problems,
            format!("{path}.health_check.interval_ms"),
            health.interval_ms,
        );
        duration_ms(
            problems,
            format!("{path}.health_check.timeout_ms"),
            health.timeout_ms,
        );
        count(
            problems,
            format!("{path}.health_check.unhealthy_threshold"),
            health.unhealthy_threshold,
            1,
            100,
        );
        count(
            problems,
            format!("{path}.health_check.healthy_threshold"),
            health.healthy_threshold,
            1,
            100,
        );
    }
}

/// A retry policy at `path` (the application's `retry` or the sidecar's).
fn retry_properties(path: &str, retry: &RetrySpec, problems: &mut Problems) {
    count(
        problems,
        format!("{path}.max_attempts"),
        retry.max_attempts,
        1,
        MAX_SERVICE_RETRY_ATTEMPTS,
    );
    positive_ms(problems, format!("{path}.base_ms"), retry.base_ms);
    positive_ms(problems, format!("{path}.cap_ms"), retry.cap_ms);
    if retry.cap_ms < retry.base_ms {
        problems.push(
            format!("{path}.cap_ms"),
            format!(
                "expected a cap of at least base_ms ({}), found {}",
                retry.base_ms, retry.cap_ms
            ),
        );
    }
    if let Some(budget) = &retry.budget {
        percent(
            problems,
            format!("{path}.budget.percent_can_retry"),
            budget.percent_can_retry,
        );
        if !budget.min_retries_per_second.is_finite()
            || !(0.0..=1e6).contains(&budget.min_retries_per_second)
        {
            problems.push(
                format!("{path}.budget.min_retries_per_second"),
                format!(
                    "expected 0 to 1000000, found {}",
                    budget.min_retries_per_second
                ),
            );
        }
        duration_ms(problems, format!("{path}.budget.ttl_ms"), budget.ttl_ms);
    }
}

pub fn rate_limiter_properties(path: &str, limiter: &RateLimiterSpec, problems: &mut Problems) {
    if !limiter.rate_per_second.is_finite()
        || limiter.rate_per_second <= 0.0
        || limiter.rate_per_second > 1e6
    {
        problems.push(
            format!("{path}.rate_per_second"),
            format!(
                "expected more than 0 and at most 1000000 per second, found {}",
                limiter.rate_per_second
            ),
        );
    }
    count(
        problems,
        format!("{path}.burst"),
        limiter.burst,
        1,
        1_000_000,
    );
}

/// References of one `service` node: called services and endpoints exist, no self-calls.
pub fn service_references(scenario: &Scenario, index: usize, problems: &mut Problems) {
    let node = &scenario.topology.nodes[index];
    let ComponentSpec::Service(spec) = &node.spec else {
        return;
    };
    let properties = format!("topology.nodes[{index}].properties");
    let own_name = spec.service_name.as_deref().unwrap_or(&node.id);
    let names = service_names(scenario);
    let check_service = |path: String, service: &str, problems: &mut Problems| -> bool {
        if service == own_name {
            problems.push(
                path,
                format!("service {own_name:?} cannot call itself synchronously (its workers would wait on themselves)"),
            );
            return false;
        }
        if !names.contains(&service) {
            problems.push(
                path,
                format!(
                    "no service {service:?}{} (a service is the service_name, or id, of service nodes)",
                    hint(service, &names)
                ),
            );
            return false;
        }
        true
    };
    for (endpoint_index, endpoint) in spec.endpoints.iter().enumerate() {
        for (step_index, step) in endpoint.steps.iter().enumerate() {
            let StepSpec::Call {
                service,
                endpoint: called_endpoint,
            } = step
            else {
                continue;
            };
            let path = format!("{properties}.endpoints[{endpoint_index}].steps[{step_index}].call");
            if !check_service(format!("{path}.service"), service, problems) {
                continue;
            }
            if let (Some(wanted), Some(endpoints)) =
                (called_endpoint, endpoints_of(scenario, service))
                && !endpoints.iter().any(|candidate| &candidate.name == wanted)
            {
                let available: Vec<&str> = endpoints
                    .iter()
                    .map(|candidate| candidate.name.as_str())
                    .collect();
                problems.push(
                    format!("{path}.endpoint"),
                    format!(
                        "service {service:?} has no endpoint {wanted:?}{}; it has: {}",
                        hint(wanted, &available),
                        available.join(", ")
                    ),
                );
            }
        }
    }
    data_and_messaging_references(scenario, &properties, spec, problems);
    for (dependency_index, dependency) in spec.dependencies.iter().enumerate() {
        let path = format!("{properties}.dependencies[{dependency_index}].service");
        check_service(path.clone(), &dependency.service, problems);
        if spec.dependencies[..dependency_index]
            .iter()
            .any(|earlier| earlier.service == dependency.service)
        {
            problems.push(
                path,
                format!(
                    "service {:?} already has a dependency entry",
                    dependency.service
                ),
            );
        }
    }
    if let Some(name) = &spec.service_name
        && (name.is_empty() || name.chars().count() > MAX_ID_CHARS)
    {
        problems.push(
            format!("{properties}.service_name"),
            format!("expected a name of 1 to {MAX_ID_CHARS} characters"),
        );
    }
}

/// `publish`, `database` and `cache` steps and `messaging` name nodes of
/// the right kind; a publishing service has a broker; the consumed endpoint exists.
fn data_and_messaging_references(
    scenario: &Scenario,
    properties: &str,
    spec: &ServiceSpec,
    problems: &mut Problems,
) {
    let kind_of = |id: &str| {
        scenario
            .topology
            .nodes
            .iter()
            .find(|node| node.id == id)
            .map(|node| node.spec.kind_name())
    };
    if let Some(messaging) = &spec.messaging {
        let path = format!("{properties}.messaging");
        if kind_of(&messaging.broker) != Some("rabbit_broker") {
            problems.push(
                format!("{path}.broker"),
                format!(
                    "expected the id of a rabbit_broker node, found {:?}",
                    messaging.broker
                ),
            );
        }
        duration_ms(
            problems,
            format!("{path}.publish_timeout_ms"),
            messaging.publish_timeout_ms,
        );
        duration_ms(
            problems,
            format!("{path}.heartbeat_timeout_ms"),
            messaging.heartbeat_timeout_ms,
        );
        if let Some(consume) = &messaging.consume {
            if !spec
                .endpoints
                .iter()
                .any(|endpoint| endpoint.name == consume.endpoint)
            {
                let names: Vec<&str> = spec.endpoints.iter().map(|e| e.name.as_str()).collect();
                problems.push(
                    format!("{path}.consume.endpoint"),
                    format!(
                        "expected one of this service's endpoints ({}), found {:?}",
                        names.join(", "),
                        consume.endpoint
                    ),
                );
            }
            count(
                problems,
                format!("{path}.consume.prefetch_count"),
                consume.prefetch_count,
                1,
                10_000,
            );
        }
    }
    let databases: Vec<&str> = scenario
        .topology
        .nodes
        .iter()
        .filter_map(|node| match &node.spec {
            ComponentSpec::KvDatabase(database) => Some(database.database.as_str()),
            _ => None,
        })
        .collect();
    for (endpoint_index, endpoint) in spec.endpoints.iter().enumerate() {
        for (step_index, step) in endpoint.steps.iter().enumerate() {
            let path = format!("{properties}.endpoints[{endpoint_index}].steps[{step_index}]");
            match step {
                StepSpec::Publish { .. } if spec.messaging.is_none() => problems.push(
                    format!("{path}.publish"),
                    "expected `messaging` on the service: a publish needs a broker connection",
                ),
                StepSpec::Database {
                    database,
                    timeout_ms,
                    ..
                } => {
                    if !databases.contains(&database.as_str()) {
                        problems.push(
                            format!("{path}.database.database"),
                            format!(
                                "no kv_database with database {database:?}{}",
                                hint(database, &databases)
                            ),
                        );
                    }
                    duration_ms(problems, format!("{path}.database.timeout_ms"), *timeout_ms);
                }
                StepSpec::Cache { cache, timeout_ms } => {
                    if kind_of(cache) != Some("cache") {
                        problems.push(
                            format!("{path}.cache.cache"),
                            format!("expected the id of a cache node, found {cache:?}"),
                        );
                    }
                    duration_ms(problems, format!("{path}.cache.timeout_ms"), *timeout_ms);
                }
                _ => {}
            }
        }
    }
}

/// Ranges of one `api_gateway` node's properties.
pub fn api_gateway_properties(properties: &str, spec: &ApiGatewaySpec, problems: &mut Problems) {
    if spec.routes.is_empty() || spec.routes.len() > MAX_SERVICE_ENDPOINTS {
        problems.push(
            format!("{properties}.routes"),
            format!(
                "expected 1 to {MAX_SERVICE_ENDPOINTS} routes, found {}",
                spec.routes.len()
            ),
        );
    }
    for (index, route) in spec.routes.iter().enumerate() {
        let path = format!("{properties}.routes[{index}]");
        if !route.path_prefix.starts_with('/')
            || route.path_prefix.chars().count() > MAX_LABEL_CHARS
        {
            problems.push(
                format!("{path}.path_prefix"),
                format!(
                    "expected a path starting with / of at most {MAX_LABEL_CHARS} characters, found {:?}",
                    route.path_prefix
                ),
            );
        }
        if spec.routes[..index]
            .iter()
            .any(|earlier| earlier.path_prefix == route.path_prefix)
        {
            problems.push(
                format!("{path}.path_prefix"),
                format!("duplicate route {:?}", route.path_prefix),
            );
        }
        if let Some(ttl_ms) = route.cache_ttl_ms {
            duration_ms(problems, format!("{path}.cache_ttl_ms"), ttl_ms);
        }
    }
    if let Some(limit) = &spec.per_client_rate_limit {
        rate_limiter_properties(
            &format!("{properties}.per_client_rate_limit"),
            limit,
            problems,
        );
    }
    duration_ms(
        problems,
        format!("{properties}.request_timeout_ms"),
        spec.request_timeout_ms,
    );
    count(
        problems,
        format!("{properties}.workers"),
        spec.workers,
        1,
        MAX_WORKERS,
    );
    count(
        problems,
        format!("{properties}.queue_capacity_requests"),
        spec.queue_capacity_requests,
        0,
        MAX_QUEUE_CAPACITY,
    );
    count(
        problems,
        format!("{properties}.key_count"),
        spec.key_count,
        1,
        u32::MAX,
    );
    count(
        problems,
        format!("{properties}.max_cache_entries"),
        spec.max_cache_entries,
        0,
        MAX_GATEWAY_CACHE_ENTRIES,
    );
    if spec.dependencies.len() > MAX_SERVICE_DEPENDENCIES {
        problems.push(
            format!("{properties}.dependencies"),
            format!(
                "expected at most {MAX_SERVICE_DEPENDENCIES} dependencies, found {}",
                spec.dependencies.len()
            ),
        );
    }
    for (index, dependency) in spec.dependencies.iter().enumerate() {
        dependency_properties(
            &format!("{properties}.dependencies[{index}]"),
            dependency,
            problems,
        );
    }
}

/// Routes and dependencies of an `api_gateway` name existing services and endpoints.
pub fn api_gateway_references(scenario: &Scenario, index: usize, problems: &mut Problems) {
    let ComponentSpec::ApiGateway(spec) = &scenario.topology.nodes[index].spec else {
        return;
    };
    let properties = format!("topology.nodes[{index}].properties");
    let names = service_names(scenario);
    let known = |path: String, service: &str, problems: &mut Problems| {
        let found = names.contains(&service);
        if !found {
            problems.push(
                path,
                format!("no service {service:?}{}", hint(service, &names)),
            );
        }
        found
    };
    for (route_index, route) in spec.routes.iter().enumerate() {
        let path = format!("{properties}.routes[{route_index}]");
        if !known(format!("{path}.service"), &route.service, problems) {
            continue;
        }
        if let (Some(wanted), Some(endpoints)) =
            (&route.endpoint, endpoints_of(scenario, &route.service))
            && !endpoints.iter().any(|candidate| &candidate.name == wanted)
        {
            problems.push(
                format!("{path}.endpoint"),
                format!("service {:?} has no endpoint {wanted:?}", route.service),
            );
        }
    }
    for (dependency_index, dependency) in spec.dependencies.iter().enumerate() {
        known(
            format!("{properties}.dependencies[{dependency_index}].service"),
            &dependency.service,
            problems,
        );
    }
}

/// Streams with a `path` must target an `api_gateway`, and a gateway needs paths to route by.
pub fn workload_paths(scenario: &Scenario, problems: &mut Problems) {
    for (index, stream) in scenario.workload.streams.iter().enumerate() {
        let target_is_gateway = scenario
            .topology
            .nodes
            .iter()
            .find(|node| node.id == stream.target)
            .map(|node| matches!(node.spec, ComponentSpec::ApiGateway(_)));
        match (&stream.path, target_is_gateway) {
            (Some(path), Some(true))
                if !path.starts_with('/') || path.chars().count() > MAX_LABEL_CHARS =>
            {
                problems.push(
                    format!("workload.streams[{index}].path"),
                    format!(
                        "expected a path starting with / of at most {MAX_LABEL_CHARS} characters, found {path:?}"
                    ),
                );
            }
            (Some(_), Some(false)) => problems.push(
                format!("workload.streams[{index}].path"),
                format!(
                    "only an api_gateway routes by path, but target {:?} is not one",
                    stream.target
                ),
            ),
            (None, Some(true)) => problems.push(
                format!("workload.streams[{index}].path"),
                format!(
                    "target {:?} is an api_gateway: give the stream a path such as \"/orders\"",
                    stream.target
                ),
            ),
            _ => {}
        }
    }
}

/// An `autoscaler` names an existing service, once, with sane bounds.
pub fn autoscaler(scenario: &Scenario, index: usize, problems: &mut Problems) {
    let ComponentSpec::Autoscaler(spec) = &scenario.topology.nodes[index].spec else {
        return;
    };
    let properties = format!("topology.nodes[{index}].properties");
    let names = service_names(scenario);
    if !names.contains(&spec.service.as_str()) {
        problems.push(
            format!("{properties}.service"),
            format!(
                "no service {:?}{}",
                spec.service,
                hint(&spec.service, &names)
            ),
        );
        return;
    }
    if let Some(earlier) = scenario.topology.nodes[..index].iter().find(|node| {
        matches!(&node.spec, ComponentSpec::Autoscaler(other) if other.service == spec.service)
    }) {
        problems.push(
            format!("{properties}.service"),
            format!(
                "service {:?} already has autoscaler {:?}",
                spec.service, earlier.id
            ),
        );
    }
    let instances = crate::components::service::service_instances(scenario, &spec.service).len();
    let maximum = spec.max_instances.unwrap_or(instances as u32);
    count(
        problems,
        format!("{properties}.min_instances"),
        spec.min_instances,
        1,
        maximum.min(instances as u32),
    );
    if let Some(max) = spec.max_instances {
        count(
            problems,
            format!("{properties}.max_instances"),
            max,
            spec.min_instances.max(1),
            instances as u32,
        );
    }
    percent(
        problems,
        format!("{properties}.target_utilisation_percent"),
        spec.target_utilisation_percent,
    );
    duration_ms(
        problems,
        format!("{properties}.evaluation_interval_ms"),
        spec.evaluation_interval_ms,
    );
    duration_ms(
        problems,
        format!("{properties}.cold_start_ms"),
        spec.cold_start_ms,
    );
    for (name, value) in [
        ("scale_down_cooldown_ms", spec.scale_down_cooldown_ms),
        ("scale_up_cooldown_ms", spec.scale_up_cooldown_ms),
    ] {
        if value > MAX_DURATION_MS {
            problems.push(
                format!("{properties}.{name}"),
                format!("expected 0 to {MAX_DURATION_MS} ms, found {value}"),
            );
        }
    }
}
