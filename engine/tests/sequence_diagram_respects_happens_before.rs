//! The sequence (Lamport) diagram the live view draws: what belongs to a
//! request, saga or message, and Lamport clocks that respect happens-before
//! (every send before its receive; the clock condition checked against
//! vector clocks computed independently over the same events). Lost messages
//! end where they were lost; crashes and restarts are marked on the lifelines.

mod common;

use faultline_engine::live_drops::drop_position;
use faultline_engine::sequence::{
    Correlation, MAX_SEQUENCE_ARROWS, MAX_SEQUENCE_LIFELINES, SequenceDiagram, SequenceEventKind,
};
use faultline_engine::trace::DropReason;
use faultline_engine::{Scenario, Simulator};
use serde_json::json;
use std::collections::BTreeSet;

/// client → edge → (orders → users, users): the call tree of the call-tree
/// test, with a lossy edge–orders link and a crash and restart of `users`.
fn call_tree_scenario(seed: u64) -> Scenario {
    let compute = json!({"compute": {"service_time": {"exponential": {"mean_ms": 1.0}}}});
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "client", "kind": "load_generator"},
            {"id": "edge", "kind": "service", "properties": {
                "endpoints": [{"name": "page", "steps": [{"call": {"service": "orders"}}, {"call": {"service": "users"}}]}],
                "dependencies": [{"service": "orders", "timeout_ms": 30,
                    "retry": {"max_attempts": 3, "base_ms": 1.0, "cap_ms": 10.0}}]}},
            {"id": "orders", "kind": "service", "properties": {
                "endpoints": [{"name": "list", "steps": [compute, {"call": {"service": "users", "endpoint": "profile"}}]}],
                "dependencies": [{"service": "users", "timeout_ms": 20,
                    "retry": {"max_attempts": 3, "base_ms": 1.0, "cap_ms": 10.0}}]}},
            {"id": "users", "kind": "service", "properties": {
                "endpoints": [{"name": "profile", "steps": [compute]}]}}
        ],
        "links": [
            {"from": "edge", "to": "orders", "network": {"loss_probability": 0.05}}
        ]},
        "workload": {"streams": [{"id": "s", "client": "client", "target": "edge",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 20.0}}}}}]},
        "faults": {"timeline": [
            {"at_ms": 1000, "action": {"crash": {"node": "users"}}},
            {"at_ms": 1100, "action": {"restart": {"node": "users"}}}
        ]},
        "run": {"seed": seed, "duration_ms": 1500}
    }))
}

fn run(scenario: &Scenario) -> Simulator {
    let mut simulator = Simulator::new(scenario).expect("valid scenario");
    simulator.run_to_end();
    simulator
}

/// Every structural promise of a diagram, whatever it shows.
fn assert_well_formed(diagram: &SequenceDiagram, seed: u64) {
    assert!(
        diagram.lifelines.len() <= MAX_SEQUENCE_LIFELINES,
        "seed {seed}"
    );
    assert!(diagram.arrows.len() <= MAX_SEQUENCE_ARROWS, "seed {seed}");
    // Trace order, and per lifeline strictly increasing Lamport clocks.
    let mut last_clock = vec![0u64; diagram.lifelines.len()];
    for pair in diagram.events.windows(2) {
        assert!(
            pair[0].seq < pair[1].seq,
            "events in trace order (seed {seed})"
        );
        assert!(pair[0].time_us <= pair[1].time_us, "seed {seed}");
    }
    for event in &diagram.events {
        let line = event.lifeline as usize;
        assert!(
            event.lamport > last_clock[line],
            "{}'s clock went from {} to {} at #{} (seed {seed})",
            diagram.lifelines[line].name,
            last_clock[line],
            event.lamport,
            event.seq
        );
        last_clock[line] = event.lamport;
    }
    // Every send is before its receive, in Lamport order and in time.
    for arrow in &diagram.arrows {
        let send = &diagram.events[arrow.send_event as usize];
        assert_eq!(send.kind, SequenceEventKind::Send, "seed {seed}");
        assert_eq!(send.lifeline, arrow.from, "seed {seed}");
        for receive in [arrow.receive_event, arrow.duplicate_receive_event]
            .into_iter()
            .flatten()
        {
            let receive = &diagram.events[receive as usize];
            assert_eq!(receive.kind, SequenceEventKind::Receive, "seed {seed}");
            assert_eq!(receive.lifeline, arrow.to, "seed {seed}");
            assert!(
                send.lamport < receive.lamport,
                "m{}: send clock {} not below receive clock {} (seed {seed})",
                arrow.message,
                send.lamport,
                receive.lamport
            );
            assert!(send.time_us <= receive.time_us, "seed {seed}");
        }
        if let Some(lost) = arrow.lost {
            assert!(
                arrow.receive_event.is_none(),
                "a lost message has no receive (seed {seed})"
            );
            assert!(lost.time_us >= send.time_us, "seed {seed}");
        }
    }
    assert_clock_condition(diagram, seed);
}

