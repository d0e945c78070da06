//! The wire protocol and the facts of atomic commitment (2PC, 3PC, TCC) and sagas.
//!
//! One `Payload::Txn` variant and one `Fact::Txn` variant carry everything
//! here, so the transaction components touch the kernel's shared enums once.
//! 2PC, 3PC and TCC share messages where they overlap: a 2PC `prepare`, a 3PC
//! `can-commit?` and a TCC `try` are all `Prepare`; `commit`/`do-commit`/
//! `confirm` and `abort`/`cancel` are all `Decision`.

use crate::message::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which atomic commitment protocol a transaction runs.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CommitProtocol {
    /// Two-phase commit (Gray 1978): prepare/vote, then commit or abort.
    /// A participant that voted yes cannot decide alone: it blocks, holding
    /// its locks, until the coordinator's decision reaches it.
    #[default]
    TwoPhase,
    /// Three-phase commit (Skeen 1981): can-commit/vote, pre-commit/ack,
    /// do-commit. Participants that time out run a termination protocol
    /// among themselves instead of waiting: non-blocking under crashes,
    /// unsafe under partitions.
    ThreePhase,
    /// Try-Confirm-Cancel: try reserves units of a resource (optionally
    /// expiring), confirm consumes the reservation, cancel releases it.
    Tcc,
}

impl CommitProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitProtocol::TwoPhase => "2pc",
            CommitProtocol::ThreePhase => "3pc",
            CommitProtocol::Tcc => "tcc",
        }
    }
}

/// A transaction's identity: the client that asked for it and that client's
/// operation number. Unique per run without any coordinator state, so a
/// coordinator that lost its memory cannot reuse an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnId {
    pub client: u32,
    pub operation: u64,
}

impl fmt::Display for TxnId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "t{}.{}", self.client, self.operation)
    }
}

/// What a participant knows about a transaction (3PC termination compares these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantTxnState {
    /// Never saw the transaction (or voted no and forgot it).
    Unknown,
    /// Voted yes (2PC prepared, 3PC uncertain, TCC reserved): holds its locks.
    Prepared,
    /// 3PC only: received pre-commit; will commit unless told otherwise.
    PreCommitted,
    Committed,
    Aborted,
}

impl ParticipantTxnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantTxnState::Unknown => "unknown",
            ParticipantTxnState::Prepared => "prepared",
            ParticipantTxnState::PreCommitted => "pre_committed",
            ParticipantTxnState::Committed => "committed",
            ParticipantTxnState::Aborted => "aborted",
        }
    }
}

/// Messages of atomic commitment and sagas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnMessage {
    /// Coordinator → participant: 2PC prepare, 3PC can-commit?, TCC try.
    /// `participants` lets 3PC participants find each other for termination.
    Prepare {
        txn: TxnId,
        protocol: CommitProtocol,
        key: u64,
        units: u64,
        participants: Vec<NodeId>,
    },
    /// Participant → coordinator: the vote (TCC: whether the try reserved).
    Vote {
        txn: TxnId,
        yes: bool,
    },
    /// 3PC: coordinator (or a participant running termination) → participant.
    PreCommit {
        txn: TxnId,
    },
    PreCommitAck {
        txn: TxnId,
    },
    /// Commit / do-commit / confirm (`commit` true) or abort / cancel.
    /// `units` repeats the try's amount: a TCC cancel carries its business
    /// parameters, which is what lets an unguarded empty rollback "release"
    /// units it never reserved.
    Decision {
        txn: TxnId,
        protocol: CommitProtocol,
        commit: bool,
        units: u64,
    },
    DecisionAck {
        txn: TxnId,
    },
    /// 2PC: a prepared participant asks the coordinator for the outcome.
    DecisionQuery {
        txn: TxnId,
    },
    /// 3PC termination: a participant asks a peer what it knows.
    StateQuery {
        txn: TxnId,
    },
    StateReply {
        txn: TxnId,
        state: ParticipantTxnState,
    },
    /// Saga orchestrator → step service: run the action (`compensate` false)
    /// or the compensation of `step`. `idempotency_key` is the same on every
    /// retry of the same request.
    SagaCommand {
        saga: TxnId,
        step: u32,
        compensate: bool,
        attempt: u32,
        idempotency_key: u64,
    },
    /// Step service → orchestrator.
    SagaReply {
        saga: TxnId,
        step: u32,
        compensate: bool,
        attempt: u32,
        ok: bool,
    },
    /// Choreography: a service announces that `step` of `saga` succeeded
    /// (`compensate` false: the next service acts) or that it compensated /
    /// failed (`compensate` true: the previous service compensates).
    SagaEvent {
        saga: TxnId,
        step: u32,
        compensate: bool,
        event: u64,
    },
    /// Choreography: receipt of a `SagaEvent` (the sender retries until it arrives).
    SagaEventAck {
        event: u64,
    },
    /// Outbox / dual write: a service → its consumer, the event about one
    /// committed (or, in a broken dual write, uncommitted) row.
    OutboxEvent {
        event: u64,
    },
    /// The consumer applied (or deduplicated) the event.
    OutboxEventAck {
        event: u64,
    },
}

