//! Hard limits on scenario size and run length: no file can hang a tab or exhaust memory.
//!
//! Each limit is checked at validation time with an error naming it, and the
//! runtime ones are enforced again by the simulator (defence in depth: a
//! scenario built in code skips the parser).

/// Largest scenario document accepted, in bytes.
pub const MAX_SCENARIO_BYTES: usize = 4 * 1024 * 1024;
/// Deepest JSON nesting accepted (objects and arrays). Real scenarios need ~8.
pub const MAX_NESTING_DEPTH: usize = 32;
pub const MAX_NODES: usize = 2_000;
pub const MAX_LINKS: usize = 10_000;
pub const MAX_ZONES: usize = 256;
pub const MAX_SCHEDULED_FAULTS: usize = 10_000;
pub const MAX_WORKLOAD_STREAMS: usize = 1_000;
pub const MAX_EXPECTATIONS: usize = 256;
pub const MAX_ID_CHARS: usize = 64;
pub const MAX_LABEL_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Longest simulated run: one day.
pub const MAX_DURATION_MS: u64 = 24 * 60 * 60 * 1_000;
/// Ceiling on processed events for one run, whatever the scenario asks.
pub const MAX_EVENTS_PER_RUN: u64 = 200_000_000;
/// Default event budget when the scenario does not set one.
pub const DEFAULT_MAX_EVENTS: u64 = 20_000_000;
/// Messages in flight at once across the whole network; beyond it sends are dropped
/// with reason `in_flight_limit` (and counted), never queued without bound.
pub const MAX_IN_FLIGHT_MESSAGES: usize = 1_000_000;
/// Pending events in the queue at once (timers + deliveries + faults).
pub const MAX_PENDING_EVENTS: usize = 4_000_000;
pub const MAX_WORKERS: u32 = 10_000;
pub const MAX_QUEUE_CAPACITY: u32 = 1_000_000;
pub const MAX_CLOSED_LOOP_USERS: u32 = 100_000;
pub const MAX_OUTSTANDING_REQUESTS: u32 = 1_000_000;
/// Metric samples kept per series (ring buffer); older samples are dropped.
pub const MAX_METRIC_SAMPLES: usize = 4_096;
/// Smallest metric sampling interval.
pub const MIN_SAMPLE_INTERVAL_MS: u64 = 10;
/// Trace events kept in memory for the UI's event log (ring buffer).
pub const TRACE_RING_CAPACITY: usize = 10_000;
/// Kafka: topics per controller and partitions per topic.
pub const MAX_KAFKA_TOPICS: usize = 64;
pub const MAX_KAFKA_PARTITIONS_PER_TOPIC: u32 = 256;
/// Kafka: records kept per partition replica (retention, when a topic sets
/// it, frees room by deleting old segments); a leader whose log is full
/// refuses writes with `LOG_FULL`.
pub const MAX_KAFKA_RECORDS_PER_PARTITION: usize = 100_000;
/// Kafka: records one follower fetch returns at most (`replica.fetch.max.bytes` stand-in).
pub const MAX_KAFKA_RECORDS_PER_FETCH: usize = 200;
/// Kafka: acks=all produce requests waiting for the high watermark, per partition.
pub const MAX_KAFKA_PENDING_ACKS_PER_PARTITION: usize = 10_000;
pub const MAX_KAFKA_RETRIES: u32 = 1_000;
pub const MAX_KAFKA_IN_FLIGHT: u32 = 100;
pub const MAX_KAFKA_BUFFER_RECORDS: u32 = 100_000;
/// Raft: servers per group (every message fans out to all of them).
pub const MAX_RAFT_MEMBERS: usize = 15;
/// Raft: entries in one AppendEntries.
pub const MAX_RAFT_ENTRIES_PER_APPEND: u64 = 1_024;
/// Raft: AppendEntries with entries in flight per follower.
pub const MAX_RAFT_INFLIGHT_APPENDS: u32 = 64;
/// Raft: appended-but-uncommitted entries a leader accepts before refusing proposals.
pub const MAX_RAFT_UNCOMMITTED_ENTRIES: u64 = 100_000;
/// Raft: log entries kept since the last snapshot; a leader whose log is this
/// long refuses proposals (`log_full`) until it compacts.
pub const MAX_RAFT_LOG_ENTRIES: u64 = 1_000_000;
/// Raft key-value client: logical processes (each one operation at a time).
pub const MAX_RAFT_CLIENT_CONCURRENCY: u32 = 1_000;
/// Raft key-value client: attempts per operation (redirects and retries).
pub const MAX_RAFT_CLIENT_ATTEMPTS: u32 = 100;
/// Services: endpoints per service, steps per endpoint and called services per
/// service (a call graph larger than this is not a lesson any more).
pub const MAX_SERVICE_ENDPOINTS: usize = 64;
pub const MAX_SERVICE_STEPS: usize = 64;
pub const MAX_SERVICE_DEPENDENCIES: usize = 64;
/// Services: attempts per call, the first included (retry storms need only a few).
pub const MAX_SERVICE_RETRY_ATTEMPTS: u32 = 100;
/// Circuit breaker: outcomes kept by a count-based window, and buckets of a
/// time-based one (the breaker's memory is bounded by these).
pub const MAX_BREAKER_WINDOW_CALLS: u32 = 100_000;
pub const MAX_BREAKER_WINDOW_BUCKETS: u64 = 3_600;
/// API gateway: cached answers kept at most per gateway.
pub const MAX_GATEWAY_CACHE_ENTRIES: u32 = 1_000_000;
/// RabbitMQ: exchanges, queues and bindings per broker (a definitions file of a lesson, not a fleet).
pub const MAX_RABBIT_EXCHANGES: usize = 256;
pub const MAX_RABBIT_QUEUES: usize = 256;
pub const MAX_RABBIT_BINDINGS: usize = 2_048;
/// RabbitMQ: messages one queue holds (ready + unacknowledged) whatever its
/// max-length. Beyond it the broker refuses publishes (nack), standing in for
/// RabbitMQ's memory and disk alarms, which block publishers.
pub const MAX_RABBIT_QUEUE_MESSAGES: usize = 100_000;
/// RabbitMQ: alternate-exchange hops followed for one message (cycles stop earlier).
pub const MAX_RABBIT_ALTERNATE_HOPS: usize = 16;
/// RabbitMQ: `x-death` entries carried per message (one per queue and reason).
pub const MAX_RABBIT_X_DEATH_ENTRIES: usize = 32;
/// RabbitMQ: publisher templates, retries, unconfirmed and buffered messages, prefetch and dedup window.
pub const MAX_RABBIT_MESSAGE_TEMPLATES: usize = 256;
pub const MAX_RABBIT_RETRIES: u32 = 1_000;
pub const MAX_RABBIT_UNCONFIRMED: u32 = 10_000;
pub const MAX_RABBIT_BUFFER_MESSAGES: u32 = 100_000;
pub const MAX_RABBIT_PREFETCH: u32 = 65_535;
pub const MAX_RABBIT_CONCURRENCY: u32 = 1_000;
pub const MAX_RABBIT_DEDUP_WINDOW: u32 = 1_000_000;
/// RabbitMQ checkers: messages tracked at once (beyond it new ones are counted, not tracked).
pub const MAX_RABBIT_TRACKED_MESSAGES: usize = 500_000;
/// Kafka: what one record counts toward `batch_size_bytes` (a small record:
/// key, value and headers of a few dozen bytes, as in Kafka's record format).
pub const KAFKA_RECORD_BYTES: u32 = 64;
/// Kafka: what a produce request costs on the wire beyond its records.
pub const KAFKA_PRODUCE_OVERHEAD_BYTES: u32 = 64;
/// Kafka: largest `batch_size_bytes` (Kafka's `max.request.size` default is 1 MiB).
pub const MAX_KAFKA_BATCH_SIZE_BYTES: u32 = 1_048_576;
/// Kafka: largest `linger_ms` (a minute; longer only hides records).
pub const MAX_KAFKA_LINGER_MS: u64 = 60_000;
/// Kafka: largest `segment_bytes` (Kafka's own default and ceiling, 1 GiB).
pub const MAX_KAFKA_SEGMENT_BYTES: u64 = 1_073_741_824;
/// Kafka: how often brokers look for segments to delete
/// (`log.retention.check.interval.ms`, 5 minutes in Kafka; 1 s here so
/// retention acts within a lesson).
pub const KAFKA_RETENTION_CHECK_INTERVAL_MS: u64 = 1_000;
/// Kafka: consumer groups one coordinator keeps (members and offsets).
pub const MAX_KAFKA_GROUPS_PER_COORDINATOR: usize = 1_000;
/// Kafka: members per consumer group (Kafka's `group.max.size` is unbounded by default).
pub const MAX_KAFKA_GROUP_MEMBERS: usize = 1_000;
/// Kafka: `max.poll.records` ceiling.
pub const MAX_KAFKA_MAX_POLL_RECORDS: u32 = 10_000;
/// Kafka: records a consumer holds fetched but not yet polled, per partition
/// (the fetcher stops asking beyond it, as Kafka's `max.partition.fetch.bytes` bounds it).
pub const MAX_KAFKA_CONSUMER_BUFFERED_RECORDS: usize = 1_000;