/// The clock condition: if a happens before b, then L(a) < L(b). Happens-
/// before is computed independently with vector clocks over the diagram's
/// events (program order per lifeline plus send → receive).
fn assert_clock_condition(diagram: &SequenceDiagram, seed: u64) {
    let lifelines = diagram.lifelines.len();
    let mut receive_of_send = vec![Vec::new(); diagram.events.len()];
    for arrow in &diagram.arrows {
        for receive in [arrow.receive_event, arrow.duplicate_receive_event]
            .into_iter()
            .flatten()
        {
            receive_of_send[arrow.send_event as usize].push(receive as usize);
        }
    }
    let mut send_of_receive = vec![None; diagram.events.len()];
    for (send, receives) in receive_of_send.iter().enumerate() {
        for receive in receives {
            send_of_receive[*receive] = Some(send);
        }
    }
    let mut current = vec![vec![0u64; lifelines]; lifelines];
    let mut vectors: Vec<Vec<u64>> = Vec::with_capacity(diagram.events.len());
    for (index, event) in diagram.events.iter().enumerate() {
        let line = event.lifeline as usize;
        let mut vector = current[line].clone();
        if let Some(send) = send_of_receive[index] {
            for (mine, theirs) in vector.iter_mut().zip(&vectors[send]) {
                *mine = (*mine).max(*theirs);
            }
        }
        vector[line] += 1;
        current[line] = vector.clone();
        vectors.push(vector);
    }
    let happens_before = |a: usize, b: usize| {
        a != b
            && vectors[a]
                .iter()
                .zip(&vectors[b])
                .all(|(left, right)| left <= right)
    };
    // Quadratic: diagrams are bounded (MAX_SEQUENCE_ARROWS).
    for a in 0..diagram.events.len() {
        for b in 0..diagram.events.len() {
            if happens_before(a, b) {
                assert!(
                    diagram.events[a].lamport < diagram.events[b].lamport,
                    "#{} happens before #{} but L = {} ≥ {} (seed {seed})",
                    diagram.events[a].seq,
                    diagram.events[b].seq,
                    diagram.events[a].lamport,
                    diagram.events[b].lamport
                );
            }
        }
    }
}

fn lifeline_names(diagram: &SequenceDiagram) -> BTreeSet<&str> {
    diagram
        .lifelines
        .iter()
        .map(|lifeline| lifeline.name.as_str())
        .collect()
}

#[test]
fn a_request_diagram_holds_its_whole_call_tree_with_lamport_order() {
    for seed in 1..=5 {
        let simulator = run(&call_tree_scenario(seed));
        let recent = simulator.sequence_diagram_for_text("").expect("a request");
        assert!(
            !recent.suggestions.is_empty(),
            "completed requests are offered (seed {seed})"
        );
        let mut complete_trees = 0;
        for suggestion in &recent.suggestions {
            let diagram = simulator.sequence_diagram(suggestion.correlation);
            assert_well_formed(&diagram, seed);
            let Correlation::Request { operation, .. } = suggestion.correlation else {
                panic!("suggestions are requests (seed {seed})");
            };
            // The client's request and its answer are always there.
            let labels: Vec<&str> = diagram.arrows.iter().map(|a| a.label.as_str()).collect();
            assert!(
                labels
                    .iter()
                    .any(|label| *label == format!("request op={operation} stream=0")),
                "the client's request is drawn: {labels:?} (seed {seed})"
            );
            let operations = diagram
                .events
                .iter()
                .filter(|event| event.kind == SequenceEventKind::Operation)
                .count();
            assert_eq!(
                operations, 2,
                "invoke and its outcome on the client's lifeline (seed {seed})"
            );
            if suggestion.label.ends_with(" ok")
                && lifeline_names(&diagram) == BTreeSet::from(["client", "edge", "orders", "users"])
            {
                complete_trees += 1;
                // Every call the tree made is answered in the diagram too.
                let calls = labels.iter().filter(|l| l.starts_with("call ")).count();
                let replies = labels.iter().filter(|l| l.starts_with("reply ")).count();
                assert!(
                    calls >= 3 && replies >= 3,
                    "edge→orders, orders→users, edge→users and their replies: {labels:?} (seed {seed})"
                );
            }
        }
        assert!(
            complete_trees > 0,
            "an ok request spans all four services (seed {seed})"
        );
    }
}

