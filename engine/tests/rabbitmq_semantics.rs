//! RabbitMQ semantics: routing, redelivery, dead-lettering, TTL retry, crash loss, overflow, priorities, prefetch.
//!
//! Rows R1–R3 of /work/shared/reference/expected-outcomes.md and the RabbitMQ
//! documentation (Exchanges and tutorial 5 for topic routing, Alternate
//! Exchanges, Consumer Acknowledgements and Publisher Confirms, Dead Letter
//! Exchanges, TTL, Maximum Queue Length, Priority Queues, Heartbeats, Queues
//! §durability). One `#[test]` per outcome, each named after it.

mod common;

use common::{count, seconds};
use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

struct Outcome {
    lines: Vec<String>,
    checks: Vec<(String, CheckStatus, String)>,
    summaries: Vec<(String, Vec<(&'static str, f64)>)>,
}

impl Outcome {
    fn check(&self, name: &str) -> (CheckStatus, String) {
        self.checks
            .iter()
            .find(|(check, ..)| check == name)
            .map(|(_, status, detail)| (*status, detail.clone()))
            .unwrap_or_else(|| panic!("checker {name} registered"))
    }

    fn metric(&self, node: &str, name: &str) -> f64 {
        self.summaries
            .iter()
            .find(|(id, _)| id == node)
            .and_then(|(_, summary)| summary.iter().find(|(metric, _)| *metric == name))
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("{node}.{name} reported"))
    }

    fn lines_with(&self, needles: &[&str]) -> Vec<&String> {
        self.lines
            .iter()
            .filter(|line| needles.iter().all(|needle| line.contains(needle)))
            .collect()
    }
}

/// A broker `b` with `broker` properties, and `clients` (publishers and
/// consumers) each linked to it.
fn scenario(
    broker: Value,
    clients: Vec<Value>,
    timeline: Value,
    seed: u64,
    duration_ms: u64,
) -> Scenario {
    let mut nodes = vec![json!({"id": "b", "kind": "rabbit_broker", "properties": broker})];
    let mut links = Vec::new();
    for client in clients {
        links.push(json!({"from": client["id"], "to": "b"}));
        nodes.push(client);
    }
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "links": links},
        "faults": {"timeline": timeline},
        "run": {"seed": seed, "duration_ms": duration_ms}
    }))
}

fn run(scenario: &Scenario) -> Outcome {
    let mut simulator = Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let checks = simulator
        .check_results()
        .into_iter()
        .map(|result| (result.name, result.status, result.detail))
        .collect();
    let summaries = scenario
        .topology
        .nodes
        .iter()
        .map(|node| {
            let id = simulator.node_id(&node.id).expect("node");
            (node.id.clone(), simulator.node_summary(id))
        })
        .collect();
    Outcome {
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
        checks,
        summaries,
    }
}

fn publisher(id: &str, exchange: &str, messages: Value, every_ms: f64, stop_ms: u64) -> Value {
    json!({"id": id, "kind": "rabbit_publisher", "properties": {
        "broker": "b", "exchange": exchange, "messages": messages,
        "inter_arrival": {"constant": {"value_ms": every_ms}}, "stop_ms": stop_ms}})
}

fn consumer(id: &str, queue: &str, extra: Value) -> Value {
    let mut properties = json!({"broker": "b", "queue": queue,
        "processing_time": {"constant": {"value_ms": 5.0}}});
    if let (Some(target), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            target.insert(key.clone(), value.clone());
        }
    }
    json!({"id": id, "kind": "rabbit_consumer", "properties": properties})
}

#[test]
fn topic_routing_table_delivers_each_key_to_the_matching_queues() {
    let broker = json!({
        "exchanges": [{"name": "events", "type": "topic"}],
        "queues": [{"name": "q_star"}, {"name": "q_hash"}, {"name": "q_all"}, {"name": "q_eu"}],
        "bindings": [
            {"exchange": "events", "queue": "q_star", "routing_key": "order.*"},
            {"exchange": "events", "queue": "q_hash", "routing_key": "order.#"},
            {"exchange": "events", "queue": "q_all", "routing_key": "#"},
            {"exchange": "events", "queue": "q_eu", "routing_key": "*.eu.#"}
        ]
    });
    // One publisher per routing key, 10 messages each.
    let keys = [
        ("p_order", "order"),
        ("p_created", "order.created"),
        ("p_created_eu", "order.created.eu"),
        ("p_payment_eu", "payment.eu"),
        ("p_order_eu", "order.eu"),
    ];
    let clients = keys
        .iter()
        .map(|(id, key)| publisher(id, "events", json!([{"routing_key": key}]), 100.0, 1_000))
        .collect();
    let seed = 1;
    let outcome = run(&scenario(broker, clients, json!([]), seed, 3_000));
    // (publisher, queue, routed?)
    let expected = [
        ("p_order", "q_star", false),
        ("p_order", "q_hash", true),
        ("p_order", "q_all", true),
        ("p_order", "q_eu", false),
        ("p_created", "q_star", true),
        ("p_created", "q_hash", true),
        ("p_created", "q_eu", false),
        ("p_created_eu", "q_star", false),
        ("p_created_eu", "q_hash", true),
        ("p_created_eu", "q_eu", false),
        ("p_payment_eu", "q_hash", false),
        ("p_payment_eu", "q_all", true),
        ("p_payment_eu", "q_eu", true),
        ("p_order_eu", "q_star", true),
        ("p_order_eu", "q_eu", true),
    ];
    for (publisher, queue, routed) in expected {
        let enqueued = outcome
            .lines_with(&[&format!("enqueued {queue} msg={publisher}#")])
            .len();
        let published = outcome.metric(publisher, "confirmed");
        assert!(
            published >= 9.0,
            "seed {seed}: {publisher} published {published}"
        );
        assert_eq!(
            enqueued as f64,
            if routed { published } else { 0.0 },
            "seed {seed}: {publisher} -> {queue} (routed: {routed})"
        );
    }
}

