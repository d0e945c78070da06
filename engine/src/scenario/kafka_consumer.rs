//! The `kafka_consumer` component kind: one consumer of a consumer group (group id, topic, commit mode, assignor, timeouts).

use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `partition.assignment.strategy`: how the group leader shares partitions out.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KafkaAssignor {
    /// Kafka's `RangeAssignor`: consecutive partitions per member, the first
    /// members get one more when it does not divide (eager: every rebalance
    /// revokes everything first).
    #[default]
    Range,
    /// `RoundRobinAssignor`: partitions dealt out one by one (eager).
    RoundRobin,
    /// `CooperativeStickyAssignor` (KIP-429): balanced, keeps what members
    /// own, and only the partitions that move are revoked; they are handed
    /// to their new owner in a second rebalance.
    CooperativeSticky,
}

impl KafkaAssignor {
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaAssignor::Range => "range",
            KafkaAssignor::RoundRobin => "round_robin",
            KafkaAssignor::CooperativeSticky => "cooperative_sticky",
        }
    }

    pub fn is_cooperative(self) -> bool {
        self == KafkaAssignor::CooperativeSticky
    }
}

/// When the consumer commits the offsets it has read.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KafkaCommitMode {
    /// `enable.auto.commit=true`: every `auto_commit_interval_ms`, inside
    /// `poll`, the positions of records returned by earlier polls (all
    /// processed by then): at-least-once; a crash redelivers up to one
    /// interval of records.
    #[default]
    Auto,
    /// `commitSync()` after each polled batch is processed: at-least-once; a
    /// crash mid-batch redelivers that batch.
    AfterProcessing,
    /// `commitSync()` right after `poll`, before processing: at-most-once; a
    /// crash mid-batch skips the rest of that batch.
    BeforeProcessing,
}

impl KafkaCommitMode {
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaCommitMode::Auto => "auto",
            KafkaCommitMode::AfterProcessing => "after_processing",
            KafkaCommitMode::BeforeProcessing => "before_processing",
        }
    }
}

/// `auto.offset.reset`: where to start when the group has no committed offset
/// (or it is out of range).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KafkaOffsetReset {
    /// From the start of the log.
    Earliest,
    /// From the high watermark: only records written from now on (Kafka's default).
    #[default]
    Latest,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaConsumerSpec {
    /// The `kafka_controller` node asked for metadata and for the group's coordinator.
    pub controller: String,
    /// A topic the controller creates.
    pub topic: String,
    /// `group.id`: consumers with the same group share the topic's partitions.
    pub group_id: String,
    #[serde(default)]
    pub commit_mode: KafkaCommitMode,
    /// `auto.commit.interval.ms` (Kafka's default 5000); only with `commit_mode = auto`.
    #[serde(default = "default_auto_commit_interval_ms")]
    pub auto_commit_interval_ms: u64,
    /// `partition.assignment.strategy`; every consumer of a group must use the same.
    #[serde(default)]
    pub assignor: KafkaAssignor,
    /// `session.timeout.ms`: a member with no heartbeat for this long is
    /// removed and its partitions rebalanced. Kafka's default is 45000; the
    /// simulator defaults to 10000 so lessons stay short.
    #[serde(default = "default_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (Kafka's default 3000); must be below the session timeout.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`: a consumer that does not poll again within
    /// this (processing too slowly) leaves the group. Also the rebalance
    /// timeout: how long the coordinator waits for members to rejoin.
    /// Kafka's default is 300000; the simulator's 30000 keeps lessons short.
    #[serde(default = "default_max_poll_interval_ms")]
    pub max_poll_interval_ms: u64,
    #[serde(default)]
    pub auto_offset_reset: KafkaOffsetReset,
    /// `max.poll.records` (Kafka's default 500): records one poll hands to the application.
    #[serde(default = "default_max_poll_records")]
    pub max_poll_records: u32,
    /// Time the application takes to process one record.
    pub processing_time: Distribution,
    /// A fetch or group request without an answer for this long is sent again
    /// (the coordinator is looked up again after a group request times out).
    #[serde(default = "default_consumer_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// An empty fetch is asked again after this long (Kafka long-polls with
    /// `fetch.max.wait.ms` = 500 instead; polling gives the same delay, simply).
    #[serde(default = "default_fetch_backoff_ms")]
    pub fetch_backoff_ms: u64,
}

fn default_auto_commit_interval_ms() -> u64 {
    5_000
}
fn default_session_timeout_ms() -> u64 {
    10_000
}
fn default_heartbeat_interval_ms() -> u64 {
    3_000
}
fn default_max_poll_interval_ms() -> u64 {
    30_000
}
fn default_max_poll_records() -> u32 {
    500
}
fn default_consumer_request_timeout_ms() -> u64 {
    3_000
}
fn default_fetch_backoff_ms() -> u64 {
    50
}
