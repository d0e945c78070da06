//! Kafka producer: a record accumulator that batches per partition (`linger_ms`, `batch_size_bytes`), murmur2 / sticky / round-robin partitioning, metadata from the controller, retries of whole batches, optional idempotence.
//!
//! As in the Java producer, each record joins the open batch of its
//! partition; a batch is ready once another record would not fit
//! (`batch_size_bytes`) or `linger_ms` after its first record, and stays
//! open to more records until it is sent, so batches also form while
//! `max_in_flight` requests (batches) are out. A batch travels as one
//! produce request, is retried whole, carries its base sequence when
//! idempotent, and its records are acknowledged together. Each record is one
//! Jepsen-style operation: `invoke`, then `ok` with its topic-partition and
//! offset, `fail` (it is certainly not in the log: every attempt was refused
//! before appending) or `info` (it may be: an attempt timed out or was
//! refused after appending). acks=0 writes end in `info` at once: the broker
//! never says. A record's latency runs from its `send()` (arrival) to its
//! acknowledgement, so time spent lingering shows.
//!
//! Bounds: `max_in_flight` requests at once, `buffer_records` records
//! waiting, `batch_size_bytes` per batch, `retries` attempts after the first,
//! and `delivery_timeout_ms` from a batch's first send.

use crate::checkers::kafka::write_ok_detail;
use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::kafka_broker::NO_SEQUENCE;
use crate::components::kafka_partitioner::{NO_KEY, partition_for_key};
use crate::message::{Envelope, KafkaError, KafkaRecord, NodeId, Payload};
use crate::scenario::limits::{KAFKA_PRODUCE_OVERHEAD_BYTES, KAFKA_RECORD_BYTES};
use crate::scenario::{KafkaAcks, KafkaPartitioner, KafkaProducerSpec};
use crate::time::{SimDuration, SimTime};
use crate::trace::OperationPhase;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_ARRIVAL: u32 = 1;
const TIMER_REQUEST_TIMEOUT: u32 = 2;
const TIMER_RETRY: u32 = 3;
const TIMER_METADATA: u32 = 4;
const TIMER_LINGER: u32 = 5;

/// Metadata requests go out at most this often even with a tiny backoff.
const METADATA_MIN_INTERVAL_MS: u64 = 50;

#[derive(Clone, Debug)]
struct PendingRecord {
    /// `NO_KEY` for a keyless record.
    key: u32,
    value: u64,
    /// A null value (Kafka's tombstone): deletes `key` from a compacted topic.
    tombstone: bool,
    /// CreateTime on the producer's clock (µs).
    create_time_us: u64,
    /// When `send()` was called (the record's latency starts here).
    arrived_at: SimTime,
}

/// Records for one partition, sent and acknowledged together.
#[derive(Clone, Debug)]
struct Batch {
    partition: u32,
    /// The records' operations, in append order.
    operations: Vec<u64>,
    /// Idempotence: the first record's sequence (the rest follow on).
    base_sequence: Option<u32>,
    first_sent_at: Option<SimTime>,
    attempts: u32,
    /// Some attempt may have been appended (timeout, or refused after append).
    maybe_written: bool,
    /// In `ready` (full, lingered long enough, or a retry).
    queued: bool,
}

#[derive(Clone, Debug)]
struct InFlight {
    batch: u64,
    timer: TimerId,
}