#[test]
fn unroutable_messages_go_to_the_alternate_exchange_or_back_to_a_mandatory_publisher() {
    let broker = json!({
        "exchanges": [
            {"name": "orders", "type": "direct", "alternate_exchange": "unrouted"},
            {"name": "unrouted", "type": "fanout"},
            {"name": "strict", "type": "direct"}
        ],
        "queues": [{"name": "created"}, {"name": "unrouted_messages"}],
        "bindings": [
            {"exchange": "orders", "queue": "created", "routing_key": "created"},
            {"exchange": "unrouted", "queue": "unrouted_messages"}
        ]
    });
    let mut mandatory = publisher(
        "p_mandatory",
        "strict",
        json!([{"routing_key": "nowhere"}]),
        100.0,
        1_000,
    );
    mandatory["properties"]["mandatory"] = json!(true);
    let clients = vec![
        publisher(
            "p_known",
            "orders",
            json!([{"routing_key": "created"}]),
            100.0,
            1_000,
        ),
        publisher(
            "p_unknown",
            "orders",
            json!([{"routing_key": "cancelled"}]),
            100.0,
            1_000,
        ),
        mandatory,
    ];
    let seed = 2;
    let outcome = run(&scenario(broker, clients, json!([]), seed, 3_000));
    let unknown = outcome.metric("p_unknown", "confirmed");
    assert!(unknown >= 9.0, "seed {seed}");
    assert_eq!(
        outcome
            .lines_with(&["enqueued unrouted_messages msg=p_unknown#"])
            .len() as f64,
        unknown,
        "seed {seed}: every unroutable message reaches the alternate exchange's queue"
    );
    assert_eq!(
        outcome
            .lines_with(&["enqueued created msg=p_unknown#"])
            .len(),
        0
    );
    assert_eq!(
        outcome
            .lines_with(&["enqueued unrouted_messages msg=p_known#"])
            .len(),
        0,
        "seed {seed}: routable messages do not go to the alternate exchange"
    );
    // No alternate exchange + mandatory: basic.return, then the confirm.
    let returned = outcome.metric("p_mandatory", "returned");
    assert!(returned >= 9.0, "seed {seed}: returned {returned}");
    assert_eq!(
        returned,
        outcome.metric("p_mandatory", "confirmed"),
        "seed {seed}"
    );
    assert_eq!(
        outcome.metric("b", "routed_via_alternate_exchange"),
        unknown
    );
}

/// Consumers `c1` (and `c2` when `two`) on `work`, heartbeat timeout 2 s.
fn redelivery_setup(timeline: Value, two: bool, idempotent: bool, seed: u64) -> Outcome {
    let broker = json!({
        "queues": [{"name": "work"}],
        "heartbeat_timeout_ms": 2_000
    });
    let mut clients = vec![publisher(
        "p",
        "",
        json!([{"routing_key": "work"}]),
        20.0,
        6_000,
    )];
    let consumers: &[&str] = if two { &["c1", "c2"] } else { &["c1"] };
    for id in consumers {
        clients.push(consumer(
            id,
            "work",
            json!({"prefetch_count": 5, "idempotent": idempotent,
            "processing_time": {"constant": {"value_ms": 30.0}}}),
        ));
    }
    run(&scenario(broker, clients, timeline, seed, 20_000))
}

