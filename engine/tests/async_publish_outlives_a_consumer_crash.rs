//! Service endpoints with asynchronous and data steps: `orders` writes the order to a database and publishes `order.placed` to RabbitMQ (waiting for the confirm); `shipping` consumes the queue. A shipping crash does not slow order placement (the broker buffers), and every published event is processed after the restart (at-least-once: acknowledged only after the endpoint ran).
//!
//! Issue 5 ("Endpoints are small declarative call graphs built from these
//! steps: compute, call, publish to a topic or exchange (asynchronous),
//! consume from a topic or queue, read or write a database or cache").

mod common;

use faultline_engine::report::RunReport;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

fn shop(faults: Value, seed: u64) -> Scenario {
    common::scenario(shop_json(faults, seed))
}

fn shop_json(faults: Value, seed: u64) -> Value {
    json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "client", "kind": "load_generator", "properties": {"request_timeout_ms": 10_000}},
            {"id": "orders", "kind": "service", "properties": {
                "workers": 50,
                "messaging": {"broker": "rabbit"},
                "endpoints": [{"name": "place", "key_count": 1_000, "steps": [
                    {"database": {"database": "orders-db", "operation": "write"}},
                    {"cache": {"cache": "prices"}},
                    {"publish": {"exchange": "shop", "routing_key": "order.placed"}}
                ]}]}},
            {"id": "orders-db", "kind": "kv_database", "properties": {"database": "orders-db"}},
            {"id": "prices", "kind": "cache", "properties": {"backend": "prices-db", "ttl_ms": 5_000, "key_count": 20}},
            {"id": "prices-db", "kind": "sink", "properties": {"service_time": {"constant": {"value_ms": 5.0}}}},
            {"id": "rabbit", "kind": "rabbit_broker", "properties": {
                "heartbeat_timeout_ms": 2_000,
                "exchanges": [{"name": "shop", "type": "topic"}],
                "queues": [{"name": "shipping"}],
                "bindings": [{"exchange": "shop", "queue": "shipping", "routing_key": "order.*"}]}},
            {"id": "shipping", "kind": "service", "properties": {
                "workers": 4,
                "messaging": {"broker": "rabbit", "reconnect_delay_ms": 200,
                              "consume": {"queue": "shipping", "endpoint": "ship", "prefetch_count": 20}},
                "endpoints": [{"name": "ship", "steps": [
                    {"compute": {"service_time": {"constant": {"value_ms": 5.0}}}}]}]}}
        ], "default_network": {"latency": {"constant": {"value_ms": 1.0}}}},
        "workload": {"streams": [{"id": "orders", "client": "client", "target": "orders", "stop_ms": 10_000,
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 20.0}}}}}]},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": 20_000}
    })
}

fn run(scenario: &Scenario) -> RunReport {
    let mut simulator = Simulator::new(scenario).expect("valid");
    simulator.run_to_end();
    RunReport::from_simulator(&simulator)
}

#[test]
fn an_order_writes_the_database_reads_the_cache_and_publishes_an_event() {
    let report = run(&shop(json!({}), 1));
    let seed = report.seed;
    let node = |id: &str| &report.nodes[id];
    let sent = node("client")["sent"];
    assert!(sent > 300.0, "seed {seed}: {sent} orders");
    assert_eq!(
        node("client")["ok"],
        sent,
        "seed {seed}: every order succeeds"
    );
    assert_eq!(node("orders")["database_requests"], sent, "seed {seed}");
    assert_eq!(node("orders-db")["writes_accepted"], sent, "seed {seed}");
    assert_eq!(node("orders")["cache_requests"], sent, "seed {seed}");
    assert!(
        node("prices")["hits"] > node("prices")["misses"],
        "seed {seed}: 20 price keys stay cached"
    );
    assert_eq!(node("orders")["published"], sent, "seed {seed}");
    assert_eq!(node("rabbit")["confirms_ack"], sent, "seed {seed}");
    assert_eq!(node("shipping")["consumed"], sent, "seed {seed}");
    assert_eq!(node("rabbit")["acked"], sent, "seed {seed}");
    assert_eq!(node("shipping")["ok"], sent, "seed {seed}");
}

#[test]
fn a_consumer_crash_neither_slows_orders_nor_loses_events() {
    let faults = json!({"timeline": [
        {"at_ms": 3_000, "action": {"crash": {"node": "shipping"}}},
        {"at_ms": 6_000, "action": {"restart": {"node": "shipping"}}}
    ]});
    let report = run(&shop(faults, 2));
    let seed = report.seed;
    let node = |id: &str| &report.nodes[id];
    let sent = node("client")["sent"];
    // Placing an order never waits for shipping.
    assert_eq!(node("client")["ok"], sent, "seed {seed}");
    assert!(
        node("client")["latency_max_ms"] < 50.0,
        "seed {seed}: order latency {} ms while shipping was down",
        node("client")["latency_max_ms"]
    );
    // Every event was shipped once the consumer came back; what it had taken
    // but not acknowledged when it crashed came again.
    assert_eq!(node("rabbit")["acked"], sent, "seed {seed}");
    assert!(
        node("shipping")["consumed"] >= sent,
        "seed {seed}: {} consumed of {sent}",
        node("shipping")["consumed"]
    );
    assert!(
        node("rabbit")["redelivered"] > 0.0,
        "seed {seed}: the crash must redeliver unacknowledged events"
    );
}

#[test]
fn a_broker_outage_fails_the_publish_step_and_the_order() {
    let faults = json!({"timeline": [
        {"at_ms": 3_000, "action": {"crash": {"node": "rabbit"}}},
        {"at_ms": 6_000, "action": {"restart": {"node": "rabbit"}}}
    ]});
    let report = run(&shop(faults, 3));
    let seed = report.seed;
    let node = |id: &str| &report.nodes[id];
    assert!(
        node("orders")["publish_failures"] > 0.0,
        "seed {seed}: publishes without a broker must fail"
    );
    assert!(
        node("client")["ok"] < node("client")["sent"],
        "seed {seed}: orders whose event could not be published fail"
    );
    // After the restart publishing works again.
    assert!(
        node("rabbit")["confirms_ack"] > 0.0 && node("shipping")["consumed"] > 0.0,
        "seed {seed}"
    );
}

#[test]
fn steps_naming_missing_nodes_are_refused_with_their_paths() {
    let mut scenario = shop_json(json!({}), 1);
    scenario["topology"]["nodes"][1]["properties"]
        .as_object_mut()
        .expect("object")
        .remove("messaging");
    scenario["topology"]["nodes"][1]["properties"]["endpoints"][0]["steps"][0]["database"]["database"] =
        json!("nope");
    scenario["topology"]["nodes"][1]["properties"]["endpoints"][0]["steps"][1]["cache"]["cache"] =
        json!("orders-db");
    scenario["topology"]["nodes"][6]["properties"]["messaging"]["consume"]["endpoint"] =
        json!("deliver");
    let Err(problems) = faultline_engine::scenario::parse_scenario_value(scenario) else {
        panic!("must be refused");
    };
    let text = problems.to_string();
    for path in [
        "topology.nodes[1].properties.endpoints[0].steps[0].database.database",
        "topology.nodes[1].properties.endpoints[0].steps[1].cache.cache",
        "topology.nodes[1].properties.endpoints[0].steps[2].publish",
        "topology.nodes[6].properties.messaging.consume.endpoint",
    ] {
        assert!(text.contains(path), "missing {path} in:\n{text}");
    }
}
