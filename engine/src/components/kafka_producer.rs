//! Kafka producer: murmur2 key partitioning (or round robin), metadata from the controller, retries with backoff, optional idempotence.
//!
//! Each record is sent alone (a batch of one: enough to show delivery
//! semantics; batching only changes throughput). Each record is one
//! Jepsen-style operation: `invoke`, then `ok` with its topic-partition and
//! offset, `fail` (it is certainly not in the log: every attempt was refused
//! before appending) or `info` (it may be: an attempt timed out or was
//! refused after appending). acks=0 writes end in `info` at once: the broker
//! never says.
//!
//! Bounds: `max_in_flight` requests at once, `buffer_records` records
//! waiting, `retries` attempts after the first, and `delivery_timeout_ms`
//! from the first send.

use crate::checkers::kafka::write_ok_detail;
use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::kafka_broker::NO_SEQUENCE;
use crate::components::kafka_partitioner::partition_for_key;
use crate::message::{Envelope, KafkaError, KafkaRecord, NodeId, Payload};
use crate::scenario::{KafkaAcks, KafkaPartitioner, KafkaProducerSpec};
use crate::time::{SimDuration, SimTime};
use crate::trace::OperationPhase;
use std::collections::{BTreeMap, VecDeque};

const TIMER_ARRIVAL: u32 = 1;
const TIMER_REQUEST_TIMEOUT: u32 = 2;
const TIMER_RETRY: u32 = 3;
const TIMER_METADATA: u32 = 4;

/// Metadata requests go out at most this often even with a tiny backoff.
const METADATA_MIN_INTERVAL_MS: u64 = 50;

#[derive(Clone, Debug)]
struct PendingRecord {
    key: u32,
    value: u64,
    /// CreateTime on the producer's clock (µs).
    create_time_us: u64,
    partition: Option<u32>,
    sequence: Option<u32>,
    first_sent_at: Option<SimTime>,
    attempts: u32,
    /// Some attempt may have been appended (timeout, or refused after append).
    maybe_written: bool,
    last_error: String,
}

#[derive(Clone, Debug)]
struct InFlight {
    operation: u64,
    timer: TimerId,
}

pub struct KafkaProducer {
    spec: KafkaProducerSpec,
    controller: Option<NodeId>,
    /// Stand-in for InitProducerId: fixed per node; the epoch is bumped on
    /// restart and whenever a record is given up (KIP-360) so sequences restart.
    producer_id: u64,
    producer_epoch: u32,
    /// Partition → leader, from the last metadata answer.
    leaders: Vec<Option<NodeId>>,
    last_metadata_request: Option<SimTime>,
    metadata_timer_armed: bool,
    next_sequence: BTreeMap<u32, u32>,
    records: BTreeMap<u64, PendingRecord>,
    /// Operations ready to send, in order (retries go to the front).
    ready: VecDeque<u64>,
    in_flight: BTreeMap<u64, InFlight>,
    /// Records waiting out their retry backoff. While any does, an
    /// idempotent producer sends no newer record: the leader must see
    /// sequences in order, and a retry overtaken by five newer batches would
    /// fall out of its dedup window (Kafka keeps per-partition order the same
    /// way; the barrier here is per producer, which is the same with one
    /// partition and only slower with more).
    awaiting_retry: std::collections::BTreeSet<u64>,
    next_operation: u64,
    next_value: u64,
    next_correlation: u64,
    sent: u64,
    acknowledged: u64,
    failed: u64,
    unknown: u64,
    retried: u64,
    /// Acknowledged records per partition (for the per-partition metric).
    acknowledged_by_partition: BTreeMap<u32, u64>,
    round_robin_next: u32,
}

/// Per-partition summary names (static); the total covers every partition.
const ACKNOWLEDGED_NAMES: [&str; 8] = [
    "acknowledged_p0",
    "acknowledged_p1",
    "acknowledged_p2",
    "acknowledged_p3",
    "acknowledged_p4",
    "acknowledged_p5",
    "acknowledged_p6",
    "acknowledged_p7",
];

