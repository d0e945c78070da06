//! Scenario properties of distributed transactions: the atomic commitment
//! coordinator and participant (2PC, 3PC, TCC) and the saga components.

pub use crate::components::txn_protocol::CommitProtocol;
use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Runs one distributed transaction per client request (from a load
/// generator) over `participants`, by `protocol`; answers ok when it
/// committed, an error when it aborted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TxnCoordinatorSpec {
    #[serde(default)]
    pub protocol: CommitProtocol,
    /// `txn_participant` node ids; every transaction involves all of them.
    pub participants: Vec<String>,
    /// Each transaction locks one key drawn uniformly from this many on every
    /// participant (two transactions on the same key conflict: the later one
    /// is voted down while the earlier holds the lock).
    #[serde(default = "default_key_count")]
    pub key_count: u64,
    /// TCC: units each try reserves on every participant.
    #[serde(default = "default_units_per_transaction")]
    pub units_per_transaction: u64,
    /// Votes (TCC: try results) not all in after this → abort (cancel).
    #[serde(default = "default_vote_timeout_ms")]
    pub vote_timeout_ms: u64,
    /// 3PC: pre-commit acknowledgements not all in after this → commit
    /// anyway (Skeen: a silent participant is taken as failed; it learns
    /// the outcome by termination when it recovers).
    #[serde(default = "default_vote_timeout_ms")]
    pub pre_commit_ack_timeout_ms: u64,
    /// The decision is re-sent to participants that have not acknowledged
    /// it this often, until all have.
    #[serde(default = "default_decision_retry_interval_ms")]
    pub decision_retry_interval_ms: u64,
    /// The decision log (begin records and decisions) is on disk and
    /// survives a crash. False: a restarted coordinator remembers nothing
    /// and answers every query with abort (presumed abort), even for
    /// transactions it had committed.
    #[serde(default = "default_true")]
    pub durable_log: bool,
    /// Time to force the decision record to disk before the decision is
    /// sent (0: instant). A crash inside this window loses the decision.
    #[serde(default)]
    pub log_write_latency_ms: u64,
    /// Transactions in progress at once; requests beyond it are refused.
    #[serde(default = "default_max_active_transactions")]
    pub max_active_transactions: u32,
}

/// A resource manager taking part in 2PC, 3PC or TCC transactions (the
/// protocol comes with each transaction from its coordinator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TxnParticipantSpec {
    /// Probability of voting no (a constraint violated, a TCC try refused).
    #[serde(default)]
    pub vote_no_probability: f64,
    /// Time to do the work and force the prepare record (a TCC try) before voting.
    #[serde(default = "default_prepare_time")]
    pub prepare_time: Distribution,
    /// A participant that voted yes and has heard nothing for this long is
    /// in doubt. 2PC: it asks the coordinator every `query_interval_ms`
    /// (blocked, holding its lock). 3PC: it runs the termination protocol
    /// with the other participants. Should exceed the coordinator's vote
    /// plus pre-commit-ack timeouts.
    #[serde(default = "default_decision_timeout_ms")]
    pub decision_timeout_ms: u64,
    /// How often an in-doubt participant asks again (2PC), and how long a
    /// 3PC termination waits for its peers' answers.
    #[serde(default = "default_query_interval_ms")]
    pub query_interval_ms: u64,
    /// The prepare log (prepared transactions, their locks) survives a
    /// crash. False: a restarted participant forgot what it promised.
    #[serde(default = "default_true")]
    pub durable_log: bool,
    /// TCC: units of the resource at the start.
    #[serde(default = "default_initial_units")]
    pub initial_units: u64,
    /// TCC: a reservation not confirmed or cancelled within this is released
    /// by the participant (absent: reservations never expire).
    #[serde(default)]
    pub reservation_timeout_ms: Option<u64>,
    /// TCC guard against the empty rollback: a cancel for a transaction
    /// whose try never ran records a cancel marker and releases nothing.
    /// False: it "releases" units that were never reserved.
    #[serde(default = "default_true")]
    pub guard_empty_rollback: bool,
    /// TCC guard against hanging: a try arriving after its transaction was
    /// cancelled is refused. False: it reserves units nothing will release.
    #[serde(default = "default_true")]
    pub guard_hanging: bool,
    /// Confirm and cancel (and commit/abort) are idempotent: a repeat is
    /// acknowledged without applying it again. False: a duplicated confirm
    /// consumes twice.
    #[serde(default = "default_true")]
    pub idempotent_decisions: bool,
}

