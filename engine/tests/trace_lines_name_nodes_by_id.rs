//! Trace lines name nodes by the ids users gave them. Facts of the
//! coordination, transaction and database slices used to print `n{index}`
//! (0-based), which in an example whose servers are `n1…n5` points at the
//! wrong server: `from=n0` for n1, `from=n1` for n2.

use faultline_engine::components::coord_protocol::CoordFact;
use faultline_engine::components::db_protocol::DbFact;
use faultline_engine::components::txn_protocol::TxnFact;
use faultline_engine::message::NodeId;
use faultline_engine::scenario::parse_scenario;
use faultline_engine::trace::{Fact, TraceKind};
use faultline_engine::{SimTime, Simulator};

/// Events per step of the scan; below the trace ring's 10,000 so no event
/// is missed between looks.
const CHUNK_EVENTS: u64 = 2_000;

/// The node a fact names besides the node stating it, and the word before it.
fn named_node(fact: &Fact) -> Option<(&'static str, NodeId)> {
    match fact {
        Fact::Db(DbFact::FullSync { from, .. }) => Some(("from", *from)),
        Fact::Coord(CoordFact::SessionExpired { client, .. }) => Some(("client", *client)),
        Fact::Coord(CoordFact::StorageWrite { writer, .. }) => Some(("writer", *writer)),
        Fact::Txn(TxnFact::PresumedAbort { asked_by, .. }) => Some(("asked_by", *asked_by)),
        _ => None,
    }
}

/// Runs an example to its end and checks every fact that names another
/// node; returns how many it checked.
fn check_example(text: &str) -> usize {
    let scenario = parse_scenario(text).expect("valid example");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let names = simulator.node_names().to_vec();
    let end = SimTime::from_millis(scenario.run.duration_ms);
    let mut next_seq = 0;
    let mut checked = 0;
    loop {
        let progress = simulator.advance(end, CHUNK_EVENTS);
        let first_unseen = next_seq;
        for event in simulator
            .trace()
            .recent()
            .filter(|event| event.seq >= first_unseen)
        {
            next_seq = event.seq + 1;
            let TraceKind::Fact { fact, .. } = &event.kind else {
                continue;
            };
            let Some((word, node)) = named_node(fact) else {
                continue;
            };
            let line = event.line(&names);
            let expected = format!("{word}={}", names[node.index()]);
            assert!(
                line.split_whitespace().any(|token| token == expected),
                "seed {seed}: `{line}` should say {expected}"
            );
            checked += 1;
        }
        if progress.finished.is_some() {
            break;
        }
    }
    checked
}

#[test]
fn a_database_full_resync_names_the_primary_it_copied_by_its_id() {
    // Servers n1…n5: index names were off by one here.
    let checked = check_example(include_str!(
        "../../public/scenarios/redis-sentinel-async-failover.json"
    ));
    assert!(checked > 0, "the failover example has full resyncs");
}

#[test]
fn fencing_writes_and_expired_sessions_name_the_client_by_its_id() {
    let checked = check_example(include_str!(
        "../../public/scenarios/lock-with-and-without-fencing.json"
    )) + check_example(include_str!(
        "../../public/scenarios/zookeeper-leader-election.json"
    ));
    assert!(checked > 0, "storage writes or session expiries happened");
}

#[test]
fn a_presumed_abort_names_the_participant_that_asked_by_its_id() {
    // Zero facts is allowed here (a run may never presume an abort), but any
    // that appear must be named correctly.
    check_example(include_str!(
        "../../public/scenarios/2pc-coordinator-crash-blocks.json"
    ));
}
