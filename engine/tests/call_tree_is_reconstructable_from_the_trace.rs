//! Every call carries the root request's trace id and its parent span, so the
//! whole call tree of a client request (with retries) can be rebuilt from the
//! trace alone, as a tracing backend would from propagated headers.

mod common;

use faultline_engine::{Simulator, SimulatorOptions};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn every_call_names_its_root_request_and_a_parent_span_that_exists() {
    let seed = 61;
    let compute = json!({"compute": {"service_time": {"exponential": {"mean_ms": 1.0}}}});
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "client", "kind": "load_generator"},
            {"id": "edge", "kind": "service", "properties": {
                "endpoints": [{"name": "page", "steps": [{"call": {"service": "orders"}}, {"call": {"service": "users"}}]}]}},
            {"id": "orders", "kind": "service", "properties": {
                "endpoints": [{"name": "list", "steps": [compute, {"call": {"service": "users", "endpoint": "profile"}}]}],
                "dependencies": [{"service": "users", "timeout_ms": 20,
                    "retry": {"max_attempts": 3, "base_ms": 1.0, "cap_ms": 10.0}}]}},
            {"id": "users", "kind": "service", "properties": {
                "endpoints": [{"name": "profile", "error_probability": 0.3, "steps": [compute]}]}}
        ]},
        "workload": {"streams": [{"id": "s", "client": "client", "target": "edge",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 20.0}}}}}]},
        "run": {"seed": seed, "duration_ms": 3000}
    }));
    let names = ["client", "edge", "orders", "users"];
    let mut simulator = Simulator::with_options(
        &scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let lines = simulator.trace_mut().take_full_record().expect("recorded");

    // Spans that exist: client operations (n0.op) and every call sent (nCaller.c).
    let mut spans: BTreeSet<String> = BTreeSet::new();
    let mut calls = Vec::new();
    for line in lines.iter().filter(|line| line.contains(" send ")) {
        let route = line.split_whitespace().nth(4).expect("from->to");
        let (from, _) = route.split_once("->").expect("arrow");
        let from_index = names
            .iter()
            .position(|name| *name == from)
            .expect("known node");
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(name))
                .map(str::to_string)
        };
        if line.contains(" request op=") {
            spans.insert(format!("n{from_index}.{}", field("op=").expect("op")));
        } else if line.contains(" call c=") {
            let call = field("c=").expect("call id");
            spans.insert(format!("n{from_index}.{call}"));
            calls.push((
                field("trace=").expect("trace"),
                field("parent=").expect("parent"),
                from.to_string(),
                field("try=").expect("attempt"),
            ));
        }
    }
    let mut trees: BTreeMap<String, usize> = BTreeMap::new();
    let mut retried = 0;
    for (trace, parent, from, attempt) in &calls {
        assert!(
            trace.starts_with("n0."),
            "root is a client operation: {trace} (seed {seed})"
        );
        assert!(
            spans.contains(parent),
            "parent {parent} of a call from {from} was never sent (seed {seed})"
        );
        if from == "edge" {
            assert_eq!(
                parent, trace,
                "edge's calls hang directly off the root (seed {seed})"
            );
        } else {
            assert!(
                parent.starts_with("n1."),
                "orders' calls hang off edge's call (seed {seed})"
            );
        }
        if attempt != "1" {
            retried += 1;
        }
        *trees.entry(trace.clone()).or_default() += 1;
    }
    let complete = trees.values().filter(|size| **size >= 3).count();
    eprintln!(
        "{} calls in {} trees, {complete} with all three calls, {retried} retry attempts",
        calls.len(),
        trees.len()
    );
    assert!(complete > 100, "seed {seed}");
    assert!(
        retried > 10,
        "retries appear in the tree as further attempts of the same call (seed {seed})"
    );
}
