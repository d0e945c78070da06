//! Invariant checkers: Always/Eventually properties evaluated over the trace as it happens.
//!
//! Checkers only observe. Each sees every trace event once, in order, and may
//! report violations; the framework keeps the first violation (time, event,
//! messages and nodes involved) and a count. Eventually-properties are decided
//! at the end of the run (`finish`); until then their status is `pending`.

mod builtin;
pub mod coord;
pub mod database;
pub mod kafka;
pub mod kafka_compaction;
pub mod kafka_consumer;
pub mod linearizable;
pub mod outbox;
pub mod rabbit;
pub mod raft;
pub mod saga;
pub mod txn;

pub use builtin::{
    NoPhantomDelivery, NoUnexpectedDuplicateDelivery, RequestsEventuallyResolved,
    TraceTimeMonotonic,
};
pub use kafka::{LostAcknowledgedWrites, NoDuplicateLogEntries};
pub use kafka_consumer::{
    KafkaAcknowledgedWritesConsumed, KafkaConsumerOffsetsInOrder, KafkaGroupSkippedOffsets,
    KafkaNoDuplicateProcessing, KafkaOneConsumerPerPartition, KafkaOrderPerKey,
};
pub use rabbit::{
    DeadLetterReasonsValid, LostConfirmedMessages, NoDuplicateHandling, QueueWithinMaxLength,
};
pub use raft::{
    RaftElectionSafety, RaftLeaderAppendOnly, RaftLeaderCompleteness, RaftLeaderEventuallyElected,
    RaftLogMatching, RaftStateMachineSafety,
};

use crate::message::{MessageId, NodeId};
use crate::time::SimTime;
use crate::trace::TraceEvent;
use serde::{Deserialize, Serialize};

/// Every checker name this build knows (expectations are validated against it).
pub const KNOWN_CHECKER_NAMES: &[&str] = &[
    NoPhantomDelivery::NAME,
    NoUnexpectedDuplicateDelivery::NAME,
    TraceTimeMonotonic::NAME,
    RequestsEventuallyResolved::NAME,
    LostAcknowledgedWrites::NAME,
    NoDuplicateLogEntries::NAME,
    RaftElectionSafety::NAME,
    RaftLeaderAppendOnly::NAME,
    RaftLogMatching::NAME,
    RaftLeaderCompleteness::NAME,
    RaftStateMachineSafety::NAME,
    RaftLeaderEventuallyElected::NAME,
    linearizable::RaftKvLinearizable::NAME,
    LostConfirmedMessages::NAME,
    NoDuplicateHandling::NAME,
    DeadLetterReasonsValid::NAME,
    QueueWithinMaxLength::NAME,
    KafkaAcknowledgedWritesConsumed::NAME,
    KafkaConsumerOffsetsInOrder::NAME,
    KafkaGroupSkippedOffsets::NAME,
    KafkaNoDuplicateProcessing::NAME,
    KafkaOrderPerKey::NAME,
    KafkaOneConsumerPerPartition::NAME,
    kafka_compaction::KafkaCompactionLatestValuePerKey::NAME,
    kafka_compaction::KafkaCompactionTombstonesExpire::NAME,
    coord::CoordLinearizable::NAME,
    coord::MutualExclusion::NAME,
    coord::SingleLeader::NAME,
    coord::UniqueIds::NAME,
    coord::IdsMonotonicPerWorker::NAME,
    coord::EachTickFiresExactlyOnce::NAME,
    coord::EachTickFiresEventually::NAME,
    txn::AtomicCommit::NAME,
    txn::TccHazardChecker::EMPTY_ROLLBACK,
    txn::TccHazardChecker::HANGING_TRY,
    txn::TccHazardChecker::CONFIRM_CANCEL_ONCE,
    saga::SagaEventuallyTerminates::NAME,
    saga::CompensationInReverseOrder::NAME,
    saga::NoPartialOutcomeAfterTermination::NAME,
    database::KvLostAcknowledgedWrites::NAME,
    database::KvSplitBrain::NAME,
    database::KvLinearizable::NAME,
    outbox::OutboxNoLostEvents::NAME,
    outbox::NoPhantomEvents::NAME,
    outbox::NoDuplicateEventEffects::NAME,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Property {
    /// Must hold at every point of the history (safety).
    Always,
    /// Must come true by the end of the run (liveness, within a bounded run).
    Eventually,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// An Eventually property before the run has ended.
    Pending,
}

/// One violation: when, at which trace event, and what it involved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub time: SimTime,
    /// Trace sequence number of the event that revealed it (None at finish).
    pub event_seq: Option<u64>,
    pub detail: String,
    pub messages: Vec<MessageId>,
    pub nodes: Vec<NodeId>,
}

