//! Bad input: every malformed scenario gets a precise error naming its JSON path, and never a panic.
//!
//! Data-driven: each case is a mutation of a valid document plus the exact
//! error text expected (`UPDATE_EXPECT=1 cargo test` to re-bless).

mod common;

use expect_test::{Expect, expect};
use faultline_engine::scenario::parse_scenario;
use serde_json::{Value, json};

fn valid_document() -> Value {
    json!({
        "version": 1,
        "metadata": {"title": "ok"},
        "topology": {
            "nodes": [
                {"id": "client", "kind": "load_generator", "position": {"x": 0, "y": 0}},
                {"id": "payment", "kind": "sink", "position": {"x": 200, "y": 0},
                 "properties": {"workers": 2, "service_time": {"exponential": {"mean_ms": 5.0}}}}
            ],
            "links": [{"from": "client", "to": "payment"}]
        },
        "workload": {"streams": [{"id": "s", "client": "client", "target": "payment",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 10.0}}}}}]},
        "run": {"seed": 1, "duration_ms": 1000}
    })
}

fn check_text(text: &str, expected: Expect) {
    let outcome = match parse_scenario(text) {
        Ok(_) => "accepted".to_string(),
        Err(problems) => problems.to_string(),
    };
    expected.assert_eq(&outcome);
}

fn check_mutation(mutate: impl FnOnce(&mut Value), expected: Expect) {
    let mut document = valid_document();
    mutate(&mut document);
    check_text(&document.to_string(), expected);
}

#[test]
fn valid_document_is_accepted() {
    check_mutation(|_| {}, expect!["accepted"]);
}

#[test]
fn truncated_json_names_line_and_column() {
    let text = valid_document().to_string();
    check_text(
        &text[..text.len() / 2],
        expect![
            "the JSON ends too early (truncated file?) at line 1 column 243: EOF while parsing a string"
        ],
    );
}

#[test]
fn wrong_type_names_the_field() {
    check_mutation(
        |document| document["topology"]["nodes"][1]["properties"]["workers"] = json!("many"),
        expect![[
            r#"topology.nodes[1].properties.workers: invalid type: string "many", expected a non-negative whole number (up to 4294967295)"#
        ]],
    );
}

#[test]
fn unknown_field_is_rejected_with_the_known_ones() {
    check_mutation(
        |document| document["run"]["sead"] = json!(3),
        expect![
            "run.sead: unknown field `sead`, expected one of `seed`, `duration_ms`, `sample_interval_ms`, `max_events`"
        ],
    );
}

#[test]
fn unknown_node_kind_lists_known_kinds() {
    check_mutation(
        |document| document["topology"]["nodes"][1]["kind"] = json!("sinc"),
        expect![
            "topology.nodes[1].kind: unknown node kind `sinc`, expected one of: load_generator, sink, kafka_controller, kafka_broker, kafka_producer, raft_node, raft_kv_client, service, api_gateway, autoscaler, rabbit_broker, rabbit_publisher, rabbit_consumer, kafka_consumer, coord_server, coord_client, fenced_storage, cache, snowflake, txn_coordinator, txn_participant, saga_orchestrator, saga_service, kv_database, kv_sentinel, kv_client, outbox_service, event_consumer, kv_shard_balancer"
        ],
    );
}

