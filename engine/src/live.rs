//! What the live view draws beyond the plain snapshot: a typed, bounded status
//! per node (leadership, ISR, lag, breaker) that components fill themselves,
//! the messages in flight (for particles), and the marks of the fault
//! timeline (faults applied and first violations).
//!
//! The app holds no domain logic: a crown, an ISR badge or a breaker badge is
//! drawn only because a component said so here. Every value is fixed-size or
//! capped so a snapshot stays small enough to cross the worker boundary each
//! frame.

use crate::message::MessageClass;
use serde::{Deserialize, Serialize};

/// Most in-flight messages a snapshot lists; the rest are only counted (and
/// the view switches to flow intensity). The view's budget is 2,000
/// particles at 60 fps; the cap sits above it so a load that averages 2,000
/// in flight does not flicker between dots and flow lines as it fluctuates,
/// and keeps a snapshot's JSON under ~250 KB.
pub const MAX_IN_FLIGHT_MESSAGES_SHOWN: usize = 2_500;

/// Most timeline marks kept per run. Faults are bounded by the scenario's
/// limits plus live injections, violations by one per checker; this cap only
/// guards against a pathological nemesis plan.
pub const MAX_TIMELINE_MARKS: usize = 1_000;

/// Typed status of a node for the live view's badges. One small struct
/// (fixed size, no collections) whatever the component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeLiveStatus {
    /// What this node currently leads, if anything (draws the crown).
    #[serde(default)]
    pub leadership: Option<Leadership>,
    /// For the partitions this node leads: the smallest in-sync replica set
    /// against its replica count (Kafka's ISR; under-replicated when smaller).
    #[serde(default)]
    pub in_sync_replicas: Option<InSyncReplicas>,
    /// Records a consumer has not read yet (sum over its partitions).
    #[serde(default)]
    pub consumer_lag: Option<u64>,
    /// The least healthy circuit breaker among the node's dependencies.
    #[serde(default)]
    pub circuit_breaker: Option<BreakerBadge>,
    /// A leader/follower database replica's role and epoch (`kv_database`).
    #[serde(default)]
    pub database_role: Option<DatabaseRole>,
    /// Transactions (`txn_coordinator`) or sagas (`saga_orchestrator`) begun
    /// and not yet finished.
    #[serde(default)]
    pub in_flight_transactions: Option<u32>,
    /// Cache hits per hundred lookups since the start (`cache`); absent
    /// before the first lookup.
    #[serde(default)]
    pub cache_hit_percent: Option<u8>,
}

/// The role of a leader/follower database replica, as Redis reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseRole {
    pub primary: bool,
    /// The replication epoch the replica is in (bumped by each failover).
    pub epoch: u64,
}

/// A leader role held by the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leadership {
    pub kind: LeadershipKind,
    /// How many partitions (Kafka) or groups (Raft) the node leads.
    pub count: u32,
    /// Highest leader epoch (Kafka) or current term (Raft) among them.
    pub term: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadershipKind {
    /// Leader of one or more Kafka partitions.
    KafkaPartition,
    /// Leader of a Raft group.
    Raft,
    /// Primary of a leader/follower database (term = its epoch).
    DatabasePrimary,
}

/// An ISR size against the replica count, e.g. 1 of 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InSyncReplicas {
    pub in_sync: u32,
    pub replicas: u32,
}

/// A circuit breaker's state, as the badge shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerBadge {
    Closed,
    HalfOpen,
    Open,
}

/// One message on the wire, for a particle. Nodes are indices into
/// `Snapshot::nodes`, to keep each entry a few bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightMessage {
    pub id: u64,
    pub from: u32,
    pub to: u32,
    pub class: MessageClass,
    pub sent_us: u64,
    /// When it will be delivered (the particle reaches the receiver then).
    pub deliver_us: u64,
}

/// The messages in flight: the oldest `MAX_IN_FLIGHT_MESSAGES_SHOWN` by id,
/// and how many more there are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InFlightMessages {
    pub shown: Vec<InFlightMessage>,
    pub hidden: u64,
    /// Every message on the wire, shown or hidden, counted per direction
    /// `(from, to, messages)` in node order: when particles are too many to
    /// draw, the overlay draws this as flow intensity on the link.
    #[serde(default)]
    pub per_link: Vec<(u32, u32, u64)>,
}

/// Something on the run's time axis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineMark {
    pub at_us: u64,
    /// Trace sequence number of the event (a seek target as exact as a time).
    pub seq: u64,
    pub kind: TimelineMarkKind,
    /// The fault's action or the violation's detail, in trace-line words.
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineMarkKind {
    Fault,
    Violation,
}