/// Cloneable like `Component`, so a run can be checkpointed for seeking.
pub trait Checker: dyn_clone::DynClone {
    fn name(&self) -> &'static str;
    fn property(&self) -> Property;
    /// What the property says, for the UI and reports.
    fn description(&self) -> &'static str;
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>);
    /// End of run at `end`: Eventually properties report what never happened.
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>);
    /// The verdict is only known at the end of the run: every Eventually
    /// property, and Always properties judged over the whole history
    /// (linearizability searches, phantoms that a later commit may excuse).
    /// Until the end such a check with no violation is `Pending`, not `Pass`.
    fn decided_at_end(&self) -> bool {
        self.property() == Property::Eventually
    }
}

dyn_clone::clone_trait_object!(Checker);

/// The outcome of one checker, as reports and the UI show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub property: Property,
    pub status: CheckStatus,
    pub description: String,
    pub violations: u64,
    pub first_violation_us: Option<u64>,
    pub first_violation_seq: Option<u64>,
    pub detail: String,
    pub messages: Vec<MessageId>,
    pub nodes: Vec<NodeId>,
}

#[derive(Clone)]
struct CheckerState {
    checker: Box<dyn Checker>,
    first: Option<Violation>,
    count: u64,
    finished: bool,
}

/// All checkers of a run.
#[derive(Clone)]
pub struct CheckerSet {
    states: Vec<CheckerState>,
    scratch: Vec<Violation>,
}

impl CheckerSet {
    pub fn new(checkers: Vec<Box<dyn Checker>>) -> CheckerSet {
        CheckerSet {
            states: checkers
                .into_iter()
                .map(|checker| CheckerState {
                    checker,
                    first: None,
                    count: 0,
                    finished: false,
                })
                .collect(),
            scratch: Vec::new(),
        }
    }

    /// Feeds one event to every checker; returns (checker name, violation) for
    /// each checker whose *first* violation this is, so the simulator can put
    /// it in the trace.
    pub fn observe(&mut self, event: &TraceEvent) -> Vec<(&'static str, Violation)> {
        let mut first_violations = Vec::new();
        for state in &mut self.states {
            state.checker.observe(event, &mut self.scratch);
            Self::absorb(state, &mut self.scratch, &mut first_violations);
        }
        first_violations
    }

    pub fn finish(&mut self, end: SimTime) -> Vec<(&'static str, Violation)> {
        let mut first_violations = Vec::new();
        for state in &mut self.states {
            if !state.finished {
                state.checker.finish(end, &mut self.scratch);
                state.finished = true;
                Self::absorb(state, &mut self.scratch, &mut first_violations);
            }
        }
        first_violations
    }

    fn absorb(
        state: &mut CheckerState,
        found: &mut Vec<Violation>,
        first_violations: &mut Vec<(&'static str, Violation)>,
    ) {
        for violation in found.drain(..) {
            state.count += 1;
            if state.first.is_none() {
                first_violations.push((state.checker.name(), violation.clone()));
                state.first = Some(violation);
            }
        }
    }

    pub fn results(&self) -> Vec<CheckResult> {
        self.states
            .iter()
            .map(|state| {
                let status = match (state.count, state.finished) {
                    (0, false) if state.checker.decided_at_end() => CheckStatus::Pending,
                    (0, _) => CheckStatus::Pass,
                    _ => CheckStatus::Fail,
                };
                let first = state.first.as_ref();
                CheckResult {
                    name: state.checker.name().to_string(),
                    property: state.checker.property(),
                    status,
                    description: state.checker.description().to_string(),
                    violations: state.count,
                    first_violation_us: first.map(|violation| violation.time.as_micros()),
                    first_violation_seq: first.and_then(|violation| violation.event_seq),
                    detail: first
                        .map(|violation| violation.detail.clone())
                        .unwrap_or_default(),
                    messages: first
                        .map(|violation| violation.messages.clone())
                        .unwrap_or_default(),
                    nodes: first
                        .map(|violation| violation.nodes.clone())
                        .unwrap_or_default(),
                }
            })
            .collect()
    }
}