#[test]
fn dangling_link_endpoint_suggests_the_closest_node() {
    check_mutation(
        |document| document["topology"]["links"][0]["to"] = json!("paymnet"),
        expect![[r#"topology.links[0].to: no node "paymnet" (did you mean "payment"?)"#]],
    );
}

#[test]
fn absurd_sizes_are_refused_against_their_limit() {
    check_mutation(
        |document| {
            document["topology"]["nodes"][1]["properties"]["workers"] = json!(1_000_000_000u64)
        },
        expect!["topology.nodes[1].properties.workers: expected 1 to 10000, found 1000000000"],
    );
    check_mutation(
        |document| document["run"]["duration_ms"] = json!(1_000_000_000_000u64),
        expect!["run.duration_ms: expected 1 to 86400000 ms (one day), found 1000000000000"],
    );
    check_mutation(
        |document| {
            let nodes: Vec<Value> = (0..2_001)
                .map(|index| json!({"id": format!("n{index}"), "kind": "load_generator"}))
                .collect();
            document["topology"]["nodes"] = Value::Array(nodes);
            document["topology"]["links"] = json!([]);
            document["workload"] = json!({});
        },
        expect!["topology.nodes: expected at most 2000 nodes, found 2001"],
    );
}

#[test]
fn ten_to_the_ninth_nodes_cannot_even_be_read() {
    // A document describing 10^9 nodes is far over the byte limit; the check
    // happens before any parsing, so it costs nothing.
    let huge = format!(
        "{{\"version\":1,\"topology\":{{\"nodes\":[{}]}}}}",
        "{},".repeat(2_000_000)
    );
    check_text(
        &huge,
        expect!["the document is 6000037 bytes; the limit is 4194304 bytes"],
    );
}

#[test]
fn negative_durations_are_refused() {
    check_mutation(
        |document| document["run"]["duration_ms"] = json!(-5),
        expect![
            "run.duration_ms: invalid value: integer `-5`, expected a non-negative whole number"
        ],
    );
    check_mutation(
        |document| {
            document["topology"]["nodes"][1]["properties"]["service_time"] =
                json!({"exponential": {"mean_ms": -2.0}})
        },
        expect![
            "topology.nodes[1].properties.service_time.exponential.mean_ms: expected a finite number >= 0, found -2"
        ],
    );
}

#[test]
fn probabilities_above_one_are_refused() {
    check_mutation(
        |document| document["topology"]["links"][0]["network"] = json!({"loss_probability": 1.5}),
        expect![
            "topology.links[0].network.loss_probability: expected a probability between 0 and 1, found 1.5"
        ],
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_before_parsing() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    check_text(
        &deep,
        expect!["the document nests objects/arrays deeper than 32 levels"],
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    check_mutation(
        |document| {
            document["topology"]["links"][0]["to"] = json!("nowhere");
            document["topology"]["nodes"][1]["properties"]["workers"] = json!(0);
            document["workload"]["streams"][0]["client"] = json!("payment");
            document["expectations"] =
                json!([{"check": {"name": "no_phantom_delivry", "status": "pass"}}]);
        },
        expect![[r#"
            topology.nodes[1].properties.workers: expected 1 to 10000, found 0
            topology.links[0].to: no node "nowhere"
            workload.streams[0].client: expected a load_generator node, but "payment" is a sink
            workload.streams[0].target: a client cannot target itself
            expectations[0].check.name: no checker "no_phantom_delivry" (did you mean "no_phantom_delivery"?); known: no_phantom_delivery, no_unexpected_duplicate_delivery, trace_time_monotonic, requests_eventually_resolved, lost_acknowledged_writes, no_duplicate_log_entries, raft_election_safety, raft_leader_append_only, raft_log_matching, raft_leader_completeness, raft_state_machine_safety, raft_leader_eventually_elected, raft_kv_linearizable, lost_confirmed_messages, no_duplicate_handling, dead_letter_reasons_valid, queue_within_max_length, kafka_acknowledged_writes_consumed, kafka_consumer_offsets_in_order, kafka_group_no_skipped_offsets, kafka_no_duplicate_processing, kafka_order_per_key, kafka_one_consumer_per_partition, kafka_compaction_latest_value_per_key, kafka_compaction_tombstones_expire, coord_linearizable, mutual_exclusion, single_leader, unique_ids, ids_monotonic_per_worker, each_tick_fires_exactly_once, each_tick_fires_eventually, atomic_commit, tcc_no_empty_rollback, tcc_no_hanging_try, tcc_confirm_cancel_once, saga_eventually_terminates, compensation_in_reverse_order, no_partial_outcome_after_termination, kv_lost_acknowledged_writes, kv_no_split_brain, kv_linearizable, outbox_no_lost_events, no_phantom_events, no_duplicate_event_effects"#]],
    );
}

#[test]
fn duplicate_ids_point_at_the_first_use() {
    check_mutation(
        |document| document["topology"]["nodes"][1]["id"] = json!("client"),
        expect![[r#"
        topology.nodes[1].id: duplicate node id "client" (first used at topology.nodes[0])
        topology.links[0].to: no node "payment"
        workload.streams[0].target: no node "payment""#]],
    );
}

#[test]
fn future_version_asks_for_an_update() {
    check_mutation(
        |document| document["version"] = json!(7),
        expect![
            "version: version 7 is newer than this build understands (up to 1); update Faultline"
        ],
    );
}

#[test]
fn fault_naming_a_missing_node_is_refused() {
    check_mutation(
        |document| {
            document["faults"] =
                json!({"timeline": [{"at_ms": 10, "action": {"crash": {"node": "paymant"}}}]})
        },
        expect![[
            r#"faults.timeline[0].action.crash.node: no node "paymant" (did you mean "payment"?)"#
        ]],
    );
}

#[test]
fn not_an_object_at_all() {
    check_text(
        "[1, 2, 3]",
        expect!["expected a JSON object at the top level"],
    );
    check_text(
        "",
        expect![
            "the JSON ends too early (truncated file?) at line 1 column 0: EOF while parsing a value"
        ],
    );
}

/// Random byte-level damage to a valid document never panics (a cheap,
/// deterministic cousin of the fuzz target in engine/fuzz).
#[test]
fn random_corruption_never_panics() {
    let original = valid_document().to_string().into_bytes();
    let mut rng = faultline_engine::rng::SimRng::for_stream(1234, 0);
    for _ in 0..5_000 {
        let mut damaged = original.clone();
        for _ in 0..1 + rng.below(4) {
            let index = rng.below(damaged.len() as u64) as usize;
            match rng.below(3) {
                0 => damaged[index] = rng.below(128) as u8,
                1 => {
                    damaged.remove(index);
                }
                _ => damaged.truncate(index),
            }
            if damaged.is_empty() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&damaged);
        let _ = parse_scenario(&text);
    }
}
