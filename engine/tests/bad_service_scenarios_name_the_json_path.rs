//! Bad `service` and `api_gateway` documents are refused with the JSON path of
//! every problem and what was expected, never a panic or a silent default.

use faultline_engine::scenario::parse_scenario_value;
use serde_json::{Value, json};

fn problems(document: Value) -> String {
    match parse_scenario_value(document) {
        Ok(_) => panic!("expected the scenario to be refused"),
        Err(problems) => problems.to_string(),
    }
}

fn with_nodes(nodes: Value, streams: Value) -> Value {
    json!({"version": 1, "topology": {"nodes": nodes}, "workload": {"streams": streams},
        "run": {"seed": 1, "duration_ms": 1000}})
}

fn leaf() -> Value {
    json!({"id": "users", "kind": "service", "properties": {
        "endpoints": [{"name": "profile", "steps": []}]}})
}

#[test]
fn a_call_to_a_missing_service_or_endpoint_names_the_step() {
    let text = problems(with_nodes(
        json!([leaf(), {"id": "edge", "kind": "service", "properties": {"endpoints": [{"name": "page", "steps": [
            {"call": {"service": "user"}},
            {"call": {"service": "users", "endpoint": "profil"}},
            {"call": {"service": "edge"}}
        ]}]}}]),
        json!([]),
    ));
    eprintln!("{text}");
    assert!(text.contains("topology.nodes[1].properties.endpoints[0].steps[0].call.service: no service \"user\" (did you mean \"users\"?)"));
    assert!(text.contains("topology.nodes[1].properties.endpoints[0].steps[1].call.endpoint: service \"users\" has no endpoint \"profil\""));
    assert!(text.contains("topology.nodes[1].properties.endpoints[0].steps[2].call.service: service \"edge\" cannot call itself"));
}

#[test]
fn out_of_range_policy_settings_name_their_field() {
    let text = problems(with_nodes(
        json!([leaf(), {"id": "edge", "kind": "service", "properties": {
            "endpoints": [{"name": "page", "steps": [{"call": {"service": "users"}}]}],
            "dependencies": [{"service": "users", "timeout_ms": 0,
                "retry": {"max_attempts": 0, "base_ms": 100.0, "cap_ms": 10.0},
                "circuit_breaker": {"custom": {
                    "sliding_window": {"count_based": {"size_calls": 0}},
                    "minimum_number_of_calls": 10, "failure_rate_threshold_percent": 150.0,
                    "slow_call_rate_threshold_percent": 100.0, "wait_duration_in_open_state_ms": 1000,
                    "permitted_number_of_calls_in_half_open_state": 1}},
                "rate_limiter": {"algorithm": "gcra", "rate_per_second": 0.0, "burst": 1}}]
        }}]),
        json!([]),
    ));
    eprintln!("{text}");
    let dependency = "topology.nodes[1].properties.dependencies[0]";
    for expected in [
        format!("{dependency}.timeout_ms: expected 1 to"),
        format!("{dependency}.retry.max_attempts: expected 1 to 100, found 0"),
        format!("{dependency}.retry.cap_ms: expected a cap of at least base_ms"),
        format!(
            "{dependency}.circuit_breaker.custom.sliding_window.count_based.size_calls: expected 1 to"
        ),
        format!(
            "{dependency}.circuit_breaker.custom.failure_rate_threshold_percent: expected a percentage"
        ),
        format!("{dependency}.rate_limiter.rate_per_second: expected more than 0"),
    ] {
        assert!(text.contains(&expected), "missing: {expected}");
    }
}

#[test]
fn paths_go_to_gateways_and_gateways_need_paths() {
    let gateway = json!({"id": "gateway", "kind": "api_gateway", "properties": {
        "routes": [{"path_prefix": "orders", "service": "userz"}]}});
    let text = problems(with_nodes(
        json!([{"id": "client", "kind": "load_generator"}, leaf(), gateway]),
        json!([
            {"id": "a", "client": "client", "target": "users", "path": "/x",
                "pattern": {"open_loop": {"inter_arrival": {"constant": {"value_ms": 10.0}}}}},
            {"id": "b", "client": "client", "target": "gateway",
                "pattern": {"open_loop": {"inter_arrival": {"constant": {"value_ms": 10.0}}}}}
        ]),
    ));
    eprintln!("{text}");
    assert!(text.contains("workload.streams[0].path: only an api_gateway routes by path"));
    assert!(text.contains("workload.streams[1].path: target \"gateway\" is an api_gateway"));
    assert!(text.contains(
        "topology.nodes[2].properties.routes[0].path_prefix: expected a path starting with /"
    ));
    assert!(text.contains("topology.nodes[2].properties.routes[0].service: no service \"userz\" (did you mean \"users\"?)"));
}