#[test]
fn a_message_lost_on_a_lossy_link_ends_at_its_point_of_loss() {
    let mut lost_seen = 0;
    for seed in 1..=20 {
        let simulator = run(&call_tree_scenario(seed));
        let events: Vec<_> = simulator.trace().recent().collect();
        // Every lossy-link drop still in the ring, through its request's diagram.
        for event in &events {
            let faultline_engine::trace::TraceKind::Drop {
                message,
                reason: DropReason::Loss,
                ..
            } = &event.kind
            else {
                continue;
            };
            let diagram = simulator.sequence_diagram(Correlation::Message { id: message.0 });
            assert_well_formed(&diagram, seed);
            let arrow = &diagram.arrows[0];
            assert_eq!(arrow.message, message.0, "seed {seed}");
            let lost = arrow.lost.expect("the root was lost");
            assert_eq!(lost.reason, DropReason::Loss, "seed {seed}");
            assert!(
                !lost.at_receiver,
                "loss is decided on the wire, not at the receiver (seed {seed})"
            );
            assert_eq!(
                diagram.arrows.len(),
                1,
                "a lost message causes nothing (seed {seed})"
            );
            lost_seen += 1;
        }
    }
    assert!(
        lost_seen > 5,
        "5% loss over 20 runs loses messages ({lost_seen})"
    );
}

#[test]
fn a_crash_is_marked_on_the_lifeline_and_messages_to_the_dead_node_are_lost_there() {
    let mut crash_marks = 0;
    let mut lost_at_dead_node = 0;
    for seed in 1..=10 {
        let simulator = run(&call_tree_scenario(seed));
        let events: Vec<_> = simulator.trace().recent().collect();
        let users = simulator.node_id("users").expect("users");
        // Requests whose messages reached `users` while it was down.
        let mut dead_requests = BTreeSet::new();
        for event in &events {
            if let faultline_engine::trace::TraceKind::Drop {
                message,
                to,
                reason: DropReason::NodeDown,
                ..
            } = &event.kind
                && *to == users
            {
                dead_requests.insert(message.0);
            }
        }
        for message in dead_requests {
            let diagram = simulator.sequence_diagram(Correlation::Message { id: message });
            assert_well_formed(&diagram, seed);
            let lost = diagram.arrows[0].lost.expect("dropped");
            assert_eq!(lost.reason, DropReason::NodeDown, "seed {seed}");
            assert!(lost.at_receiver, "lost at the dead receiver (seed {seed})");
            lost_at_dead_node += 1;
        }
        // A request in flight at the crash shows the crash on users' lifeline.
        for operation in 0..200 {
            let diagram = simulator.sequence_diagram(Correlation::Request {
                client: 0,
                operation,
            });
            let crashes: Vec<_> = diagram
                .events
                .iter()
                .filter(|event| event.kind == SequenceEventKind::Crash)
                .collect();
            if crashes.is_empty() {
                continue;
            }
            assert_well_formed(&diagram, seed);
            for crash in &crashes {
                assert_eq!(
                    diagram.lifelines[crash.lifeline as usize].name, "users",
                    "seed {seed}"
                );
                assert_eq!(crash.time_us, 1_000_000, "seed {seed}");
            }
            crash_marks += 1;
        }
    }
    assert!(lost_at_dead_node > 0, "calls reach users while it is down");
    assert!(crash_marks > 0, "some request spans the crash");
}