#[test]
fn r1_consumer_crash_requeues_unacked_deliveries_with_redelivered_after_the_heartbeat_timeout() {
    let seed = 3;
    let outcome = redelivery_setup(
        json!([{"at_ms": 3_000, "action": {"crash": {"node": "c1"}}}]),
        true,
        false,
        seed,
    );
    // The broker notices only when heartbeats stop: 2 s timeout, checked every 0.5 s.
    let closed = outcome.lines_with(&["connection c1 from", "missed heartbeats"]);
    assert_eq!(closed.len(), 1, "seed {seed}: {closed:?}");
    let closed_at = seconds(closed[0]);
    assert!(
        (4.9..=5.6).contains(&closed_at),
        "seed {seed}: c1's connection closed at {closed_at}s"
    );
    assert!(
        closed[0].contains("5 unacked requeued"),
        "seed {seed}: {}",
        closed[0]
    );
    // c2 gets the requeued messages, flagged redelivered.
    let redelivered = count(
        &outcome.lines,
        &[" send ", "b->c2", "basic.deliver", "redelivered"],
        0.0..30.0,
    );
    assert_eq!(redelivered, 5, "seed {seed}");
    assert_eq!(outcome.metric("c2", "redelivered"), 5.0, "seed {seed}");
    assert_eq!(
        count(&outcome.lines, &["b->c2", "redelivered"], 0.0..closed_at),
        0,
        "seed {seed}: nothing redelivered before the connection closed"
    );
    assert_eq!(
        outcome.check("lost_confirmed_messages").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
    // The crash killed the handlers before they finished: no double handling.
    assert_eq!(
        outcome.check("no_duplicate_handling").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
}

#[test]
fn r1_partitioned_consumer_handles_twice_unless_idempotent() {
    let timeline = json!([
        {"at_ms": 3_000, "action": {"partition": {"groups": [["c1"], ["b", "p"]]}}},
        {"at_ms": 8_000, "action": {"heal": {}}}
    ]);
    let seed = 4;
    let plain = redelivery_setup(timeline.clone(), false, false, seed);
    // c1's handlers finish during the partition, but their acks are lost:
    // the broker requeues, and c1 handles them again after it reconnects.
    let (status, detail) = plain.check("no_duplicate_handling");
    assert_eq!(status, CheckStatus::Fail, "seed {seed}");
    assert!(
        detail.contains("after a redelivery"),
        "seed {seed}: {detail}"
    );
    assert!(plain.metric("c1", "redelivered") >= 1.0, "seed {seed}");
    // The acks went out into the partition and were lost; the broker closed
    // the silent connection and requeued.
    assert!(
        plain.metric("b", "connections_closed_missed_heartbeats") >= 1.0,
        "seed {seed}"
    );
    assert!(
        plain.metric("c1", "duplicates_handled") >= 1.0,
        "seed {seed}"
    );
    assert_eq!(
        plain.check("lost_confirmed_messages").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
    assert!(
        count(&plain.lines, &["b->c1", "basic.deliver"], 8.0..20.0) > 0,
        "seed {seed}"
    );

    // The idempotent handler remembers the ids and acks repeats unhandled.
    let idempotent = redelivery_setup(timeline, false, true, seed);
    assert_eq!(
        idempotent.check("no_duplicate_handling").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
    assert!(
        idempotent.metric("c1", "duplicates_suppressed") >= 1.0,
        "seed {seed}"
    );
    assert_eq!(
        idempotent.metric("c1", "handled"),
        idempotent.metric("p", "confirmed"),
        "seed {seed}: each message handled exactly once"
    );
}

#[test]
fn r2_each_dead_letter_reason_and_queue_expiry_does_not_dead_letter() {
    let broker = json!({
        "exchanges": [{"name": "dlx", "type": "direct"}],
        "queues": [
            {"name": "rejecting", "dead_letter_exchange": "dlx", "dead_letter_routing_key": "rejected"},
            {"name": "expiring", "message_ttl_ms": 500, "dead_letter_exchange": "dlx", "dead_letter_routing_key": "expired"},
            {"name": "short", "max_length_messages": 3, "dead_letter_exchange": "dlx", "dead_letter_routing_key": "maxlen"},
            {"name": "temporary", "expires_ms": 1_500, "dead_letter_exchange": "dlx", "dead_letter_routing_key": "deleted"},
            {"name": "dlq_rejected"}, {"name": "dlq_expired"}, {"name": "dlq_maxlen"}, {"name": "dlq_deleted"}
        ],
        "bindings": [
            {"exchange": "dlx", "queue": "dlq_rejected", "routing_key": "rejected"},
            {"exchange": "dlx", "queue": "dlq_expired", "routing_key": "expired"},
            {"exchange": "dlx", "queue": "dlq_maxlen", "routing_key": "maxlen"},
            {"exchange": "dlx", "queue": "dlq_deleted", "routing_key": "deleted"}
        ]
    });
    let clients = vec![
        publisher(
            "p_rejecting",
            "",
            json!([{"routing_key": "rejecting"}]),
            100.0,
            1_000,
        ),
        publisher(
            "p_expiring",
            "",
            json!([{"routing_key": "expiring"}]),
            100.0,
            1_000,
        ),
        publisher(
            "p_short",
            "",
            json!([{"routing_key": "short"}]),
            100.0,
            1_000,
        ),
        publisher(
            "p_temporary",
            "",
            json!([{"routing_key": "temporary"}]),
            100.0,
            1_000,
        ),
        consumer(
            "c_rejecting",
            "rejecting",
            json!({"negative_ack_probability": 1.0, "requeue": false}),
        ),
    ];
    let seed = 5;
    let outcome = run(&scenario(broker, clients, json!([]), seed, 5_000));
    for (source, reason, publisher) in [
        ("rejecting", "rejected", "p_rejecting"),
        ("expiring", "expired", "p_expiring"),
    ] {
        let confirmed = outcome.metric(publisher, "confirmed");
        let dead = outcome.lines_with(&[
            &format!("removed {source} msg="),
            &format!("dead_lettered reason={reason}"),
        ]);
        assert_eq!(dead.len() as f64, confirmed, "seed {seed}: {source}");
        assert_eq!(
            outcome
                .lines_with(&[&format!("enqueued dlq_{reason} msg={publisher}#")])
                .len() as f64,
            confirmed,
            "seed {seed}: dlq_{reason}"
        );
    }
    // Expired messages leave at TTL, not earlier (no consumer: at the head).
    let first_expiry = outcome.lines_with(&["removed expiring msg=p_expiring#0 "]);
    assert!(
        (seconds(first_expiry[0]) - 0.6).abs() < 0.01,
        "seed {seed}: {first_expiry:?}"
    );
    // max-length 3, drop-head: all but the last 3 dead-lettered as maxlen.
    let short = outcome.metric("p_short", "confirmed");
    assert_eq!(
        outcome
            .lines_with(&["removed short msg=", "dead_lettered reason=maxlen"])
            .len() as f64,
        short - 3.0,
        "seed {seed}"
    );
    // x-expires: the queue goes, its messages are NOT dead-lettered (R2).
    let deleted = outcome.lines_with(&["queue_deleted temporary reason=expires"]);
    assert_eq!(deleted.len(), 1, "seed {seed}");
    assert!(
        deleted[0].contains("discarded=9"),
        "seed {seed}: {}",
        deleted[0]
    );
    assert!(
        (seconds(deleted[0]) - 1.5).abs() < 0.01,
        "seed {seed}: {}",
        deleted[0]
    );
    assert_eq!(
        outcome.lines_with(&["enqueued dlq_deleted"]).len(),
        0,
        "seed {seed}"
    );
    assert_eq!(
        outcome.check("dead_letter_reasons_valid").0,
        CheckStatus::Pass,
        "seed {seed}: {:?}",
        outcome.check("dead_letter_reasons_valid")
    );
    assert_eq!(
        outcome.check("queue_within_max_length").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
    assert_eq!(
        outcome.check("lost_confirmed_messages").0,
        CheckStatus::Pass,
        "seed {seed}: {:?}",
        outcome.check("lost_confirmed_messages")
    );
    assert!(
        outcome.metric("b", "dead_letter_queue_ready") >= 10.0,
        "seed {seed}"
    );
}

#[test]
fn delayed_retry_via_ttl_and_dead_letter_exchange_redelivers_after_the_delay() {
    let broker = json!({
        "exchanges": [{"name": "retry", "type": "direct"}],
        "queues": [
            {"name": "orders", "dead_letter_exchange": "retry", "dead_letter_routing_key": "orders.retry"},
            {"name": "orders.retry", "message_ttl_ms": 2_000,
             "dead_letter_exchange": "", "dead_letter_routing_key": "orders"}
        ],
        "bindings": [{"exchange": "retry", "queue": "orders.retry", "routing_key": "orders.retry"}]
    });
    let clients = vec![
        publisher("p", "", json!([{"routing_key": "orders"}]), 50.0, 2_000),
        consumer(
            "c",
            "orders",
            json!({"negative_ack_probability": 0.5, "requeue": false}),
        ),
    ];
    for seed in 0..5 {
        let outcome = run(&scenario(
            broker.clone(),
            clients.clone(),
            json!([]),
            seed,
            30_000,
        ));
        let rejections =
            outcome.lines_with(&["removed orders msg=", "dead_lettered reason=rejected"]);
        assert!(
            rejections.len() > 10,
            "seed {seed}: {} rejections",
            rejections.len()
        );
        for rejection in &rejections {
            let message = rejection
                .split("msg=")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .expect("msg");
            let rejected_at = seconds(rejection);
            // The next time the message is back in `orders`: exactly the TTL later.
            let back = outcome
                .lines
                .iter()
                .filter(|line| line.contains(&format!("enqueued orders msg={message} ")))
                .map(|line| seconds(line))
                .find(|at| *at > rejected_at)
                .unwrap_or_else(|| panic!("seed {seed}: {message} never retried"));
            let delay = back - rejected_at;
            assert!(
                (1.999..2.01).contains(&delay),
                "seed {seed}: {message} retried after {delay}s"
            );
        }
        // Retried until handled: every confirmed message is handled once.
        assert_eq!(
            outcome.metric("c", "handled"),
            outcome.metric("p", "confirmed"),
            "seed {seed}"
        );
        assert_eq!(
            outcome.check("dead_letter_reasons_valid").0,
            CheckStatus::Pass,
            "seed {seed}"
        );
        assert_eq!(
            outcome.check("lost_confirmed_messages").0,
            CheckStatus::Pass,
            "seed {seed}"
        );
    }
}

/// One cell of the classic-queue crash matrix: messages published in the
/// first second, broker crash at 2 s, optional restart at 3 s, consumer from 4 s.
fn crash_cell(durable: bool, persistent: bool, restart: bool, seed: u64) -> Outcome {
    let broker = json!({"queues": [{"name": "q", "durable": durable}]});
    let mut producer = publisher("p", "", json!([{"routing_key": "q"}]), 20.0, 1_000);
    producer["properties"]["persistent"] = json!(persistent);
    let clients = vec![producer, consumer("c", "q", json!({"start_ms": 4_000}))];
    let mut timeline = vec![json!({"at_ms": 2_000, "action": {"crash": {"node": "b"}}})];
    if restart {
        timeline.push(json!({"at_ms": 3_000, "action": {"restart": {"node": "b"}}}));
    }
    run(&scenario(broker, clients, json!(timeline), seed, 8_000))
}

#[test]
fn classic_queue_crash_keeps_only_persistent_messages_of_durable_queues_after_a_restart() {
    let seed = 6;
    let mut table = String::from(
        "durable persistent restart | confirmed handled lost_on_crash lost_confirmed_messages\n",
    );
    for durable in [false, true] {
        for persistent in [false, true] {
            for restart in [false, true] {
                let outcome = crash_cell(durable, persistent, restart, seed);
                let confirmed = outcome.metric("p", "confirmed");
                let handled = outcome.metric("c", "handled");
                let lost = outcome.metric("b", "lost_on_crash");
                let (status, detail) = outcome.check("lost_confirmed_messages");
                table += &format!(
                    "{durable} {persistent} {restart} | {confirmed} {handled} {lost} {status:?}\n"
                );
                assert!(confirmed >= 49.0, "seed {seed}\n{table}");
                let promised = durable && persistent;
                match (promised, restart) {
                    // On disk and back: every message delivered, flagged as
                    // not delivered before (no consumer before the crash).
                    (true, true) => {
                        assert_eq!(handled, confirmed, "seed {seed}\n{table}");
                        assert_eq!(lost, 0.0, "seed {seed}\n{table}");
                        assert_eq!(status, CheckStatus::Pass, "seed {seed}\n{table}");
                    }
                    // On disk, but the node never came back: stranded.
                    (true, false) => {
                        assert_eq!(handled, 0.0, "seed {seed}\n{table}");
                        assert_eq!(status, CheckStatus::Fail, "seed {seed}\n{table}");
                        assert!(
                            detail.contains("crashed and never came back"),
                            "seed {seed}: {detail}"
                        );
                    }
                    // Transient message or transient queue: gone, as documented
                    // (not a broken promise, so the checker passes).
                    (false, _) => {
                        assert_eq!(handled, 0.0, "seed {seed}\n{table}");
                        assert_eq!(lost, confirmed, "seed {seed}\n{table}");
                        assert_eq!(status, CheckStatus::Pass, "seed {seed}\n{table}");
                    }
                }
            }
        }
    }
    println!("{table}");
}

#[test]
fn crash_with_unacked_deliveries_recovers_them_as_redelivered() {
    // A durable queue, persistent messages, a slow consumer holding 5
    // unacked when the broker crashes: after the restart they come back with
    // redelivered=true (the queue index recorded the delivery).
    let seed = 7;
    let broker = json!({"queues": [{"name": "q"}]});
    let clients = vec![
        publisher("p", "", json!([{"routing_key": "q"}]), 20.0, 1_000),
        consumer(
            "c",
            "q",
            json!({"prefetch_count": 5,
            "processing_time": {"constant": {"value_ms": 1_000.0}}}),
        ),
    ];
    let timeline = json!([
        {"at_ms": 1_500, "action": {"crash": {"node": "b"}}},
        {"at_ms": 2_000, "action": {"restart": {"node": "b"}}}
    ]);
    let outcome = run(&scenario(broker, clients, timeline, seed, 120_000));
    assert!(outcome.metric("c", "redelivered") >= 5.0, "seed {seed}");
    assert_eq!(
        outcome.check("lost_confirmed_messages").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
    assert_eq!(outcome.metric("b", "lost_on_crash"), 0.0, "seed {seed}");
}

fn overflow_run(overflow: &str, seed: u64) -> Outcome {
    let broker = json!({"queues": [{"name": "q", "max_length_messages": 5, "overflow": overflow}]});
    // Arrivals every 10 ms up to 200 ms: 20 messages.
    let mut producer = publisher("p", "", json!([{"routing_key": "q"}]), 10.0, 205);
    producer["properties"]["retries"] = json!(0);
    run(&scenario(broker, vec![producer], json!([]), seed, 2_000))
}

#[test]
fn overflow_drop_head_keeps_the_newest_and_reject_publish_nacks_the_newest() {
    let seed = 8;
    let drop_head = overflow_run("drop_head", seed);
    let published = drop_head.metric("p", "published");
    assert_eq!(published, 20.0, "seed {seed}");
    assert_eq!(drop_head.metric("p", "confirmed"), 20.0, "seed {seed}");
    assert_eq!(drop_head.metric("b", "ready_messages"), 5.0, "seed {seed}");
    // The oldest 15 went (dropped: no dead-letter exchange); #15..#19 remain.
    for sequence in 0..15 {
        assert_eq!(
            drop_head
                .lines_with(&[&format!("removed q msg=p#{sequence} dropped reason=maxlen")])
                .len(),
            1,
            "seed {seed}: p#{sequence}"
        );
    }
    assert_eq!(
        drop_head.lines_with(&["removed q msg=p#15 "]).len(),
        0,
        "seed {seed}"
    );
    assert_eq!(
        drop_head.check("queue_within_max_length").0,
        CheckStatus::Pass
    );

    let reject = overflow_run("reject_publish", seed);
    assert_eq!(reject.metric("p", "confirmed"), 5.0, "seed {seed}");
    assert_eq!(reject.metric("p", "nacked"), 15.0, "seed {seed}");
    assert_eq!(reject.metric("p", "failed"), 15.0, "seed {seed}");
    assert_eq!(reject.metric("b", "ready_messages"), 5.0, "seed {seed}");
    // The first five stay; nothing is removed from the queue.
    assert_eq!(
        reject.lines_with(&["removed q msg="]).len(),
        0,
        "seed {seed}"
    );
    assert_eq!(
        reject.lines_with(&["enqueued q msg=p#4 "]).len(),
        1,
        "seed {seed}"
    );
    assert_eq!(
        reject.lines_with(&["enqueued q msg=p#5 "]).len(),
        0,
        "seed {seed}"
    );
    assert_eq!(reject.check("queue_within_max_length").0, CheckStatus::Pass);
}

#[test]
fn priority_queue_delivers_the_highest_priority_backlog_first() {
    let seed = 9;
    let broker = json!({"queues": [{"name": "q", "max_priority": 10}]});
    let clients = vec![
        publisher(
            "low",
            "",
            json!([{"routing_key": "q", "priority": 1}]),
            50.0,
            1_000,
        ),
        publisher(
            "high",
            "",
            json!([{"routing_key": "q", "priority": 9}]),
            50.0,
            1_000,
        ),
        consumer("c", "q", json!({"prefetch_count": 1, "start_ms": 2_000})),
    ];
    let outcome = run(&scenario(broker, clients, json!([]), seed, 5_000));
    let handled: Vec<&String> = outcome.lines_with(&["handled q msg="]);
    let high = outcome.metric("high", "confirmed") as usize;
    assert!(high >= 19, "seed {seed}");
    assert!(handled.len() >= 2 * high - 2, "seed {seed}");
    assert!(
        handled[..high]
            .iter()
            .all(|line| line.contains("msg=high#")),
        "seed {seed}: first {high} handled must be high priority"
    );
    // The same without x-max-priority: arrival order (interleaved).
    let fifo = run(&scenario(
        json!({"queues": [{"name": "q"}]}),
        vec![
            publisher(
                "low",
                "",
                json!([{"routing_key": "q", "priority": 1}]),
                50.0,
                1_000,
            ),
            publisher(
                "high",
                "",
                json!([{"routing_key": "q", "priority": 9}]),
                50.0,
                1_000,
            ),
            consumer("c", "q", json!({"prefetch_count": 1, "start_ms": 2_000})),
        ],
        json!([]),
        seed,
        5_000,
    ));
    let fifo_handled = fifo.lines_with(&["handled q msg="]);
    assert!(
        fifo_handled[..high]
            .iter()
            .any(|line| line.contains("msg=low#")),
        "seed {seed}"
    );
}

#[test]
fn prefetch_limits_unacknowledged_deliveries_per_consumer() {
    let seed = 10;
    for (prefetch, expected_max) in [(1, 1.0), (3, 3.0), (0, 50.0)] {
        let broker = json!({"queues": [{"name": "q"}]});
        let clients = vec![
            publisher("p", "", json!([{"routing_key": "q"}]), 10.0, 505),
            consumer(
                "c",
                "q",
                json!({"prefetch_count": prefetch, "start_ms": 1_000,
                "processing_time": {"constant": {"value_ms": 50.0}}}),
            ),
        ];
        let outcome = run(&scenario(broker, clients, json!([]), seed, 6_000));
        assert_eq!(outcome.metric("p", "confirmed"), 50.0, "seed {seed}");
        assert_eq!(
            outcome.metric("b", "max_unacked_per_consumer"),
            expected_max,
            "seed {seed}: prefetch {prefetch}"
        );
        assert_eq!(
            outcome.metric("c", "max_unacked"),
            expected_max,
            "seed {seed}"
        );
        assert_eq!(outcome.metric("c", "handled"), 50.0, "seed {seed}");
    }
}

#[test]
fn quorum_queue_arguments_are_checked_and_delivery_limit_is_refused_on_classic_queues() {
    let text = json!({
        "version": 1,
        "topology": {"nodes": [{"id": "b", "kind": "rabbit_broker", "properties": {
            "queues": [
                {"name": "q", "queue_type": "quorum", "durable": false,
                 "message_ttl_ms": 1_000, "replicas": ["b", "nowhere"]},
                {"name": "c", "delivery_limit": 3}
            ]}}]},
        "run": {"seed": 1, "duration_ms": 1_000}
    });
    let problems = faultline_engine::scenario::parse_scenario_value(text)
        .expect_err("bad quorum queue arguments")
        .to_string();
    for expected in [
        "queues[0].durable",
        "queues[0].message_ttl_ms",
        "queues[0].replicas[1]",
        "queues[1].delivery_limit",
    ] {
        assert!(problems.contains(expected), "{expected}: {problems}");
    }
    assert!(problems.contains("quorum queues only"), "{problems}");
}

#[test]
fn rabbitmq_examples_meet_their_expectations() {
    for name in [
        "rabbitmq-topic-routing-dlq-retry",
        "rabbitmq-classic-queue-crash",
        "rabbitmq-classic-vs-quorum-crash",
    ] {
        let scenario = common::example(name);
        let seed = scenario.run.seed;
        let report =
            faultline_engine::run_scenario(&scenario, SimulatorOptions::default()).expect("valid");
        assert!(
            report.expectations_met,
            "seed {seed}: {name}: {:#?}",
            report.expectations
        );
    }
}

/// A work queue under a random fault plan (crashes, pauses, partitions of the
/// broker and both consumers; everything healed and restarted by 24 s).
fn nemesis_run(durable_and_persistent: bool, seed: u64) -> Outcome {
    let broker = json!({
        "queues": [{"name": "work", "durable": durable_and_persistent}],
        "heartbeat_timeout_ms": 2_000
    });
    let mut producer = publisher("p", "", json!([{"routing_key": "work"}]), 25.0, 20_000);
    producer["properties"]["persistent"] = json!(durable_and_persistent);
    producer["properties"]["confirm_timeout_ms"] = json!(1_000);
    let clients = vec![
        producer,
        consumer(
            "c1",
            "work",
            json!({"processing_time": {"exponential": {"mean_ms": 10.0}}}),
        ),
        consumer(
            "c2",
            "work",
            json!({"processing_time": {"exponential": {"mean_ms": 10.0}}}),
        ),
    ];
    let mut scenario = scenario(broker, clients, json!([]), seed, 40_000);
    scenario.faults.nemesis = Some(
        serde_json::from_value(json!({
            "faults_per_minute": 12.0, "mean_fault_duration_ms": 3_000.0,
            "kinds": ["crash", "pause", "partition"], "targets": ["b", "c1", "c2"],
            "stop_ms": 24_000
        }))
        .expect("nemesis spec"),
    );
    run(&scenario)
}

/// Durable + persistent with confirms never loses a confirmed message under
/// crashes, pauses and partitions (every crashed node restarts); redelivery
/// makes handlers run twice in many runs. Transient messages are lost
/// whenever the broker crashes with messages queued. Prints the table.
fn nemesis_sweep(seeds: u64) {
    let mut table = String::from(
        "configuration | seeds | lost_confirmed_messages runs | no_duplicate_handling runs | broker lost_on_crash (sum)\n",
    );
    for durable_and_persistent in [true, false] {
        let mut lost_runs = 0;
        let mut duplicate_runs = 0;
        let mut lost_on_crash = 0.0;
        for seed in 0..seeds {
            let outcome = nemesis_run(durable_and_persistent, seed);
            let (lost, detail) = outcome.check("lost_confirmed_messages");
            if lost == CheckStatus::Fail {
                lost_runs += 1;
                assert!(!durable_and_persistent, "seed {seed}: {detail}");
            }
            if outcome.check("no_duplicate_handling").0 == CheckStatus::Fail {
                duplicate_runs += 1;
            }
            assert_eq!(
                outcome.check("dead_letter_reasons_valid").0,
                CheckStatus::Pass,
                "seed {seed}"
            );
            lost_on_crash += outcome.metric("b", "lost_on_crash");
            if durable_and_persistent {
                assert_eq!(outcome.metric("b", "lost_on_crash"), 0.0, "seed {seed}");
            }
        }
        table += &format!(
            "{} | {seeds} | {lost_runs} | {duplicate_runs} | {lost_on_crash}\n",
            if durable_and_persistent {
                "durable queue + persistent messages"
            } else {
                "transient queue + transient messages"
            }
        );
        if !durable_and_persistent {
            assert!(
                lost_on_crash > 0.0,
                "some nemesis crash hits a full transient queue\n{table}"
            );
        }
    }
    println!("{table}");
}

/// A few seeds on every run; the full table below is `--ignored`.
#[test]
fn nemesis_sweep_durable_persistent_loses_nothing_and_redelivers() {
    nemesis_sweep(10);
}

/// `cargo test -p faultline-engine --test rabbitmq_semantics -- --ignored --nocapture`
/// prints the 100-seed table (about 20 s in the test profile).
#[test]
#[ignore]
fn nemesis_sweep_table_100_seeds() {
    nemesis_sweep(100);
}

#[test]
fn headers_exchange_matches_all_or_any_of_the_binding_headers() {
    let broker = json!({
        "exchanges": [{"name": "documents", "type": "headers"}],
        "queues": [{"name": "pdf_all"}, {"name": "pdf_or_report_any"}],
        "bindings": [
            {"exchange": "documents", "queue": "pdf_all", "headers": {"format": "pdf"}, "x_match": "all"},
            {"exchange": "documents", "queue": "pdf_or_report_any",
             "headers": {"format": "pdf", "type": "report"}, "x_match": "any"}
        ]
    });
    let clients = vec![
        publisher(
            "p_pdf_log",
            "documents",
            json!([{"headers": {"format": "pdf", "type": "log"}}]),
            100.0,
            1_000,
        ),
        publisher(
            "p_zip_report",
            "documents",
            json!([{"headers": {"format": "zip", "type": "report"}}]),
            100.0,
            1_000,
        ),
        publisher(
            "p_zip_log",
            "documents",
            json!([{"headers": {"format": "zip", "type": "log"}}]),
            100.0,
            1_000,
        ),
    ];
    let seed = 11;
    let outcome = run(&scenario(broker, clients, json!([]), seed, 2_000));
    let enqueued = |queue: &str, publisher: &str| {
        outcome
            .lines_with(&[&format!("enqueued {queue} msg={publisher}#")])
            .len()
    };
    assert_eq!(enqueued("pdf_all", "p_pdf_log"), 9, "seed {seed}");
    assert_eq!(enqueued("pdf_or_report_any", "p_pdf_log"), 9, "seed {seed}");
    assert_eq!(enqueued("pdf_all", "p_zip_report"), 0, "seed {seed}");
    assert_eq!(
        enqueued("pdf_or_report_any", "p_zip_report"),
        9,
        "seed {seed}"
    );
    assert_eq!(enqueued("pdf_all", "p_zip_log"), 0, "seed {seed}");
    assert_eq!(enqueued("pdf_or_report_any", "p_zip_log"), 0, "seed {seed}");
    assert_eq!(outcome.metric("b", "unroutable"), 9.0, "seed {seed}");
}

#[test]
fn max_length_bytes_drops_the_head_until_the_ready_bodies_fit() {
    let broker = json!({"queues": [{"name": "q", "max_length_bytes": 2_500}]});
    // 1024-byte bodies: two fit in 2500 bytes.
    let clients = vec![publisher("p", "", json!([{"routing_key": "q"}]), 10.0, 105)];
    let seed = 12;
    let outcome = run(&scenario(broker, clients, json!([]), seed, 1_000));
    assert_eq!(outcome.metric("p", "confirmed"), 10.0, "seed {seed}");
    assert_eq!(outcome.metric("b", "ready_messages"), 2.0, "seed {seed}");
    assert_eq!(
        outcome
            .lines_with(&["removed q msg=", "dropped reason=maxlen"])
            .len(),
        8,
        "seed {seed}"
    );
}

#[test]
fn expiry_cycle_without_a_rejection_is_dropped_instead_of_looping() {
    // `loop` dead-letters expired messages back into itself. RabbitMQ's DLX
    // guide: messages that would reach the same queue twice with no
    // rejection in the cycle are dropped. The one message expires once and
    // is dropped (its x-death already names `loop`); the delayed-retry test
    // shows a cycle *with* a rejection keeps going.
    let broker = json!({"queues": [{"name": "loop", "message_ttl_ms": 100,
        "dead_letter_exchange": "", "dead_letter_routing_key": "loop"}]});
    let clients = vec![publisher(
        "p",
        "",
        json!([{"routing_key": "loop"}]),
        100.0,
        150,
    )];
    let seed = 13;
    let outcome = run(&scenario(broker, clients, json!([]), seed, 1_000));
    assert_eq!(
        outcome.lines_with(&["enqueued loop msg=p#0 "]).len(),
        1,
        "seed {seed}"
    );
    assert_eq!(
        outcome
            .lines_with(&["removed loop msg=p#0 dropped reason=expired"])
            .len(),
        1,
        "seed {seed}"
    );
    assert_eq!(
        outcome.lines_with(&["dead_lettered"]).len(),
        0,
        "seed {seed}"
    );
    assert_eq!(outcome.metric("b", "ready_messages"), 0.0, "seed {seed}");
}

#[test]
fn cancelled_consumer_gets_no_more_deliveries() {
    let broker = json!({"queues": [{"name": "q"}]});
    let clients = vec![
        publisher("p", "", json!([{"routing_key": "q"}]), 50.0, 2_000),
        consumer("c", "q", json!({"cancel_at_ms": 1_000})),
    ];
    let seed = 14;
    let outcome = run(&scenario(broker, clients, json!([]), seed, 3_000));
    assert_eq!(
        count(&outcome.lines, &[" send ", "basic.deliver"], 1.01..3.0),
        0,
        "seed {seed}"
    );
    assert!(
        count(&outcome.lines, &[" send ", "basic.deliver"], 0.0..1.0) >= 18,
        "seed {seed}"
    );
    assert!(outcome.metric("b", "ready_messages") >= 19.0, "seed {seed}");
}

#[test]
fn exclusive_queue_refuses_a_second_consumer_and_goes_with_its_owner() {
    let broker = json!({"queues": [{"name": "private", "durable": false, "exclusive": true}],
        "heartbeat_timeout_ms": 1_000});
    let clients = vec![
        publisher("p", "", json!([{"routing_key": "private"}]), 100.0, 3_000),
        consumer("c1", "private", json!({})),
        consumer("c2", "private", json!({"start_ms": 500})),
    ];
    let timeline = json!([{"at_ms": 1_500, "action": {"crash": {"node": "c1"}}}]);
    let seed = 15;
    let outcome = run(&scenario(broker, clients, timeline, seed, 5_000));
    assert_eq!(
        outcome
            .lines_with(&["state c2 consume on private refused: RESOURCE_LOCKED"])
            .len(),
        1,
        "seed {seed}"
    );
    let deleted = outcome.lines_with(&["queue_deleted private reason=exclusive_owner_closed"]);
    assert_eq!(deleted.len(), 1, "seed {seed}");
    assert!(
        (2.5..=2.8).contains(&seconds(deleted[0])),
        "seed {seed}: {}",
        deleted[0]
    );
    // After deletion nothing routes there: publishes are unroutable.
    assert!(outcome.metric("b", "unroutable") >= 1.0, "seed {seed}");
}

#[test]
fn overflow_reject_publish_dlx_nacks_and_dead_letters_the_refused_message() {
    let broker = json!({
        "exchanges": [{"name": "dlx", "type": "fanout"}],
        "queues": [
            {"name": "q", "max_length_messages": 5, "overflow": "reject_publish_dlx",
             "dead_letter_exchange": "dlx"},
            {"name": "refused"}
        ],
        "bindings": [{"exchange": "dlx", "queue": "refused"}]
    });
    let mut producer = publisher("p", "", json!([{"routing_key": "q"}]), 10.0, 205);
    producer["properties"]["retries"] = json!(0);
    let seed = 16;
    let outcome = run(&scenario(broker, vec![producer], json!([]), seed, 2_000));
    assert_eq!(outcome.metric("p", "confirmed"), 5.0, "seed {seed}");
    assert_eq!(outcome.metric("p", "nacked"), 15.0, "seed {seed}");
    assert_eq!(
        outcome
            .lines_with(&["removed q msg=", "dead_lettered reason=maxlen"])
            .len(),
        15,
        "seed {seed}"
    );
    assert_eq!(
        outcome.lines_with(&["enqueued refused msg=p#5 "]).len(),
        1,
        "seed {seed}"
    );
    assert_eq!(outcome.metric("b", "ready_messages"), 20.0, "seed {seed}");
    assert_eq!(
        outcome.check("dead_letter_reasons_valid").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
    assert_eq!(
        outcome.check("queue_within_max_length").0,
        CheckStatus::Pass,
        "seed {seed}"
    );
}
