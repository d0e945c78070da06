//! Refusing work is a feature: the API gateway turns away requests without a
//! token (401), clients over their rate (429) and unknown paths (404), serves
//! repeated keys from its TTL cache and bounds calls with a timeout (504); a
//! bulkhead caps concurrent calls; a full queue rejects; load shedding refuses
//! early by queue length or queueing delay. Every refusal is counted.

mod common;

use faultline_engine::{RunReport, SimulatorOptions, run_scenario};
use serde_json::{Value, json};

/// Streams stop 500 ms before the end, so every request has its answer when
/// the run ends and counts can be compared exactly.
fn run(mut scenario: Value) -> RunReport {
    let stop_ms = scenario["run"]["duration_ms"].as_u64().expect("duration") - 500;
    for stream in scenario["workload"]["streams"]
        .as_array_mut()
        .expect("streams")
    {
        stream["stop_ms"] = json!(stop_ms);
    }
    run_scenario(&common::scenario(scenario), SimulatorOptions::default()).expect("valid")
}

fn backend(id: &str, service_time: Value) -> Value {
    json!({"id": id, "kind": "service", "properties": {
        "workers": 16, "queue_capacity_requests": 1000,
        "endpoints": [{"name": "get", "steps": [{"compute": {"service_time": service_time}}]}]
    }})
}

fn constant(value_ms: f64) -> Value {
    json!({"constant": {"value_ms": value_ms}})
}

fn stream(id: &str, client: &str, target: &str, gap_ms: f64, extra: Value) -> Value {
    let mut stream = json!({"id": id, "client": client, "target": target,
        "pattern": {"open_loop": {"inter_arrival": constant(gap_ms)}}});
    for (key, value) in extra.as_object().expect("object") {
        stream[key] = value.clone();
    }
    stream
}

fn client(id: &str) -> Value {
    json!({"id": id, "kind": "load_generator", "properties": {"request_timeout_ms": 2000}})
}

#[test]
fn gateway_refuses_missing_tokens_clients_over_their_rate_and_unknown_paths() {
    let seed = 51;
    let report = run(json!({
        "version": 1,
        "topology": {"nodes": [
            client("polite"), client("greedy"), client("anonymous"), client("lost"),
            {"id": "gateway", "kind": "api_gateway", "properties": {
                "routes": [{"path_prefix": "/orders", "service": "orders"}],
                "per_client_rate_limit": {"algorithm": "token_bucket", "rate_per_second": 20.0, "burst": 20}
            }},
            backend("orders", constant(2.0))
        ]},
        "workload": {"streams": [
            stream("polite", "polite", "gateway", 100.0, json!({"path": "/orders/42"})),
            stream("greedy", "greedy", "gateway", 5.0, json!({"path": "/orders/7"})),
            stream("anonymous", "anonymous", "gateway", 200.0, json!({"path": "/orders/1", "auth_token": false})),
            stream("lost", "lost", "gateway", 250.0, json!({"path": "/nowhere"}))
        ]},
        "run": {"seed": seed, "duration_ms": 10000}
    }));
    let gateway = &report.nodes["gateway"];
    let sent = |node: &str| report.nodes[node]["sent"];
    eprintln!("gateway: {gateway:?}");
    assert_eq!(
        report.nodes["polite"]["failed"], 0.0,
        "10/s is under the limit (seed {seed})"
    );
    assert_eq!(gateway["unauthorized"], sent("anonymous"), "seed {seed}");
    assert_eq!(gateway["no_route"], sent("lost"), "seed {seed}");
    // 200/s against 20/s with a burst of 20 for 9.5 s: 20 + 20·t admitted.
    let admitted_greedy = sent("greedy") - gateway["client_rate_limited"];
    let bound = 20.0 + 20.0 * 9.5;
    assert!(
        (bound - 3.0..=bound).contains(&admitted_greedy),
        "greedy client admitted {admitted_greedy}, token bucket allows {bound} (seed {seed})"
    );
    assert_eq!(report.nodes["greedy"]["ok"], admitted_greedy, "seed {seed}");
}