#[derive(Clone)]
pub struct KafkaProducer {
    spec: KafkaProducerSpec,
    controller: Option<NodeId>,
    /// The controllers metadata requests go to (KRaft voters fail over).
    controller_channel: crate::components::kafka_kraft::ControllerChannel,
    /// Stand-in for InitProducerId: fixed per node; the epoch is bumped on
    /// restart and whenever a batch is given up (KIP-360) so sequences restart.
    producer_id: u64,
    producer_epoch: u32,
    /// Partition → leader, from the last metadata answer.
    leaders: Vec<Option<NodeId>>,
    last_metadata_request: Option<SimTime>,
    metadata_timer_armed: bool,
    next_sequence: BTreeMap<u32, u32>,
    /// Every record not yet resolved (the `buffer_records` bound).
    records: BTreeMap<u64, PendingRecord>,
    /// Records waiting for metadata before they can be partitioned, in order.
    unpartitioned: VecDeque<u64>,
    batches: BTreeMap<u64, Batch>,
    /// Partition → the batch still taking records (not yet sent).
    open_batches: BTreeMap<u32, u64>,
    /// Batches ready to send, in order (retries go to the front).
    ready: VecDeque<u64>,
    in_flight: BTreeMap<u64, InFlight>,
    /// Batches waiting out their retry backoff. While any does, an
    /// idempotent producer sends no newer batch: the leader must see
    /// sequences in order, and a retry overtaken by five newer batches would
    /// fall out of its dedup window (Kafka keeps per-partition order the same
    /// way; the barrier here is per producer, which is the same with one
    /// partition and only slower with more).
    awaiting_retry: BTreeSet<u64>,
    /// KIP-480: the partition keyless records stick to, and the batch they fill.
    sticky_partition: Option<u32>,
    sticky_batch: Option<u64>,
    next_batch: u64,
    next_operation: u64,
    next_value: u64,
    next_correlation: u64,
    /// Produce requests sent (one per batch attempt).
    sent: u64,
    records_sent: u64,
    acknowledged: u64,
    failed: u64,
    unknown: u64,
    retried: u64,
    /// Sum of acknowledged records' latency (arrival → acknowledgement), µs.
    record_latency_total_us: u64,
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
            controller_channel: crate::components::kafka_kraft::ControllerChannel::new(
                node_ids
                    .get(&spec.controller)
                    .copied()
                    .into_iter()
                    .collect(),
            ),
            producer_id: index as u64 + 1,
            producer_epoch: 0,
            leaders: Vec::new(),
            last_metadata_request: None,
            metadata_timer_armed: false,
            next_sequence: BTreeMap::new(),
            records: BTreeMap::new(),
            unpartitioned: VecDeque::new(),
            batches: BTreeMap::new(),
            open_batches: BTreeMap::new(),
            ready: VecDeque::new(),
            in_flight: BTreeMap::new(),
            awaiting_retry: BTreeSet::new(),
            sticky_partition: None,
            sticky_batch: None,
            next_batch: 0,
            next_operation: 0,
            next_value: 0,
            next_correlation: 0,
            sent: 0,
            records_sent: 0,
            acknowledged: 0,
            failed: 0,
            unknown: 0,
            retried: 0,
            record_latency_total_us: 0,
            acknowledged_by_partition: BTreeMap::new(),
            round_robin_next: u32::MAX,
        }
    }

    /// The controllers to ask, the named one first (KRaft: every voter).
    pub fn with_controller_quorum(mut self, quorum: Vec<NodeId>) -> KafkaProducer {
        if !quorum.is_empty() {
            self.controller_channel =
                crate::components::kafka_kraft::ControllerChannel::new(quorum);
        }
        self
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
            let controller = self.controller_channel.next_target().unwrap_or(controller);
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
        // Draw the keyless coin only when it can land both ways, so runs
        // without keyless records keep their random stream.
        let keyless = match self.spec.keyless_percent {
            0 => false,
            100.. => true,
            percent => ctx.rng().below(100) < u64::from(percent),
        };
        let key = if keyless {
            NO_KEY
        } else {
            ctx.rng().below(self.spec.key_count.max(1) as u64) as u32
        };
        // Like the keyless coin: drawn only when it can land both ways.
        let tombstone = !keyless
            && match self.spec.tombstone_percent {
                0 => false,
                100.. => true,
                percent => ctx.rng().below(100) < u64::from(percent),
            };
        let value = self.next_value;
        self.next_value += 1;
        let key_text = if keyless {
            "null".to_string()
        } else {
            key.to_string()
        };
        ctx.operation(
            operation,
            OperationPhase::Invoke,
            format!(
                "write {} key={key_text} value={value}{}",
                self.spec.topic,
                if tombstone { " tombstone" } else { "" }
            ),
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
                tombstone,
                create_time_us: ctx.local_clock().as_micros(),
                arrived_at: ctx.now(),
            },
        );
        self.unpartitioned.push_back(operation);
        self.pump(ctx);
    }

    /// Records that fit in one batch.
    fn records_per_batch(&self) -> usize {
        (self.spec.batch_size_bytes / KAFKA_RECORD_BYTES).max(1) as usize
    }

    /// Picks a partition for each record waiting for one (metadata known)
    /// and appends it to its partition's open batch.
    fn accumulate(&mut self, ctx: &mut Context<'_>) {
        let partition_count = self.leaders.len() as u32;
        if partition_count == 0 {
            if !self.unpartitioned.is_empty() {
                self.request_metadata(ctx);
            }
            return;
        }
        while let Some(operation) = self.unpartitioned.pop_front() {
            let Some(record) = self.records.get(&operation) else {
                continue;
            };
            let keyless = record.key == NO_KEY;
            let partition = match self.spec.partitioner {
                KafkaPartitioner::RoundRobin => {
                    self.round_robin_next = self.round_robin_next.wrapping_add(1);
                    self.round_robin_next % partition_count
                }
                KafkaPartitioner::Murmur2 if keyless => self.sticky_partition_for(ctx),
                KafkaPartitioner::Murmur2 => partition_for_key(record.key, partition_count),
            };
            let batch = self.append_to_batch(ctx, partition, operation);
            if keyless && self.spec.partitioner == KafkaPartitioner::Murmur2 {
                self.sticky_batch = Some(batch);
            }
        }
    }

    /// KIP-480: keep the sticky partition while the batch it fills is still
    /// open; once that batch has gone (full, or lingered and sent), pick
    /// another partition at random (a different one when there is a choice).
    fn sticky_partition_for(&mut self, ctx: &mut Context<'_>) -> u32 {
        let partition_count = self.leaders.len() as u32;
        if let (Some(partition), Some(batch)) = (self.sticky_partition, self.sticky_batch)
            && partition < partition_count
            && self.open_batches.get(&partition) == Some(&batch)
        {
            return partition;
        }
        let partition = match self.sticky_partition {
            Some(previous) if partition_count > 1 && previous < partition_count => {
                let pick = ctx.rng().below(u64::from(partition_count - 1)) as u32;
                if pick >= previous { pick + 1 } else { pick }
            }
            _ => ctx.rng().below(u64::from(partition_count)) as u32,
        };
        self.sticky_partition = Some(partition);
        partition
    }

    /// Appends a record to the partition's open batch (or a new one) and
    /// queues the batch once it is full, or at once when `linger_ms` is 0.
    fn append_to_batch(&mut self, ctx: &mut Context<'_>, partition: u32, operation: u64) -> u64 {
        let capacity = self.records_per_batch();
        let batch_id = match self.open_batches.get(&partition) {
            Some(&batch_id) => batch_id,
            None => {
                let batch_id = self.next_batch;
                self.next_batch += 1;
                self.batches.insert(
                    batch_id,
                    Batch {
                        partition,
                        operations: Vec::new(),
                        base_sequence: None,
                        first_sent_at: None,
                        attempts: 0,
                        maybe_written: false,
                        queued: false,
                    },
                );
                self.open_batches.insert(partition, batch_id);
                if self.spec.linger_ms > 0 {
                    ctx.set_timer(
                        SimDuration::from_millis(self.spec.linger_ms),
                        TimerTag {
                            kind: TIMER_LINGER,
                            id: batch_id,
                        },
                    );
                }
                batch_id
            }
        };
        let Some(batch) = self.batches.get_mut(&batch_id) else {
            return batch_id;
        };
        batch.operations.push(operation);
        let full = batch.operations.len() >= capacity;
        if full {
            // No room for another record: closed to appends, ready to go.
            self.open_batches.remove(&partition);
        }
        if (full || self.spec.linger_ms == 0) && !batch.queued {
            batch.queued = true;
            self.ready.push_back(batch_id);
        }
        batch_id
    }

    /// Partitions waiting records, then sends ready batches while the
    /// in-flight bound allows and leaders are known.
    fn pump(&mut self, ctx: &mut Context<'_>) {
        self.accumulate(ctx);
        while self.in_flight.len() < self.spec.max_in_flight as usize {
            let Some(&batch_id) = self.ready.front() else {
                return;
            };
            if self.leaders.is_empty() {
                self.request_metadata(ctx);
                return;
            }
            let Some(batch) = self.batches.get(&batch_id) else {
                self.ready.pop_front();
                continue;
            };
            if self.spec.enable_idempotence
                && !self.awaiting_retry.is_empty()
                && batch.attempts == 0
            {
                return;
            }
            let partition = batch.partition;
            let Some(leader) = self.leaders.get(partition as usize).copied().flatten() else {
                // Leader unknown (offline partition): ask again, keep order.
                self.request_metadata(ctx);
                return;
            };
            self.ready.pop_front();
            if self.open_batches.get(&partition) == Some(&batch_id) {
                // Sent: closed to appends (later records start a new batch).
                self.open_batches.remove(&partition);
            }
            let Some(batch) = self.batches.get_mut(&batch_id) else {
                continue;
            };
            batch.queued = false;
            let count = batch.operations.len() as u32;
            let base_sequence = if self.spec.enable_idempotence {
                Some(*batch.base_sequence.get_or_insert_with(|| {
                    let next = self.next_sequence.entry(partition).or_insert(0);
                    let sequence = *next;
                    *next = next.wrapping_add(count);
                    sequence
                }))
            } else {
                None
            };
            let now = ctx.now();
            batch.first_sent_at.get_or_insert(now);
            batch.attempts += 1;
            let records: Vec<KafkaRecord> = batch
                .operations
                .iter()
                .enumerate()
                .filter_map(|(index, operation)| {
                    let record = self.records.get(operation)?;
                    Some(KafkaRecord {
                        offset: 0,
                        leader_epoch: 0,
                        producer_id: self.producer_id,
                        producer_epoch: self.producer_epoch,
                        sequence: base_sequence
                            .map_or(NO_SEQUENCE, |base| base.wrapping_add(index as u32)),
                        key: record.key,
                        value: record.value,
                        create_time_us: record.create_time_us,
                        tombstone: record.tombstone,
                    })
                })
                .collect();
            let correlation = self.next_correlation;
            self.next_correlation += 1;
            let size = KAFKA_PRODUCE_OVERHEAD_BYTES + KAFKA_RECORD_BYTES * records.len() as u32;
            let record_count = records.len() as u64;
            let summary: Vec<(u32, u64)> = records
                .iter()
                .map(|record| (record.key, record.value))
                .collect();
            let payload = if records.len() == 1 {
                let Some(record) = records.into_iter().next() else {
                    continue;
                };
                Payload::KafkaProduce {
                    correlation,
                    topic: self.spec.topic.clone(),
                    partition,
                    acks: self.spec.acks,
                    record,
                }
            } else {
                Payload::KafkaProduceBatch {
                    correlation,
                    topic: self.spec.topic.clone(),
                    partition,
                    acks: self.spec.acks,
                    records,
                }
            };
            ctx.send(leader, payload, size);
            self.sent += 1;
            self.records_sent += record_count;
            if self.spec.acks == KafkaAcks::None {
                // Fire and forget: nobody will ever say whether it landed.
                if let Some(batch) = self.batches.remove(&batch_id) {
                    for (operation, (key, value)) in batch.operations.iter().zip(summary) {
                        self.records.remove(operation);
                        self.unknown += 1;
                        ctx.operation(
                            *operation,
                            OperationPhase::Info,
                            format!(
                                "sent {}-{partition} key={key} value={value} acks=0: no acknowledgement",
                                self.spec.topic
                            ),
                        );
                    }
                }
                continue;
            }
            let timer = ctx.set_timer(
                SimDuration::from_millis(self.spec.request_timeout_ms),
                TimerTag {
                    kind: TIMER_REQUEST_TIMEOUT,
                    id: correlation,
                },
            );
            self.in_flight.insert(
                correlation,
                InFlight {
                    batch: batch_id,
                    timer,
                },
            );
        }
    }

    /// A failed attempt: retry the whole batch after the backoff if
    /// allowed, else give up every record in it.
    fn retry_or_give_up(&mut self, ctx: &mut Context<'_>, batch_id: u64, error: &str) {
        let now = ctx.now();
        let Some(batch) = self.batches.get_mut(&batch_id) else {
            return;
        };
        let backoff = SimDuration::from_millis(self.spec.retry_backoff_ms);
        let deadline = batch
            .first_sent_at
            .unwrap_or(now)
            .plus(SimDuration::from_millis(self.spec.delivery_timeout_ms));
        if batch.attempts <= self.spec.retries && now.plus(backoff) < deadline {
            self.retried += 1;
            self.awaiting_retry.insert(batch_id);
            ctx.set_timer(
                backoff,
                TimerTag {
                    kind: TIMER_RETRY,
                    id: batch_id,
                },
            );
            return;
        }
        let Some(batch) = self.batches.remove(&batch_id) else {
            return;
        };
        for operation in &batch.operations {
            self.records.remove(operation);
            if batch.maybe_written {
                self.unknown += 1;
                ctx.operation(
                    *operation,
                    OperationPhase::Info,
                    format!(
                        "gave up after {} attempt(s): {error}; it may be in the log",
                        batch.attempts
                    ),
                );
            } else {
                self.failed += 1;
                ctx.operation(
                    *operation,
                    OperationPhase::Fail,
                    format!("gave up after {} attempt(s): {error}", batch.attempts),
                );
            }
        }
        ctx.error("delivery_failed");
        if self.spec.enable_idempotence {
            // KIP-360: a gap in sequences would block the partition; start a
            // new epoch so sequences restart from 0.
            self.producer_epoch += 1;
            self.next_sequence.clear();
            for batch in self.batches.values_mut() {
                batch.base_sequence = None;
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
        let batch_id = in_flight.batch;
        match error {
            None => {
                let Some(batch) = self.batches.remove(&batch_id) else {
                    return;
                };
                // The batch's records are acknowledged together, at
                // consecutive offsets from the batch's first.
                for (index, operation) in batch.operations.iter().enumerate() {
                    let Some(record) = self.records.remove(operation) else {
                        continue;
                    };
                    self.acknowledged += 1;
                    *self.acknowledged_by_partition.entry(partition).or_default() += 1;
                    let latency = ctx.now().since(record.arrived_at);
                    self.record_latency_total_us += latency.as_micros();
                    ctx.completed(latency);
                    ctx.operation(
                        *operation,
                        OperationPhase::Ok,
                        write_ok_detail(
                            &self.spec.topic,
                            partition,
                            record.key,
                            record.value,
                            offset + index as u64,
                            self.producer_id,
                            record.tombstone,
                        ),
                    );
                }
            }
            Some(error) => {
                if let Some(batch) = self.batches.get_mut(&batch_id) {
                    if error.maybe_appended() {
                        batch.maybe_written = true;
                    }
                    if !error.retriable() {
                        // Not retriable: give up now.
                        batch.attempts = u32::MAX;
                    }
                }
                if error == KafkaError::NotLeaderOrFollower {
                    self.request_metadata(ctx);
                }
                self.retry_or_give_up(ctx, batch_id, error.as_str());
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
                self.controller_channel.answered();
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
                if let Some(batch) = self.batches.get_mut(&in_flight.batch) {
                    batch.maybe_written = true;
                }
                ctx.error("request_timeout");
                self.request_metadata(ctx);
                self.retry_or_give_up(ctx, in_flight.batch, "request timed out");
                self.pump(ctx);
            }
            TIMER_RETRY => {
                self.awaiting_retry.remove(&tag.id);
                if let Some(batch) = self.batches.get_mut(&tag.id) {
                    batch.queued = true;
                    self.ready.push_front(tag.id);
                    self.pump(ctx);
                }
            }
            TIMER_LINGER => {
                // linger_ms since the batch's first record: ready now.
                if let Some(batch) = self.batches.get_mut(&tag.id)
                    && batch.attempts == 0
                    && !batch.queued
                {
                    batch.queued = true;
                    self.ready.push_back(tag.id);
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
        let mut maybe_sent = BTreeSet::new();
        for batch in self.batches.values() {
            if batch.maybe_written || batch.attempts > 0 {
                maybe_sent.extend(batch.operations.iter().copied());
            }
        }
        for (operation, _) in std::mem::take(&mut self.records) {
            if maybe_sent.contains(&operation) {
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
        self.batches.clear();
        self.open_batches.clear();
        self.unpartitioned.clear();
        self.sticky_partition = None;
        self.sticky_batch = None;
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
            queue_depth: (self.records.len() - self.in_flight_records()) as u64,
            in_progress: self.in_flight.len() as u64,
            badge: format!("{} in flight", self.in_flight.len()),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let mean_latency_ms = if self.acknowledged == 0 {
            0.0
        } else {
            self.record_latency_total_us as f64 / self.acknowledged as f64 / 1_000.0
        };
        let mean_batch_records = if self.sent == 0 {
            0.0
        } else {
            self.records_sent as f64 / self.sent as f64
        };
        let mut summary = vec![
            ("sent", self.sent as f64),
            ("acknowledged", self.acknowledged as f64),
            ("failed", self.failed as f64),
            ("unknown", self.unknown as f64),
            ("retried", self.retried as f64),
            ("records_sent", self.records_sent as f64),
            ("mean_records_per_request", mean_batch_records),
            ("mean_record_latency_ms", mean_latency_ms),
        ];
        for (partition, count) in &self.acknowledged_by_partition {
            if let Some(name) = ACKNOWLEDGED_NAMES.get(*partition as usize) {
                summary.push((name, *count as f64));
            }
        }
        summary
    }
}

impl KafkaProducer {
    /// Records in requests awaiting an answer.
    fn in_flight_records(&self) -> usize {
        self.in_flight
            .values()
            .filter_map(|entry| self.batches.get(&entry.batch))
            .map(|batch| batch.operations.len())
            .sum::<usize>()
            .min(self.records.len())
    }
}