impl TxnMessage {
    /// Requests (commands and queries) versus their answers, for the UI's colours.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            TxnMessage::Prepare { .. }
                | TxnMessage::PreCommit { .. }
                | TxnMessage::Decision { .. }
                | TxnMessage::DecisionQuery { .. }
                | TxnMessage::StateQuery { .. }
                | TxnMessage::SagaCommand { .. }
                | TxnMessage::SagaEvent { .. }
                | TxnMessage::OutboxEvent { .. }
        )
    }
}

impl fmt::Display for TxnMessage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnMessage::Prepare {
                txn,
                protocol,
                key,
                units,
                ..
            } => write!(
                formatter,
                "{} prepare {txn} key={key} units={units}",
                protocol.as_str()
            ),
            TxnMessage::Vote { txn, yes } => {
                write!(formatter, "vote {txn} {}", if *yes { "yes" } else { "no" })
            }
            TxnMessage::PreCommit { txn } => write!(formatter, "pre_commit {txn}"),
            TxnMessage::PreCommitAck { txn } => write!(formatter, "pre_commit_ack {txn}"),
            TxnMessage::Decision {
                txn,
                protocol,
                commit,
                ..
            } => write!(
                formatter,
                "{} decision {txn} {}",
                protocol.as_str(),
                if *commit { "commit" } else { "abort" }
            ),
            TxnMessage::DecisionAck { txn } => write!(formatter, "decision_ack {txn}"),
            TxnMessage::DecisionQuery { txn } => write!(formatter, "decision_query {txn}"),
            TxnMessage::StateQuery { txn } => write!(formatter, "state_query {txn}"),
            TxnMessage::StateReply { txn, state } => {
                write!(formatter, "state_reply {txn} {}", state.as_str())
            }
            TxnMessage::SagaCommand {
                saga,
                step,
                compensate,
                attempt,
                idempotency_key,
            } => write!(
                formatter,
                "saga {saga} step={step} {} attempt={attempt} key={idempotency_key}",
                if *compensate { "compensate" } else { "action" }
            ),
            TxnMessage::SagaReply {
                saga,
                step,
                compensate,
                attempt,
                ok,
            } => write!(
                formatter,
                "saga_reply {saga} step={step} {} attempt={attempt} {}",
                if *compensate { "compensate" } else { "action" },
                if *ok { "ok" } else { "failed" }
            ),
            TxnMessage::SagaEvent {
                saga,
                step,
                compensate,
                event,
            } => write!(
                formatter,
                "saga_event {saga} step={step} {} event={event}",
                if *compensate { "compensated" } else { "done" }
            ),
            TxnMessage::SagaEventAck { event } => write!(formatter, "saga_event_ack {event}"),
            TxnMessage::OutboxEvent { event } => write!(formatter, "outbox_event e{event}"),
            TxnMessage::OutboxEventAck { event } => write!(formatter, "outbox_event_ack e{event}"),
        }
    }
}

/// What a TCC participant did to its resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TccAction {
    /// Reserved units (available → reserved).
    Try,
    /// Consumed the reservation (reserved → consumed).
    Confirm,
    /// Released the reservation (reserved → available).
    Cancel,
    /// The reservation timed out and was released by the participant itself.
    Expire,
}

impl TccAction {
    pub fn as_str(self) -> &'static str {
        match self {
            TccAction::Try => "try",
            TccAction::Confirm => "confirm",
            TccAction::Cancel => "cancel",
            TccAction::Expire => "expire",
        }
    }
}

/// How a saga ended, or how one of its steps went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaOutcome {
    /// Every action applied.
    Completed,
    /// An action failed and every applied action was compensated.
    Compensated,
}