#[test]
fn gateway_cache_answers_repeated_keys_until_the_ttl_expires() {
    let seed = 52;
    let report = run(json!({
        "version": 1,
        "topology": {"nodes": [
            client("shoppers"),
            {"id": "gateway", "kind": "api_gateway", "properties": {
                "key_count": 5,
                "routes": [{"path_prefix": "/catalog", "service": "catalog", "cache_ttl_ms": 1000}]
            }},
            backend("catalog", constant(2.0))
        ]},
        "workload": {"streams": [stream("browse", "shoppers", "gateway", 10.0, json!({"path": "/catalog/shoes"}))]},
        "run": {"seed": seed, "duration_ms": 10000}
    }));
    let misses = report.nodes["catalog"]["arrivals"];
    let hits = report.nodes["gateway"]["cache_hits"];
    eprintln!("catalog calls {misses}, cache hits {hits}");
    // 5 keys, each fetched at most once per second (a miss takes ~3 ms, so
    // concurrent misses of one key are rare at 100/s).
    assert!(
        misses <= 5.0 * 11.0 + 3.0,
        "{misses} backend calls (seed {seed})"
    );
    assert!(
        misses >= 5.0 * 9.0,
        "entries expire: {misses} backend calls (seed {seed})"
    );
    assert!(hits >= 900.0, "{hits} hits (seed {seed})");
}

#[test]
fn gateway_request_timeout_fails_calls_to_a_slow_service() {
    let seed = 53;
    let report = run(json!({
        "version": 1,
        "topology": {"nodes": [
            client("users"),
            {"id": "gateway", "kind": "api_gateway", "properties": {
                "request_timeout_ms": 50,
                "routes": [{"path_prefix": "/", "service": "slow"}]
            }},
            backend("slow", constant(200.0))
        ]},
        "workload": {"streams": [stream("s", "users", "gateway", 20.0, json!({"path": "/x"}))]},
        "run": {"seed": seed, "duration_ms": 2000}
    }));
    let users = &report.nodes["users"];
    assert_eq!(users["ok"], 0.0, "seed {seed}");
    assert_eq!(
        report.nodes["gateway"]["call_timeouts"],
        users["sent"] - users["timed_out"],
        "seed {seed}"
    );
    assert_eq!(
        users["timed_out"], 0.0,
        "the gateway answers before the client gives up (seed {seed})"
    );
    assert!(users["failed"] >= 70.0, "seed {seed}");
}

fn caller_with(
    dependency: Value,
    gap_ms: f64,
    callee: Value,
    caller_extra: Value,
    duration_ms: u64,
    seed: u64,
) -> RunReport {
    let mut caller = json!({"id": "caller", "kind": "service", "properties": {
        "workers": 1000, "queue_capacity_requests": 1000,
        "endpoints": [{"name": "e", "steps": [{"call": {"service": "callee"}}]}],
        "dependencies": [dependency]
    }});
    for (key, value) in caller_extra.as_object().expect("object") {
        caller["properties"][key] = value.clone();
    }
    run(json!({
        "version": 1,
        "topology": {"nodes": [client("users"), caller, callee]},
        "workload": {"streams": [stream("s", "users", "caller", gap_ms, json!({}))]},
        "run": {"seed": seed, "duration_ms": duration_ms}
    }))
}

#[test]
fn bulkhead_caps_concurrent_calls_and_refuses_the_rest() {
    let seed = 54;
    let report = caller_with(
        json!({"service": "callee", "bulkhead": {"max_concurrent_calls": 2, "max_wait_duration_ms": 0}}),
        10.0,
        backend("callee", constant(50.0)),
        json!({}),
        5_000,
        seed,
    );
    let calls = report.nodes["callee"]["arrivals"];
    let refused = report.nodes["caller"]["bulkhead_rejected"];
    eprintln!("callee saw {calls} calls, bulkhead refused {refused}");
    // Two slots each held ~52 ms (50 ms service + 2 ms network): at most ~2/52 ms.
    assert!(
        calls <= 2.0 * 5_000.0 / 52.0 + 2.0,
        "{calls} calls through a bulkhead of 2 (seed {seed})"
    );
    assert!(refused >= 250.0, "seed {seed}");
    assert_eq!(
        calls + refused,
        report.nodes["users"]["sent"],
        "every call accounted for (seed {seed})"
    );
}