fn default_key_count() -> u64 {
    1_000
}
fn default_units_per_transaction() -> u64 {
    1
}
fn default_vote_timeout_ms() -> u64 {
    1_000
}
fn default_decision_retry_interval_ms() -> u64 {
    500
}
fn default_true() -> bool {
    true
}
fn default_max_active_transactions() -> u32 {
    1_000
}
fn default_prepare_time() -> Distribution {
    Distribution::Constant { value_ms: 1.0 }
}
fn default_decision_timeout_ms() -> u64 {
    3_000
}
fn default_query_interval_ms() -> u64 {
    500
}
fn default_initial_units() -> u64 {
    1_000_000
}

/// One step of an orchestrated saga: an action on a service and its compensation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaStepSpec {
    /// A name for timelines (`reserve_stock`, `charge_payment`).
    pub name: String,
    /// The `saga_service` node that runs the action and its compensation.
    pub service: String,
}

/// Runs one saga per client request: the steps in order, and on a failure
/// the compensations of the applied steps in reverse order. Answers ok when
/// the saga completed, an error when it was compensated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaOrchestratorSpec {
    pub steps: Vec<SagaStepSpec>,
    /// No reply to a command after this long → retry (or give up).
    #[serde(default = "default_saga_step_timeout_ms")]
    pub step_timeout_ms: u64,
    /// Attempts of each action (1: no retry). When they run out the step
    /// counts as failed, and it is compensated too (it may have applied).
    #[serde(default = "default_saga_action_attempts")]
    pub max_action_attempts: u32,
    /// Attempts of each compensation (1: no retry). When they run out the
    /// saga is stuck: it will never complete nor be fully compensated.
    #[serde(default = "default_saga_compensation_attempts")]
    pub max_compensation_attempts: u32,
    /// Backoff before retry n is `min(cap, base × 2^(n-1))`.
    #[serde(default = "default_saga_backoff_base_ms")]
    pub retry_backoff_base_ms: u64,
    #[serde(default = "default_saga_backoff_cap_ms")]
    pub retry_backoff_cap_ms: u64,
    /// The saga log (which step each saga is at, in which direction) is on
    /// disk: a restarted orchestrator resumes every saga. False: it forgets
    /// them, and their applied steps stay applied (stuck sagas).
    #[serde(default = "default_true")]
    pub durable_log: bool,
    /// Sagas in progress at once; requests beyond it are refused.
    #[serde(default = "default_max_active_transactions")]
    pub max_active_sagas: u32,
}

/// A service that runs saga actions and compensations (orchestrated), or
/// takes part in a choreographed saga by reacting to events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaServiceSpec {
    /// Time to run an action or compensation.
    #[serde(default = "default_prepare_time")]
    pub processing_time: Distribution,
    /// Probability that an action fails for a business reason (payment
    /// declined, out of stock): the saga must compensate.
    #[serde(default)]
    pub action_failure_probability: f64,
    /// Probability that a compensation fails transiently (it must be retried).
    #[serde(default)]
    pub compensation_failure_probability: f64,
    /// Requests are deduplicated by idempotency key (a retry returns the
    /// first result), a compensation of an action that never ran is a no-op
    /// that leaves a marker, and an action arriving after its compensation is
    /// refused. False: every delivery is applied as it comes.
    #[serde(default = "default_true")]
    pub idempotent: bool,
    /// Choreography: react to events instead of commands (absent: orchestrated).
    #[serde(default)]
    pub choreography: Option<SagaChoreographySpec>,
}

/// This service's place in a choreographed saga (a chain of services).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaChoreographySpec {
    /// The `saga_service` told when this step succeeded (absent: this is the
    /// last step, and its success completes the saga).
    #[serde(default)]
    pub next: Option<String>,
    /// The `saga_service` told when this step failed or was compensated
    /// (absent: this is the first step, which starts sagas from client
    /// requests and ends compensated ones).
    #[serde(default)]
    pub previous: Option<String>,
    /// An event not acknowledged within this is sent again.
    #[serde(default = "default_saga_step_timeout_ms")]
    pub event_retry_interval_ms: u64,
    /// Sends of one event (1: fire and forget, a lost event is lost).
    #[serde(default = "default_saga_compensation_attempts")]
    pub max_event_attempts: u32,
    /// Publish and consume the events through a `rabbit_broker` (absent:
    /// direct messages to `next` / `previous`). An event counts as sent once
    /// the broker confirms it; a received event is acknowledged after its
    /// work ran, so a crash in between redelivers it.
    #[serde(default)]
    pub broker: Option<SagaEventBrokerSpec>,
}