/// Facts about transactions, for checkers and a future saga timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnFact {
    /// A participant voted yes and holds the lock on `key` (2PC prepared,
    /// 3PC uncertain, TCC reserved); `locks_held` counts its locks now.
    Prepared {
        txn: TxnId,
        key: u64,
        locks_held: u64,
    },
    /// A participant applied the outcome and released its lock.
    /// `blocked_ms`: how long it waited in doubt past its decision timeout.
    Outcome {
        txn: TxnId,
        protocol: CommitProtocol,
        committed: bool,
        /// How the participant learned it: `coordinator`, `termination`,
        /// `timeout`, `expired`, `lost_in_crash`, `unilateral` (voted no).
        via: String,
        prepared_ms: u64,
        locks_held: u64,
    },
    /// A prepared participant's decision timeout fired: it is now in doubt,
    /// holding its lock, and (2PC) cannot decide alone.
    InDoubt { txn: TxnId, key: u64 },
    /// The coordinator decided (and, if its log is durable, logged it).
    Decided {
        txn: TxnId,
        protocol: CommitProtocol,
        commit: bool,
        reason: String,
    },
    /// A restarted coordinator read its log: decisions it will re-send and
    /// undecided transactions it now aborts.
    CoordinatorRecovered {
        resent_decisions: u64,
        aborted_undecided: u64,
        forgotten: u64,
    },
    /// A coordinator answered a query about a transaction it has no record
    /// of with abort (presumed abort).
    PresumedAbort { txn: TxnId, asked_by: NodeId },
    /// A TCC participant changed its resource.
    TccApplied {
        txn: TxnId,
        action: TccAction,
        units: u64,
        /// Whether a try had reserved for this transaction before (false for
        /// an empty rollback).
        had_reservation: bool,
        available: i64,
        reserved: i64,
    },
    /// A saga began (orchestrator or the first choreography service).
    SagaStarted { saga: TxnId, steps: u32 },
    /// A step service applied (or refused) an action or compensation.
    /// `applied` false: the service failed it (a declined payment) or
    /// suppressed a repeat (`duplicate`).
    SagaStepApplied {
        saga: TxnId,
        step: u32,
        compensate: bool,
        applied: bool,
        duplicate: bool,
    },
    /// The orchestrator (or choreography) saw a step's result, for a timeline.
    SagaStepResult {
        saga: TxnId,
        step: u32,
        compensate: bool,
        attempt: u32,
        ok: bool,
    },
    /// The saga is over.
    SagaEnded { saga: TxnId, outcome: SagaOutcome },
    /// The orchestrator gave up on a saga (a compensation kept failing, or
    /// it lost its log): the saga will never end.
    SagaStuck { saga: TxnId, reason: String },
    /// Outbox / dual write: the service committed a business row.
    RowCommitted { event: u64 },
    /// An event left for the consumer (dual write or relay).
    EventPublished { event: u64 },
    /// The consumer processed an event (`duplicate`: it had before and dedup suppressed it).
    EventConsumed { event: u64, duplicate: bool },
}

impl TxnFact {
    /// The trace line's text, with nodes by their scenario ids (see
    /// `CoordFact::write_named`).
    pub fn write_named<'names>(
        &self,
        out: &mut String,
        name: &dyn Fn(&NodeId) -> &'names str,
    ) -> fmt::Result {
        use fmt::Write as _;
        match self {
            TxnFact::PresumedAbort { txn, asked_by } => {
                write!(out, "presumed_abort {txn} asked_by={}", name(asked_by))
            }
            other => write!(out, "{other}"),
        }
    }
}

impl fmt::Display for TxnFact {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnFact::Prepared {
                txn,
                key,
                locks_held,
            } => write!(formatter, "prepared {txn} key={key} locks={locks_held}"),
            TxnFact::Outcome {
                txn,
                protocol,
                committed,
                via,
                prepared_ms,
                locks_held,
            } => write!(
                formatter,
                "{} {} {txn} via={via} prepared_ms={prepared_ms} locks={locks_held}",
                protocol.as_str(),
                if *committed { "committed" } else { "aborted" }
            ),
            TxnFact::InDoubt { txn, key } => write!(formatter, "in_doubt {txn} key={key}"),
            TxnFact::Decided {
                txn,
                protocol,
                commit,
                reason,
            } => write!(
                formatter,
                "{} decided {txn} {} ({reason})",
                protocol.as_str(),
                if *commit { "commit" } else { "abort" }
            ),
            TxnFact::CoordinatorRecovered {
                resent_decisions,
                aborted_undecided,
                forgotten,
            } => write!(
                formatter,
                "coordinator_recovered resend={resent_decisions} abort={aborted_undecided} forgotten={forgotten}"
            ),
            TxnFact::PresumedAbort { txn, asked_by } => {
                write!(formatter, "presumed_abort {txn} asked_by=n{}", asked_by.0)
            }
            TxnFact::TccApplied {
                txn,
                action,
                units,
                had_reservation,
                available,
                reserved,
            } => write!(
                formatter,
                "tcc {} {txn} units={units} had_reservation={had_reservation} available={available} reserved={reserved}",
                action.as_str()
            ),
            TxnFact::SagaStarted { saga, steps } => {
                write!(formatter, "saga_started {saga} steps={steps}")
            }
            TxnFact::SagaStepApplied {
                saga,
                step,
                compensate,
                applied,
                duplicate,
            } => write!(
                formatter,
                "saga_applied {saga} step={step} {} applied={applied} duplicate={duplicate}",
                if *compensate { "compensate" } else { "action" }
            ),
            TxnFact::SagaStepResult {
                saga,
                step,
                compensate,
                attempt,
                ok,
            } => write!(
                formatter,
                "saga_step {saga} step={step} {} attempt={attempt} {}",
                if *compensate { "compensate" } else { "action" },
                if *ok { "ok" } else { "failed" }
            ),
            TxnFact::SagaEnded { saga, outcome } => write!(
                formatter,
                "saga_ended {saga} {}",
                match outcome {
                    SagaOutcome::Completed => "completed",
                    SagaOutcome::Compensated => "compensated",
                }
            ),
            TxnFact::SagaStuck { saga, reason } => {
                write!(formatter, "saga_stuck {saga} ({reason})")
            }
            TxnFact::RowCommitted { event } => write!(formatter, "row_committed e{event}"),
            TxnFact::EventPublished { event } => write!(formatter, "event_published e{event}"),
            TxnFact::EventConsumed { event, duplicate } => {
                write!(formatter, "event_consumed e{event} duplicate={duplicate}")
            }
        }
    }
}