#[test]
fn bulkhead_wait_lets_callers_queue_for_a_slot_up_to_the_max_wait() {
    let seed = 55;
    let report = caller_with(
        json!({"service": "callee", "bulkhead": {"max_concurrent_calls": 2, "max_wait_duration_ms": 1000}}),
        40.0,
        backend("callee", constant(50.0)),
        json!({}),
        5_000,
        seed,
    );
    // 25/s offered, 2 slots × ~19/s capacity: everyone gets a slot after waiting.
    assert_eq!(
        report.nodes["caller"]["bulkhead_rejected"], 0.0,
        "seed {seed}"
    );
    assert!(report.nodes["users"]["ok"] >= 105.0, "seed {seed}");
}

#[test]
fn full_queue_rejects_and_load_shedding_refuses_earlier() {
    let seed = 56;
    let single_worker = |shedding: Value| {
        let mut properties = json!({"workers": 1, "queue_capacity_requests": 20,
            "endpoints": [{"name": "e", "steps": [{"compute": {"service_time": constant(10.0)}}]}]});
        if !shedding.is_null() {
            properties["load_shedding"] = shedding;
        }
        run(json!({
            "version": 1,
            "topology": {"nodes": [client("users"), {"id": "server", "kind": "service", "properties": properties}]},
            "workload": {"streams": [stream("s", "users", "server", 5.0, json!({}))]},
            "run": {"seed": seed, "duration_ms": 5000}
        }))
    };
    let plain = single_worker(Value::Null);
    let by_length = single_worker(json!({"max_queue_length_requests": 5}));
    let by_wait = single_worker(json!({"max_queue_wait_ms": 30}));
    for (label, report) in [
        ("queue 20, no shedding", &plain),
        ("shed at 5 waiting", &by_length),
        ("shed at 30 ms wait", &by_wait),
    ] {
        let server = &report.nodes["server"];
        eprintln!(
            "{label:<22} rejected {:>4} shed {:>4} mean wait {:>6.1} ms",
            server["rejected"], server["shed"], server["mean_wait_ms"]
        );
    }
    // 200/s into 100/s: half must be refused one way or another.
    assert!(plain.nodes["server"]["rejected"] >= 400.0 && plain.nodes["server"]["shed"] == 0.0);
    assert!(
        plain.nodes["server"]["mean_wait_ms"] > 150.0,
        "a full queue of 20 means ~200 ms waits (seed {seed})"
    );
    for report in [&by_length, &by_wait] {
        assert!(report.nodes["server"]["shed"] >= 400.0, "seed {seed}");
        assert_eq!(
            report.nodes["server"]["rejected"], 0.0,
            "shedding acts before the queue is full (seed {seed})"
        );
        assert!(
            report.nodes["server"]["mean_wait_ms"] <= 60.0,
            "shedding keeps waits short (seed {seed})"
        );
    }
}

#[test]
fn rate_limiter_on_a_call_edge_throttles_attempts_to_the_configured_rate() {
    let seed = 57;
    let report = caller_with(
        json!({"service": "callee", "rate_limiter": {"algorithm": "gcra", "rate_per_second": 20.0, "burst": 20}}),
        5.0,
        backend("callee", constant(1.0)),
        json!({}),
        5_000,
        seed,
    );
    let through = report.nodes["callee"]["arrivals"];
    eprintln!(
        "callee saw {through} calls, {} throttled",
        report.nodes["caller"]["rate_limited"]
    );
    assert!(
        (108.0..=110.0).contains(&through),
        "GCRA 20/s burst 20 over 4.5 s admits ≤ 110, found {through} (seed {seed})"
    );
}