#[test]
fn a_message_diagram_holds_only_causal_descendants() {
    let seed = 3;
    let simulator = run(&call_tree_scenario(seed));
    let first_request = simulator
        .sequence_diagram_for_text("")
        .expect("a request")
        .suggestions
        .last()
        .map(|suggestion| simulator.sequence_diagram(suggestion.correlation))
        .expect("diagram");
    let root = first_request.arrows[0].message;
    let diagram = simulator.sequence_diagram(Correlation::Message { id: root });
    assert_well_formed(&diagram, seed);
    assert_eq!(diagram.arrows[0].message, root, "seed {seed}");
    // Every other arrow is sent by a node after it received one of the set.
    for arrow in &diagram.arrows[1..] {
        let send = &diagram.events[arrow.send_event as usize];
        let caused = diagram.events.iter().any(|event| {
            event.kind == SequenceEventKind::Receive
                && event.lifeline == send.lifeline
                && event.seq < send.seq
        });
        assert!(
            caused,
            "m{} has no cause in the diagram (seed {seed})",
            arrow.message
        );
    }
}

#[test]
fn a_saga_is_drawn_from_its_saga_id() {
    let scenario = common::example("saga-orchestrated-order");
    let simulator = run(&scenario);
    let recent = simulator.sequence_diagram_for_text("").expect("a request");
    let suggestion = recent.suggestions.first().expect("a completed saga");
    let Correlation::Request { client, operation } = suggestion.correlation else {
        panic!("a request");
    };
    // The saga id as the trace names it: t<client>.<operation>.
    let diagram = simulator
        .sequence_diagram_for_text(&format!("saga=t{client}.{operation}"))
        .expect("parses");
    assert_eq!(diagram.correlation, suggestion.correlation);
    assert_well_formed(&diagram, scenario.run.seed);
    assert!(
        diagram
            .arrows
            .iter()
            .any(|arrow| arrow.label.contains("saga_command") || arrow.label.contains("saga")),
        "saga commands are drawn: {:?}",
        diagram.arrows.iter().map(|a| &a.label).collect::<Vec<_>>()
    );
    assert!(
        diagram.lifelines.len() >= 3,
        "client, orchestrator and services"
    );
}

#[test]
fn a_request_through_more_services_than_lifelines_is_cut_and_says_so() {
    // A synchronous chain of 50 services: every hop calls the next as its
    // first step, so the whole chain belongs to the client's request.
    let seed = 8;
    let services = 50;
    let mut nodes = vec![json!({"id": "client", "kind": "load_generator"})];
    for index in 0..services {
        let steps = if index + 1 < services {
            json!([{"call": {"service": format!("s{}", index + 1)}}])
        } else {
            json!([{"compute": {"service_time": {"constant": {"value_ms": 1.0}}}}])
        };
        nodes.push(
            json!({"id": format!("s{index}"), "kind": "service", "properties": {
            "endpoints": [{"name": "work", "steps": steps}]}}),
        );
    }
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes},
        "workload": {"streams": [{"id": "s", "client": "client", "target": "s0",
            "pattern": {"open_loop": {"inter_arrival": {"constant": {"value_ms": 500.0}}}}}]},
        "run": {"seed": seed, "duration_ms": 1200}
    }));
    let simulator = run(&scenario);
    let diagram = simulator
        .sequence_diagram_for_text("")
        .unwrap_or_else(|why| panic!("{why}: {:#?}", simulator.recent_trace_lines(30)));
    assert_well_formed(&diagram, seed);
    assert_eq!(
        diagram.lifelines.len(),
        MAX_SEQUENCE_LIFELINES,
        "{} (seed {seed})",
        diagram.title
    );
    assert!(
        diagram
            .truncated
            .as_deref()
            .is_some_and(|why| why.contains("40 lifelines")),
        "{:?} (seed {seed})",
        diagram.truncated
    );
}