impl KafkaProducer {
    pub fn new(
        spec: &KafkaProducerSpec,
        index: usize,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> KafkaProducer {
        KafkaProducer {
            spec: spec.clone(),
            controller: node_ids.get(&spec.controller).copied(),
            producer_id: index as u64 + 1,
            producer_epoch: 0,
            leaders: Vec::new(),
            last_metadata_request: None,
            metadata_timer_armed: false,
            next_sequence: BTreeMap::new(),
            records: BTreeMap::new(),
            ready: VecDeque::new(),
            in_flight: BTreeMap::new(),
            awaiting_retry: std::collections::BTreeSet::new(),
            next_operation: 0,
            next_value: 0,
            next_correlation: 0,
            sent: 0,
            acknowledged: 0,
            failed: 0,
            unknown: 0,
            retried: 0,
            acknowledged_by_partition: BTreeMap::new(),
            round_robin_next: u32::MAX,
        }
    }

    /// Asks the controller for leaders, at most once per `retry_backoff_ms`
    /// (Kafka's metadata refresh backoff). A timer then pumps again, so
    /// records waiting on an unknown leader are retried without a storm of
    /// requests while a partition is offline.
    fn request_metadata(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let backoff =
            SimDuration::from_millis(self.spec.retry_backoff_ms.max(METADATA_MIN_INTERVAL_MS));
        let Some(controller) = self.controller else {
            return;
        };
        let due = self
            .last_metadata_request
            .is_none_or(|at| now.since(at) >= backoff);
        if due {
            self.last_metadata_request = Some(now);
            ctx.send(
                controller,
                Payload::KafkaMetadataRequest {
                    topic: self.spec.topic.clone(),
                },
                64,
            );
        }
        if !self.metadata_timer_armed {
            self.metadata_timer_armed = true;
            ctx.set_timer(
                backoff,
                TimerTag {
                    kind: TIMER_METADATA,
                    id: 0,
                },
            );
        }
    }

    fn schedule_arrival(&mut self, ctx: &mut Context<'_>) {
        let delay =
            SimDuration::from_millis_f64(self.spec.inter_arrival.sample_ms(ctx.rng()).max(0.001));
        let at = ctx.now().plus(delay);
        if self
            .spec
            .stop_ms
            .is_some_and(|stop_ms| at >= SimTime::from_millis(stop_ms))
        {
            return;
        }
        ctx.set_timer(
            delay,
            TimerTag {
                kind: TIMER_ARRIVAL,
                id: 0,
            },
        );
    }

    fn arrive(&mut self, ctx: &mut Context<'_>) {
        let operation = self.next_operation;
        self.next_operation += 1;
        let key = ctx.rng().below(self.spec.key_count.max(1) as u64) as u32;
        let value = self.next_value;
        self.next_value += 1;
        ctx.operation(
            operation,
            OperationPhase::Invoke,
            format!("write {} key={key} value={value}", self.spec.topic),
        );
        if self.records.len() >= self.spec.buffer_records as usize {
            self.failed += 1;
            ctx.error("buffer_full");
            ctx.operation(operation, OperationPhase::Fail, "buffer full");
            return;
        }
        self.records.insert(
            operation,
            PendingRecord {
                key,
                value,
                create_time_us: ctx.local_clock().as_micros(),
                partition: None,
                sequence: None,
                first_sent_at: None,
                attempts: 0,
                maybe_written: false,
                last_error: String::new(),
            },
        );
        self.ready.push_back(operation);
        self.pump(ctx);
    }

    /// Sends ready records while the in-flight bound allows and leaders are known.
    fn pump(&mut self, ctx: &mut Context<'_>) {
        while self.in_flight.len() < self.spec.max_in_flight as usize {
            let Some(&operation) = self.ready.front() else {
                return;
            };
            let partition_count = self.leaders.len() as u32;
            if partition_count == 0 {
                self.request_metadata(ctx);
                return;
            }
            let Some(record) = self.records.get_mut(&operation) else {
                self.ready.pop_front();
                continue;
            };
            if self.spec.enable_idempotence
                && !self.awaiting_retry.is_empty()
                && record.attempts == 0
            {
                return;
            }
            let partition = match record.partition {
                Some(partition) => partition,
                None => {
                    let partition = match self.spec.partitioner {
                        KafkaPartitioner::Murmur2 => partition_for_key(record.key, partition_count),
                        KafkaPartitioner::RoundRobin => {
                            self.round_robin_next = self.round_robin_next.wrapping_add(1);
                            self.round_robin_next % partition_count
                        }
                    };
                    record.partition = Some(partition);
                    partition
                }
            };
            let Some(leader) = self.leaders.get(partition as usize).copied().flatten() else {
                // Leader unknown (offline partition): ask again, keep order.
                self.request_metadata(ctx);
                return;
            };
            self.ready.pop_front();
            let sequence = if self.spec.enable_idempotence {
                *record.sequence.get_or_insert_with(|| {
                    let next = self.next_sequence.entry(partition).or_insert(0);
                    let sequence = *next;
                    *next = next.wrapping_add(1);
                    sequence
                })
            } else {
                NO_SEQUENCE
            };
            let now = ctx.now();
            record.first_sent_at.get_or_insert(now);
            record.attempts += 1;
            let correlation = self.next_correlation;
            self.next_correlation += 1;
            let payload = Payload::KafkaProduce {
                correlation,
                topic: self.spec.topic.clone(),
                partition,
                acks: self.spec.acks,
                record: KafkaRecord {
                    offset: 0,
                    leader_epoch: 0,
                    producer_id: self.producer_id,
                    producer_epoch: self.producer_epoch,
                    sequence,
                    key: record.key,
                    value: record.value,
                    create_time_us: record.create_time_us,
                },
            };
            let value = record.value;
            let key = record.key;
            ctx.send(leader, payload, 128);
            self.sent += 1;
            if self.spec.acks == KafkaAcks::None {
                // Fire and forget: nobody will ever say whether it landed.
                self.records.remove(&operation);
                self.unknown += 1;
                ctx.operation(
                    operation,
                    OperationPhase::Info,
                    format!(
                        "sent {}-{partition} key={key} value={value} acks=0: no acknowledgement",
                        self.spec.topic
                    ),
                );
                continue;
            }
            let timer = ctx.set_timer(
                SimDuration::from_millis(self.spec.request_timeout_ms),
                TimerTag {
                    kind: TIMER_REQUEST_TIMEOUT,
                    id: correlation,
                },
            );
            self.in_flight
                .insert(correlation, InFlight { operation, timer });
        }
    }

    /// A failed attempt: retry after the backoff if allowed, else give up.
    fn retry_or_give_up(&mut self, ctx: &mut Context<'_>, operation: u64, error: &str) {
        let now = ctx.now();
        let Some(record) = self.records.get_mut(&operation) else {
            return;
        };
        record.last_error = error.to_string();
        let backoff = SimDuration::from_millis(self.spec.retry_backoff_ms);
        let deadline = record
            .first_sent_at
            .unwrap_or(now)
            .plus(SimDuration::from_millis(self.spec.delivery_timeout_ms));
        if record.attempts <= self.spec.retries && now.plus(backoff) < deadline {
            self.retried += 1;
            self.awaiting_retry.insert(operation);
            ctx.set_timer(
                backoff,
                TimerTag {
                    kind: TIMER_RETRY,
                    id: operation,
                },
            );
            return;
        }
        let attempts = record.attempts;
        let maybe_written = record.maybe_written;
        self.records.remove(&operation);
        if maybe_written {
            self.unknown += 1;
            ctx.operation(
                operation,
                OperationPhase::Info,
                format!("gave up after {attempts} attempt(s): {error}; it may be in the log"),
            );
        } else {
            self.failed += 1;
            ctx.operation(
                operation,
                OperationPhase::Fail,
                format!("gave up after {attempts} attempt(s): {error}"),
            );
        }
        ctx.error("delivery_failed");
        if self.spec.enable_idempotence {
            // KIP-360: a gap in sequences would block the partition; start a
            // new epoch so sequences restart from 0.
            self.producer_epoch += 1;
            self.next_sequence.clear();
            for record in self.records.values_mut() {
                record.sequence = None;
            }
        }
    }

    fn on_produce_response(
        &mut self,
        ctx: &mut Context<'_>,
        correlation: u64,
        partition: u32,
        offset: u64,
        error: Option<KafkaError>,
    ) {
        let Some(in_flight) = self.in_flight.remove(&correlation) else {
            return;
        };
        ctx.cancel_timer(in_flight.timer);
        let operation = in_flight.operation;
        match error {
            None => {
                let Some(record) = self.records.remove(&operation) else {
                    return;
                };
                self.acknowledged += 1;
                *self.acknowledged_by_partition.entry(partition).or_default() += 1;
                if let Some(first) = record.first_sent_at {
                    ctx.completed(ctx.now().since(first));
                }
                ctx.operation(
                    operation,
                    OperationPhase::Ok,
                    write_ok_detail(
                        &self.spec.topic,
                        partition,
                        record.key,
                        record.value,
                        offset,
                        self.producer_id,
                    ),
                );
            }
            Some(error) => {
                if let Some(record) = self.records.get_mut(&operation)
                    && error.maybe_appended()
                {
                    record.maybe_written = true;
                }
                if error == KafkaError::NotLeaderOrFollower {
                    self.request_metadata(ctx);
                }
                if error.retriable() {
                    self.retry_or_give_up(ctx, operation, error.as_str());
                } else {
                    if let Some(record) = self.records.get_mut(&operation) {
                        // Not retriable: give up now.
                        record.attempts = u32::MAX;
                    }
                    self.retry_or_give_up(ctx, operation, error.as_str());
                }
            }
        }
        self.pump(ctx);
    }
}

impl Component for KafkaProducer {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.request_metadata(ctx);
        self.schedule_arrival(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match &envelope.payload {
            Payload::KafkaMetadataResponse { topic, partitions } if *topic == self.spec.topic => {
                let count = partitions
                    .iter()
                    .map(|state| state.partition + 1)
                    .max()
                    .unwrap_or(0);
                let mut leaders = vec![None; count as usize];
                for state in partitions {
                    leaders[state.partition as usize] = state.leader;
                }
                self.leaders = leaders;
                self.pump(ctx);
            }
            Payload::KafkaProduceResponse {
                correlation,
                partition,
                offset,
                error,
                ..
            } => self.on_produce_response(ctx, *correlation, *partition, *offset, *error),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_ARRIVAL => {
                self.arrive(ctx);
                self.schedule_arrival(ctx);
            }
            TIMER_REQUEST_TIMEOUT => {
                let Some(in_flight) = self.in_flight.remove(&tag.id) else {
                    return;
                };
                if let Some(record) = self.records.get_mut(&in_flight.operation) {
                    record.maybe_written = true;
                }
                ctx.error("request_timeout");
                self.request_metadata(ctx);
                self.retry_or_give_up(ctx, in_flight.operation, "request timed out");
                self.pump(ctx);
            }
            TIMER_RETRY => {
                self.awaiting_retry.remove(&tag.id);
                if self.records.contains_key(&tag.id) {
                    self.ready.push_front(tag.id);
                    self.pump(ctx);
                }
            }
            TIMER_METADATA => {
                self.metadata_timer_armed = false;
                if self.leaders.is_empty() {
                    // Never answered (controller unreachable): ask again.
                    self.request_metadata(ctx);
                }
                // Records waiting on an unknown leader: `pump` asks again.
                self.pump(ctx);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        let in_flight: Vec<u64> = self
            .in_flight
            .values()
            .map(|entry| entry.operation)
            .collect();
        for (operation, record) in std::mem::take(&mut self.records) {
            if record.maybe_written || in_flight.contains(&operation) {
                self.unknown += 1;
                ctx.operation(operation, OperationPhase::Info, "producer crashed");
            } else {
                self.failed += 1;
                ctx.operation(
                    operation,
                    OperationPhase::Fail,
                    "producer crashed before sending",
                );
            }
        }
        self.in_flight.clear();
        self.awaiting_retry.clear();
        self.ready.clear();
        self.leaders.clear();
        self.last_metadata_request = None;
        self.metadata_timer_armed = false;
        self.next_sequence.clear();
        // A restarted producer is a new session (InitProducerId bumps the epoch).
        self.producer_epoch += 1;
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.ready.len() as u64,
            in_progress: self.in_flight.len() as u64,
            badge: format!("{} in flight", self.in_flight.len()),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let mut summary = vec![
            ("sent", self.sent as f64),
            ("acknowledged", self.acknowledged as f64),
            ("failed", self.failed as f64),
            ("unknown", self.unknown as f64),
            ("retried", self.retried as f64),
        ];
        for (partition, count) in &self.acknowledged_by_partition {
            if let Some(name) = ACKNOWLEDGED_NAMES.get(*partition as usize) {
                summary.push((name, *count as f64));
            }
        }
        summary
    }
}