/// Members of one quorum queue's Raft group (RabbitMQ advises 3, 5 or 7).
pub const MAX_RABBIT_QUORUM_MEMBERS: usize = 7;
/// Kafka: how often a broker's log cleaner looks for a log to clean
/// (`log.cleaner.backoff.ms` is 15 s in Kafka; 1 s here so compaction acts
/// within a lesson).
pub const KAFKA_LOG_CLEANER_INTERVAL_MS: u64 = 1_000;
/// Kafka: dirty records one cleaning pass indexes into its key → offset map
/// (Kafka bounds it by `log.cleaner.dedupe.buffer.size`); a pass that meets
/// the bound cleans up to there and leaves the rest for the next pass. With
/// one log per broker per tick this bounds the cleaner's work per tick.
pub const MAX_KAFKA_CLEANER_RECORDS_PER_PASS: usize = 5_000;
/// Kafka: largest `delete_retention_ms` and `min_compaction_lag_ms` (a week).
pub const MAX_KAFKA_COMPACTION_MS: u64 = 604_800_000;
/// Compaction checker: keys tracked per partition (beyond it new keys are counted, not checked).
pub const MAX_KAFKA_COMPACTION_TRACKED_KEYS: usize = 100_000;

/// Coordination service: znodes in one ensemble (ZooKeeper keeps the whole
/// tree in memory too; this bounds the snapshot every server holds).
pub const MAX_COORD_ZNODES: usize = 100_000;
/// Coordination service: characters in a znode path.
pub const MAX_COORD_PATH_CHARS: usize = 256;
/// Coordination service: watches one server holds for its clients (a new one beyond it is not set).
pub const MAX_COORD_WATCHES_PER_SERVER: usize = 100_000;
/// Coordination service: `initial_znodes` per server.
pub const MAX_COORD_INITIAL_ZNODES: usize = 1_000;
/// Coordination service: sessions the ensemble keeps (creating one beyond it is refused).
pub const MAX_COORD_SESSIONS: usize = 10_000;
/// Cache: entries one cache holds at most.
pub const MAX_CACHE_CAPACITY_ENTRIES: u32 = 1_000_000;
/// Cache and Snowflake: requests held waiting at most.
pub const MAX_WAITING_REQUESTS: u32 = 1_000_000;
/// Snowflake: the largest worker id (10 bits).
pub const MAX_SNOWFLAKE_WORKER_ID: u32 = 1_023;