#[test]
fn a_request_with_more_messages_than_arrows_is_cut_and_says_so() {
    use faultline_engine::message::{MessageClass, MessageId, NodeId, Payload};
    use faultline_engine::sequence::sequence_diagram;
    use faultline_engine::trace::{TraceEvent, TraceKind};
    // A hand-written trace: one request sent 600 times (a retry storm).
    let names: Vec<String> = ["client", "server"].map(String::from).to_vec();
    let payload = Payload::Request {
        operation: 1,
        stream: 0,
    };
    let mut events = Vec::new();
    for index in 0..600u64 {
        let message = MessageId(index);
        for (offset, kind) in [
            TraceKind::Send {
                message,
                from: NodeId(0),
                to: NodeId(1),
                class: MessageClass::Request,
                payload: payload.clone(),
            },
            TraceKind::Deliver {
                message,
                from: NodeId(0),
                to: NodeId(1),
                class: MessageClass::Request,
                payload: payload.clone(),
                duplicate: false,
            },
        ]
        .into_iter()
        .enumerate()
        {
            events.push(TraceEvent {
                seq: index * 2 + offset as u64,
                time: faultline_engine::SimTime(index * 10 + offset as u64 * 5),
                kind,
            });
        }
    }
    let references: Vec<&TraceEvent> = events.iter().collect();
    let diagram = sequence_diagram(
        &references,
        &names,
        Correlation::Request {
            client: 0,
            operation: 1,
        },
    );
    assert_well_formed(&diagram, 0);
    assert_eq!(diagram.arrows.len(), MAX_SEQUENCE_ARROWS);
    assert!(
        diagram
            .truncated
            .as_deref()
            .is_some_and(|why| why.starts_with("100 more message(s)")),
        "{:?}",
        diagram.truncated
    );
    assert!(!diagram.history_cut, "the trace starts at #0");
    // The receiver's clock jumps past every sender clock it has seen.
    let last = diagram.events.last().expect("events");
    assert_eq!(last.lamport, MAX_SEQUENCE_ARROWS as u64 + 1);
}

#[test]
fn typed_and_pasted_ids_are_read() {
    let names: Vec<String> = ["clients", "api", "db"].map(String::from).to_vec();
    let request = Correlation::Request {
        client: 0,
        operation: 17,
    };
    for text in [
        "clients 17",
        "clients:17",
        "t0.17",
        "trace=n0.17",
        "0.120000s #88 op clients 17 ok latency=3.2ms",
    ] {
        assert_eq!(Correlation::parse(text, &names), Ok(request), "{text}");
    }
    assert_eq!(
        Correlation::parse("0.001250s #17 deliver m4 clients->api request", &names),
        Ok(Correlation::Message { id: 4 })
    );
    let error = Correlation::parse("what", &names).expect_err("unreadable");
    assert!(error.contains("m12"), "{error}");
    assert!(Correlation::parse("t9.1", &names).is_err(), "no node 9");
}

#[test]
fn drop_flashes_sit_where_the_message_was_lost() {
    assert_eq!(drop_position(DropReason::Loss, Some(10), 10), 0.5);
    assert_eq!(drop_position(DropReason::NodeDown, Some(10), 30), 1.0);
    assert_eq!(drop_position(DropReason::Partition, Some(10), 10), 0.0);
    assert_eq!(drop_position(DropReason::Partition, Some(10), 30), 1.0);
    let seed = 4;
    let simulator = run(&call_tree_scenario(seed));
    let all = simulator.recent_drops(None);
    assert!(!all.shown.is_empty(), "seed {seed}");
    // The declared lossy link (edge–orders) counts at least its listed losses.
    let (edge, orders) = (
        simulator.node_id("edge").expect("edge").0,
        simulator.node_id("orders").expect("orders").0,
    );
    let lossy_total = all
        .per_link_total
        .iter()
        .find(|(a, b, _)| (*a, *b) == (edge, orders) || (*a, *b) == (orders, edge))
        .map(|(_, _, dropped)| *dropped)
        .expect("the declared link is listed");
    let lossy_listed = all
        .shown
        .iter()
        .filter(|drop| drop.reason == DropReason::Loss)
        .count() as u64;
    assert!(
        lossy_listed > 0 && lossy_total >= lossy_listed,
        "{lossy_total} ≥ {lossy_listed} (seed {seed})"
    );
    for drop in &all.shown {
        let expected = match drop.reason {
            DropReason::Loss => 0.5,
            DropReason::NodeDown => 1.0,
            _ => drop.position,
        };
        assert_eq!(drop.position, expected, "seed {seed}");
        assert!(
            drop.class.is_some(),
            "the send is in the ring (seed {seed})"
        );
    }
    // Only newer drops than asked for.
    let middle = all.shown[all.shown.len() / 2].seq;
    let newer = simulator.recent_drops(Some(middle));
    assert!(
        newer.shown.iter().all(|drop| drop.seq > middle),
        "seed {seed}"
    );
    assert_eq!(
        newer.shown.len(),
        all.shown.iter().filter(|drop| drop.seq > middle).count(),
        "seed {seed}"
    );
}