/// A choreographed saga service's connection to the broker. Its events are
/// published to `exchange` with routing key `<this node id>.done` (its step
/// succeeded: the next service acts) or `<this node id>.undo` (its step failed
/// or was compensated: the previous service compensates); the broker's
/// bindings route them to the neighbours' queues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaEventBrokerSpec {
    /// The `rabbit_broker` node.
    pub broker: String,
    /// The exchange this service publishes its events to.
    pub exchange: String,
    /// The queue this service consumes its events from (bound to the
    /// neighbours' routing keys in the broker's `bindings`).
    pub queue: String,
    /// Unacknowledged deliveries the broker sends at once (`basic.qos`).
    #[serde(default = "default_broker_prefetch_count")]
    pub prefetch_count: u32,
    /// Wait before reconnecting after the connection was lost.
    #[serde(default = "default_broker_reconnect_delay_ms")]
    pub reconnect_delay_ms: u64,
}

fn default_broker_prefetch_count() -> u32 {
    50
}
fn default_broker_reconnect_delay_ms() -> u64 {
    500
}

fn default_saga_step_timeout_ms() -> u64 {
    500
}
fn default_saga_action_attempts() -> u32 {
    3
}
fn default_saga_compensation_attempts() -> u32 {
    20
}
fn default_saga_backoff_base_ms() -> u64 {
    100
}
fn default_saga_backoff_cap_ms() -> u64 {
    2_000
}

/// How an `outbox_service` gets its event to the consumer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventPublishMode {
    /// Two separate steps, each with its own latency: the database write and
    /// the send to the consumer (in `dual_write_order`). A crash between them
    /// loses the event or invents one; a retry after a timeout duplicates it.
    #[default]
    DualWrite,
    /// The business row and an outbox row commit in one local transaction; a
    /// relay polls the outbox, publishes, and deletes a row once the consumer
    /// acknowledged it (at-least-once: a crash before the delete re-publishes).
    TransactionalOutbox,
}

/// Which step of a dual write comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DualWriteOrder {
    /// Commit the row, then publish: a crash in between loses the event.
    #[default]
    DbThenPublish,
    /// Publish, then commit the row: a crash in between (or a give-up after
    /// publish timeouts) leaves an event for a change that never committed.
    PublishThenDb,
}

/// A service that handles each client request by writing a row to its own
/// database and publishing an event about it to an `event_consumer` (direct
/// messages, no broker), by dual write or through a transactional outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboxServiceSpec {
    #[serde(default)]
    pub mode: EventPublishMode,
    /// The `event_consumer` node the events go to.
    pub consumer: String,
    /// Dual write only: which step comes first.
    #[serde(default)]
    pub dual_write_order: DualWriteOrder,
    /// Time to commit a local database transaction (the row, or the row plus
    /// its outbox row, or the relay marking a row sent).
    #[serde(default = "default_outbox_db_write_latency_ms")]
    pub db_write_latency_ms: u64,
    /// Dual write: time to hand the event to the network (serialising,
    /// the client library) before it leaves; a crash inside it loses it.
    #[serde(default = "default_outbox_publish_latency_ms")]
    pub publish_latency_ms: u64,
    /// An event not acknowledged by the consumer within this is sent again
    /// (dual write: up to `max_publish_attempts`; relay: on its next poll).
    #[serde(default = "default_outbox_publish_timeout_ms")]
    pub publish_timeout_ms: u64,
    /// Dual write: sends of one event (1: no retry). When they run out the
    /// client gets an error.
    #[serde(default = "default_outbox_max_publish_attempts")]
    pub max_publish_attempts: u32,
    /// Outbox: the relay reads unsent rows this often.
    #[serde(default = "default_outbox_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Outbox: rows the relay publishes per poll at most.
    #[serde(default = "default_outbox_relay_batch_rows")]
    pub relay_batch_rows: u32,
    /// The database (rows and outbox) is on disk and survives a crash.
    /// False: a crash wipes the outbox, and its unsent events are lost.
    #[serde(default = "default_true")]
    pub durable_storage: bool,
    /// Outbox rows kept at most; a write that would exceed it is refused.
    #[serde(default = "default_outbox_max_rows")]
    pub max_outbox_rows: u32,
}

/// Receives events from `outbox_service` nodes, applies each (a side
/// effect: an email sent, a balance credited) and acknowledges it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventConsumerSpec {
    /// Deduplicate by event id in the consumer's own durable table: a
    /// redelivered event is acknowledged without applying it again. False:
    /// every delivery is applied.
    #[serde(default = "default_true")]
    pub idempotent_consumer: bool,
}

fn default_outbox_db_write_latency_ms() -> u64 {
    5
}
fn default_outbox_publish_latency_ms() -> u64 {
    5
}
fn default_outbox_publish_timeout_ms() -> u64 {
    200
}
fn default_outbox_max_publish_attempts() -> u32 {
    3
}
fn default_outbox_poll_interval_ms() -> u64 {
    100
}
fn default_outbox_relay_batch_rows() -> u32 {
    100
}
fn default_outbox_max_rows() -> u32 {
    10_000
}