/// Transactions: decisions (and TCC cancel markers) a participant remembers
/// for answering repeats and peers' termination queries; the oldest are
/// forgotten first (a real resource manager truncates its log the same way).
pub const MAX_TXN_REMEMBERED_DECISIONS: usize = 10_000;
/// Transactions: times a coordinator re-sends one decision to participants
/// that have not acknowledged it (at `decision_retry_interval_ms`).
pub const MAX_TXN_DECISION_RESENDS: u32 = 1_000;
/// Transactions: participants of one coordinator.
pub const MAX_TXN_PARTICIPANTS: usize = 64;
/// Transactions: transactions in progress one coordinator may hold.
pub const MAX_TXN_ACTIVE: u32 = 100_000;
/// Transaction checkers: transactions (or sagas) followed at once; beyond it
/// the oldest are forgotten, so memory stays bounded on long runs.
pub const MAX_TXN_TRACKED: usize = 200_000;
/// Sagas: attempts of one action, compensation or choreography event.
pub const MAX_SAGA_ATTEMPTS: u32 = 1_000;
/// Replicas of one `kv_database` (Raft mode: at most `MAX_RAFT_MEMBERS`).
pub const MAX_DB_REPLICAS: usize = 64;
/// Databases one `kv_client` shards over.
pub const MAX_DB_SHARDS: usize = 64;
/// Ring positions per replica or shard (consistent hashing).
pub const MAX_DB_VIRTUAL_NODES: u32 = 1_024;
/// Writes a leader/follower primary keeps for partial resync.
pub const MAX_DB_BACKLOG_WRITES: u64 = 1_000_000;
/// Processes of one `kv_client`.
pub const MAX_DB_CLIENT_CONCURRENCY: u32 = 1_000;
/// Keys a `kv_client` uses.
pub const MAX_DB_KEYS: u32 = 1_000_000;
/// Sends per `kv_client` operation.
pub const MAX_DB_CLIENT_ATTEMPTS: u32 = 100;
/// Size of one value a `kv_shard_balancer` copies (a message carries one).
pub const MAX_DB_VALUE_SIZE_BYTES: u32 = 16 * 1024 * 1024;

/// Outbox rows an `outbox_service` keeps (and its relay batch): the outbox
/// lives in the component's memory, and a relay scans it on every poll.
pub const MAX_OUTBOX_ROWS: u32 = 100_000;

/// Voters of one KRaft controller quorum. Kafka recommends 3 or 5; more only
/// slows every commit.
pub const MAX_KRAFT_VOTERS: usize = 9;
