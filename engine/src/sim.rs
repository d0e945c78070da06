//! The discrete-event simulator: owns every component, the network and the clock, and applies effects.
//!
//! Events are ordered by (time, class, sequence). The class puts fault actions
//! first within a microsecond and metric sampling last; within a class the
//! insertion sequence breaks ties, so equal-time events run FIFO. Nothing
//! else influences order, which is what makes a seed reproduce a run.

use crate::checkers::{
    CheckResult, Checker, CheckerSet, LostAcknowledgedWrites, NoDuplicateLogEntries,
    NoPhantomDelivery, NoUnexpectedDuplicateDelivery, RequestsEventuallyResolved,
    TraceTimeMonotonic, Violation,
};
use crate::component::{
    Component, ComponentView, Context, Effect, MetricEffect, TimerId, TimerTag,
};
use crate::components::build_component;
use crate::fault::{ResolvedFault, nemesis_plan, resolve_fault};
use crate::inspect::{InspectedNode, Inspection, TransactionTimelines, build_inspection};
use crate::live::{
    InFlightMessage, InFlightMessages, MAX_TIMELINE_MARKS, NodeLiveStatus, TimelineMark,
    TimelineMarkKind,
};
use crate::message::{Envelope, MessageId, NodeId};
use crate::metrics::{ChartSeriesSamples, ChartSubject, Metrics, NodeGauges, ResolvedChartSubject};
use crate::network::{Network, Route};
use crate::rng::{SimRng, stream};
use crate::scenario::limits::{MAX_IN_FLIGHT_MESSAGES, MAX_PENDING_EVENTS};
use crate::scenario::{ComponentSpec, FaultAction, Problems, Scenario, ScheduledFault, validate};
use crate::time::{SimDuration, SimTime};
use crate::trace::{DropReason, FaultOrigin, TraceEvent, TraceKind, TraceLog};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Simulated time reached the run's duration.
    ReachedEnd,
    /// `run.max_events` events were processed first.
    EventBudgetExhausted,
    /// More than `MAX_PENDING_EVENTS` were scheduled at once.
    PendingEventLimit,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::ReachedEnd => "reached_end",
            StopReason::EventBudgetExhausted => "event_budget_exhausted",
            StopReason::PendingEventLimit => "pending_event_limit",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Up,
    Down,
    Paused,
}

/// Options a caller may set beyond the scenario.
#[derive(Clone, Debug, Default)]
pub struct SimulatorOptions {
    /// Replaces `run.seed` (CLI `--seed`, nemesis sweeps).
    pub seed: Option<u64>,
    /// Replaces `run.duration_ms` (CLI `--until`).
    pub duration: Option<SimDuration>,
    /// Keep every trace line (for `--trace FILE`); memory grows with the run.
    pub record_full_trace: bool,
}

/// Progress of a bounded run call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProgress {
    pub events_processed: u64,
    pub now: SimTime,
    pub finished: Option<StopReason>,
}

/// Events with the same time run in this class order, then FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventClass {
    Fault = 0,
    Normal = 1,
    Sample = 2,
}

#[derive(Clone, Debug)]
enum Event {
    Start(NodeId),
    Deliver(Envelope),
    Timer {
        node: NodeId,
        timer: TimerId,
        tag: TimerTag,
        incarnation: u32,
    },
    Fault {
        action: FaultAction,
        origin: FaultOrigin,
    },
    Sample,
}

/// A heap entry is only the ordering key and a slot in `Simulator::event_slots`:
/// sifting 24-byte keys instead of whole events was the kernel's largest cost.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Scheduled {
    time: SimTime,
    class: EventClass,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest event.
    /// `slot` never decides: `seq` is unique.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.class, other.seq).cmp(&(self.time, self.class, self.seq))
    }
}

/// A node's clock: true time plus an offset, drifting from `since`.
#[derive(Clone, Copy, Debug, Default)]
struct NodeClock {
    offset_us: i64,
    drift_ppm: f64,
    since: SimTime,
}

impl NodeClock {
    fn read(&self, now: SimTime) -> SimTime {
        let drift_us = now.since(self.since).as_micros() as f64 * self.drift_ppm / 1_000_000.0;
        let local =
            now.as_micros() as i128 + self.offset_us as i128 + libm::round(drift_us) as i128;
        SimTime(local.clamp(0, u64::MAX as i128) as u64)
    }
}

#[derive(Clone)]
struct NodeRuntime {
    name: String,
    kind: &'static str,
    component: Box<dyn Component>,
    status: NodeStatus,
    /// Bumped on crash; timers from an older incarnation are void.
    incarnation: u32,
    clock: NodeClock,
    slow_factor: f64,
    rng: SimRng,
    /// Events that arrived while paused, replayed in order on resume.
    paused_events: VecDeque<Event>,
}

/// UI-facing state of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    pub id: String,
    pub kind: String,
    pub status: NodeStatus,
    pub slow_factor: f64,
    pub clock_offset_ms: f64,
    pub view: ComponentView,
    /// Typed badges filled by the component (live view).
    #[serde(default)]
    pub live: NodeLiveStatus,
    /// A partition cuts at least one of this node's links (either direction).
    #[serde(default)]
    pub partitioned: bool,
}

/// UI-facing state of a declared link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkSnapshot {
    pub from: String,
    pub to: String,
    /// from→to is cut by a partition.
    pub cut_forward: bool,
    pub cut_backward: bool,
    pub held_forward: bool,
    pub held_backward: bool,
    pub loss_probability: f64,
}

/// Everything the app draws, in one serialisable value (crosses the worker boundary).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub now_us: u64,
    pub end_us: u64,
    pub seed: u64,
    pub events_processed: u64,
    pub trace_events: u64,
    pub in_flight: u64,
    pub finished: Option<StopReason>,
    pub nodes: Vec<NodeSnapshot>,
    pub links: Vec<LinkSnapshot>,
    pub checks: Vec<CheckResult>,
    pub digest: String,
}

#[derive(Clone)]
pub struct Simulator {
    scenario: Scenario,
    seed: u64,
    end: SimTime,
    max_events: u64,
    now: SimTime,
    next_seq: u64,
    queue: BinaryHeap<Scheduled>,
    /// Event bodies, indexed by `Scheduled::slot`; freed slots are reused.
    event_slots: Vec<Option<Event>>,
    free_slots: Vec<u32>,
    nodes: Vec<NodeRuntime>,
    node_names: Vec<String>,
    node_ids: BTreeMap<String, NodeId>,
    network: Network,
    metrics: Metrics,
    trace: TraceLog,
    checkers: CheckerSet,
    next_message_id: u64,
    next_timer_id: u64,
    cancelled_timers: BTreeSet<TimerId>,
    in_flight: u64,
    events_processed: u64,
    finished: Option<StopReason>,
    /// Faults injected live, with the time they took effect (for replay/export).
    live_faults: Vec<ScheduledFault>,
    effects: Vec<Effect>,
    /// Faults applied and first violations, for the live view's timeline
    /// (at most `MAX_TIMELINE_MARKS`).
    timeline_marks: Vec<TimelineMark>,
    /// Saga/2PC/3PC/TCC instances for the transactions panel (bounded).
    transaction_timelines: Option<TransactionTimelines>,
}

impl Simulator {
    /// Builds a simulator for a scenario, validating it first.
    pub fn new(scenario: &Scenario) -> Result<Simulator, Problems> {
        Simulator::with_options(scenario, SimulatorOptions::default())
    }

    pub fn with_options(
        scenario: &Scenario,
        options: SimulatorOptions,
    ) -> Result<Simulator, Problems> {
        validate::validate(scenario).into_result(())?;
        let seed = options.seed.unwrap_or(scenario.run.seed);
        let duration = options
            .duration
            .unwrap_or(SimDuration::from_millis(scenario.run.duration_ms));
        let node_ids: BTreeMap<String, NodeId> = scenario
            .topology
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (node.id.clone(), NodeId(index as u32)))
            .collect();
        let node_names: Vec<String> = scenario
            .topology
            .nodes
            .iter()
            .map(|node| node.id.clone())
            .collect();
        let nodes = scenario
            .topology
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| NodeRuntime {
                name: node.id.clone(),
                kind: node.spec.kind_name(),
                component: build_component(scenario, index, &node_ids),
                status: NodeStatus::Up,
                incarnation: 0,
                clock: NodeClock::default(),
                slow_factor: 1.0,
                rng: SimRng::for_stream(seed, stream::NODE_BASE + index as u64),
                paused_events: VecDeque::new(),
            })
            .collect();
        let network = Network::new(scenario, &node_ids, seed);
        let metrics = Metrics::new(
            entry_nodes(scenario, &node_ids),
            network.links().len(),
            SimDuration::from_millis(scenario.run.sample_interval_ms),
        );
        let longest_client_timeout_ms = scenario
            .topology
            .nodes
            .iter()
            .filter_map(|node| match &node.spec {
                ComponentSpec::LoadGenerator(spec) => Some(spec.request_timeout_ms),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut checkers: Vec<Box<dyn Checker>> = vec![
            Box::new(NoPhantomDelivery::default()),
            Box::new(NoUnexpectedDuplicateDelivery::default()),
            Box::new(TraceTimeMonotonic::default()),
            Box::new(RequestsEventuallyResolved::new(SimDuration::from_millis(
                longest_client_timeout_ms,
            ))),
        ];
        // Log checkers only where there are logs: elsewhere they would pass
        // vacuously and clutter every report.
        if scenario
            .topology
            .nodes
            .iter()
            .any(|node| matches!(node.spec, ComponentSpec::KafkaBroker(_)))
        {
            checkers.push(Box::new(LostAcknowledgedWrites::new(node_names.clone())));
            checkers.push(Box::new(NoDuplicateLogEntries::new(node_names.clone())));
        }
        crate::checkers::raft::register(scenario, &node_names, &mut checkers);
        crate::checkers::database::register(scenario, &node_names, &mut checkers);
        if scenario
            .topology
            .nodes
            .iter()
            .any(|node| matches!(node.spec, ComponentSpec::RabbitBroker(_)))
        {
            checkers.extend(crate::checkers::rabbit::rabbit_checkers(
                scenario,
                &node_names,
            ));
        }
        // Consumer checkers only where there are consumers (group → topic).
        let consumer_groups: BTreeMap<String, String> = scenario
            .topology
            .nodes
            .iter()
            .filter_map(|node| match &node.spec {
                ComponentSpec::KafkaConsumer(spec) => {
                    Some((spec.group_id.clone(), spec.topic.clone()))
                }
                _ => None,
            })
            .collect();
        if !consumer_groups.is_empty() {
            checkers.extend(crate::checkers::kafka_consumer::consumer_checkers(
                consumer_groups,
                &node_names,
            ));
        }
        // Compaction checkers only where some topic is compacted.
        let kafka_topics: Vec<crate::scenario::KafkaTopicSpec> = scenario
            .topology
            .nodes
            .iter()
            .filter_map(|node| match &node.spec {
                // A KRaft quorum's voters all list the topics: count them once.
                ComponentSpec::KafkaController(spec)
                    if crate::components::kafka_kraft::states_initial_leaders(spec, &node.id) =>
                {
                    Some(spec.topics.clone())
                }
                _ => None,
            })
            .flatten()
            .collect();
        checkers.extend(crate::checkers::kafka_compaction::compaction_checkers(
            &kafka_topics,
            &node_names,
        ));
        crate::checkers::coord::register(scenario, &node_names, &mut checkers);
        if scenario
            .topology
            .nodes
            .iter()
            .any(|node| matches!(node.spec, ComponentSpec::TxnCoordinator(_)))
        {
            checkers.extend(crate::checkers::txn::txn_checkers(&node_names));
        }
        if scenario.topology.nodes.iter().any(|node| {
            matches!(
                node.spec,
                ComponentSpec::SagaOrchestrator(_) | ComponentSpec::SagaService(_)
            )
        }) {
            checkers.extend(crate::checkers::saga::saga_checkers());
        }
        if scenario.topology.nodes.iter().any(|node| {
            matches!(
                node.spec,
                ComponentSpec::OutboxService(_) | ComponentSpec::EventConsumer(_)
            )
        }) {
            checkers.extend(crate::checkers::outbox::outbox_checkers());
        }
        // The transactions panel's recorder watches the trace only when the
        // scenario has transaction components (others pay nothing).
        let transaction_timelines = scenario
            .topology
            .nodes
            .iter()
            .any(|node| {
                matches!(
                    node.spec,
                    ComponentSpec::TxnCoordinator(_)
                        | ComponentSpec::TxnParticipant(_)
                        | ComponentSpec::SagaOrchestrator(_)
                        | ComponentSpec::SagaService(_)
                )
            })
            .then(TransactionTimelines::new);
        let mut simulator = Simulator {
            scenario: scenario.clone(),
            seed,
            end: SimTime::ZERO.plus(duration),
            max_events: scenario.run.max_events,
            now: SimTime::ZERO,
            next_seq: 0,
            queue: BinaryHeap::new(),
            event_slots: Vec::new(),
            free_slots: Vec::new(),
            nodes,
            node_names,
            node_ids,
            network,
            metrics,
            trace: TraceLog::new(options.record_full_trace),
            checkers: CheckerSet::new(checkers),
            next_message_id: 0,
            next_timer_id: 0,
            cancelled_timers: BTreeSet::new(),
            in_flight: 0,
            events_processed: 0,
            finished: None,
            live_faults: Vec::new(),
            effects: Vec::new(),
            timeline_marks: Vec::new(),
            transaction_timelines,
        };
        for index in 0..simulator.nodes.len() {
            simulator.schedule(
                SimTime::ZERO,
                EventClass::Normal,
                Event::Start(NodeId(index as u32)),
            );
        }
        let mut timeline: Vec<(ScheduledFault, FaultOrigin)> = scenario
            .faults
            .timeline
            .iter()
            .map(|fault| (fault.clone(), FaultOrigin::Scripted))
            .collect();
        if let Some(nemesis) = &scenario.faults.nemesis {
            let end_ms = duration.as_micros() / 1_000;
            timeline.extend(
                nemesis_plan(scenario, nemesis, seed, end_ms)
                    .into_iter()
                    .map(|fault| (fault, FaultOrigin::Nemesis)),
            );
        }
        // Stable: equal times keep document order, scripted before nemesis.
        timeline.sort_by_key(|(fault, _)| fault.at_ms);
        for (fault, origin) in timeline {
            simulator.schedule(
                SimTime::from_millis(fault.at_ms),
                EventClass::Fault,
                Event::Fault {
                    action: fault.action,
                    origin,
                },
            );
        }
        let first_sample = SimTime::ZERO.plus(simulator.metrics.interval);
        simulator.schedule(first_sample, EventClass::Sample, Event::Sample);
        Ok(simulator)
    }

    fn schedule(&mut self, time: SimTime, class: EventClass, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.event_slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.event_slots.push(Some(event));
                (self.event_slots.len() - 1) as u32
            }
        };
        self.queue.push(Scheduled {
            time,
            class,
            seq,
            slot,
        });
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn now(&self) -> SimTime {
        self.now
    }
    pub fn end_time(&self) -> SimTime {
        self.end
    }
    pub fn finished(&self) -> Option<StopReason> {
        self.finished
    }
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }
    pub fn node_names(&self) -> &[String] {
        &self.node_names
    }
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_ids.get(name).copied()
    }
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    pub fn trace(&self) -> &TraceLog {
        &self.trace
    }
    pub fn trace_mut(&mut self) -> &mut TraceLog {
        &mut self.trace
    }
    pub fn digest(&self) -> String {
        self.trace.digest_hex()
    }
    pub fn check_results(&self) -> Vec<CheckResult> {
        self.checkers.results()
    }
    pub fn node_status(&self, node: NodeId) -> Option<NodeStatus> {
        self.nodes.get(node.index()).map(|runtime| runtime.status)
    }
    /// The component summary metrics of a node at the current time.
    pub fn node_summary(&self, node: NodeId) -> Vec<(&'static str, f64)> {
        self.nodes
            .get(node.index())
            .map(|runtime| runtime.component.summary(self.now))
            .unwrap_or_default()
    }

    /// Processes one event. Returns `Some(reason)` once the run is over.
    pub fn step(&mut self) -> Option<StopReason> {
        if self.finished.is_some() {
            return self.finished;
        }
        if self.events_processed >= self.max_events {
            return self.stop(StopReason::EventBudgetExhausted);
        }
        if self.queue.len() > MAX_PENDING_EVENTS {
            return self.stop(StopReason::PendingEventLimit);
        }
        let Some(next) = self.queue.peek() else {
            self.now = self.end;
            return self.stop(StopReason::ReachedEnd);
        };
        if next.time > self.end {
            self.now = self.end;
            return self.stop(StopReason::ReachedEnd);
        }
        let Some(scheduled) = self.queue.pop() else {
            return self.finished;
        };
        let Some(event) = self.event_slots[scheduled.slot as usize].take() else {
            return self.finished;
        };
        self.free_slots.push(scheduled.slot);
        self.now = scheduled.time;
        self.events_processed += 1;
        self.handle(event);
        None
    }

    /// Runs at most `event_budget` events, whatever their times.
    pub fn run_for(&mut self, event_budget: u64) -> RunProgress {
        let before = self.events_processed;
        for _ in 0..event_budget {
            if self.step().is_some() {
                break;
            }
        }
        self.progress(before)
    }

    /// Runs every event up to and including `target`, but at most
    /// `event_budget` of them (the UI's per-frame bound). When all were run,
    /// the clock moves to `target` even if nothing happened there.
    pub fn advance(&mut self, target: SimTime, event_budget: u64) -> RunProgress {
        let before = self.events_processed;
        let target = target.min(self.end);
        let mut budget = event_budget;
        while self.finished.is_none() && budget > 0 {
            match self.queue.peek() {
                Some(next) if next.time <= target => {
                    self.step();
                    budget -= 1;
                }
                _ => {
                    self.now = self.now.max(target);
                    if target >= self.end {
                        self.step();
                    }
                    break;
                }
            }
        }
        self.progress(before)
    }

    /// Runs to `target` (bounded only by the scenario's event budget).
    pub fn run_until(&mut self, target: SimTime) -> RunProgress {
        self.advance(target, u64::MAX)
    }

    /// Runs to the end of the scenario.
    pub fn run_to_end(&mut self) -> RunProgress {
        let before = self.events_processed;
        while self.step().is_none() {}
        self.progress(before)
    }

    fn progress(&self, before: u64) -> RunProgress {
        RunProgress {
            events_processed: self.events_processed - before,
            now: self.now,
            finished: self.finished,
        }
    }

    fn stop(&mut self, reason: StopReason) -> Option<StopReason> {
        for (name, violation) in self.checkers.finish(self.now) {
            self.record_violation(name, &violation);
        }
        self.record(TraceKind::RunEnd {
            reason: reason.as_str().to_string(),
        });
        self.finished = Some(reason);
        self.finished
    }

    /// Applies a fault now (at the start of the next millisecond, so that a
    /// replay of the recorded plan reproduces this run exactly).
    pub fn inject(&mut self, action: FaultAction) -> Result<SimTime, Problems> {
        resolve_fault(&action, &self.scenario, &self.node_ids)?;
        let at_ms = self.now.as_micros() / 1_000 + 1;
        let at = SimTime::from_millis(at_ms);
        self.live_faults.push(ScheduledFault {
            at_ms,
            action: action.clone(),
        });
        self.schedule(
            at,
            EventClass::Fault,
            Event::Fault {
                action,
                origin: FaultOrigin::Live,
            },
        );
        Ok(at)
    }

    /// Faults injected live so far, for adding to the scenario's timeline.
    pub fn live_faults(&self) -> &[ScheduledFault] {
        &self.live_faults
    }

    // ---- event handling -----------------------------------------------------

    fn handle(&mut self, event: Event) {
        match event {
            Event::Start(node) => {
                if self.nodes[node.index()].status == NodeStatus::Up {
                    self.record(TraceKind::NodeStart { node });
                    self.invoke(node, |component, ctx| component.on_start(ctx));
                }
            }
            Event::Deliver(envelope) => self.deliver(envelope),
            Event::Timer {
                node,
                timer,
                tag,
                incarnation,
            } => {
                let runtime = &mut self.nodes[node.index()];
                if self.cancelled_timers.remove(&timer)
                    || runtime.incarnation != incarnation
                    || runtime.status == NodeStatus::Down
                {
                    return;
                }
                if runtime.status == NodeStatus::Paused {
                    runtime.paused_events.push_back(Event::Timer {
                        node,
                        timer,
                        tag,
                        incarnation,
                    });
                    return;
                }
                self.record(TraceKind::Timer {
                    node,
                    timer: timer.0,
                });
                self.invoke(node, |component, ctx| component.on_timer(ctx, tag));
            }
            Event::Fault { action, origin } => self.apply_fault(action, origin),
            Event::Sample => {
                // Read-only views: sampling never changes the run (digests).
                let gauges: Vec<NodeGauges> = self
                    .nodes
                    .iter()
                    .map(|runtime| NodeGauges {
                        queue_depth: runtime.component.view().queue_depth,
                        // A crashed consumer reports nothing, as in the snapshot.
                        consumer_lag: if runtime.status == NodeStatus::Down {
                            None
                        } else {
                            runtime.component.live_status().consumer_lag
                        },
                    })
                    .collect();
                self.metrics.sample(self.now, &gauges);
                let next = self.now.plus(self.metrics.interval);
                if next <= self.end {
                    self.schedule(next, EventClass::Sample, Event::Sample);
                }
            }
        }
    }

    fn deliver(&mut self, envelope: Envelope) {
        let (from, to) = (envelope.from, envelope.to);
        let status = self.nodes[to.index()].status;
        let reason = if status == NodeStatus::Down {
            Some(DropReason::NodeDown)
        } else if self.network.is_blocked(from, to) {
            // The partition formed while the message was in flight.
            Some(DropReason::Partition)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.in_flight -= 1;
            self.count_link(from, to, |link| link.record_dropped());
            self.record(TraceKind::Drop {
                message: envelope.id,
                from,
                to,
                reason,
            });
            return;
        }
        if status == NodeStatus::Paused {
            self.nodes[to.index()]
                .paused_events
                .push_back(Event::Deliver(envelope));
            return;
        }
        self.in_flight -= 1;
        let delay = self.now.since(envelope.sent_at);
        self.count_link(from, to, |link| link.record_delivered(delay));
        self.record(TraceKind::Deliver {
            message: envelope.id,
            from,
            to,
            class: envelope.payload.class(),
            payload: envelope.payload.clone(),
            duplicate: envelope.duplicate,
        });
        self.invoke(to, |component, ctx| component.on_message(ctx, &envelope));
    }

    fn count_link(
        &mut self,
        from: NodeId,
        to: NodeId,
        update: impl FnOnce(&mut crate::metrics::LinkMetrics),
    ) {
        if let Some(index) = self.network.link_index(from, to) {
            update(&mut self.metrics.links[index]);
        }
    }

    /// Calls a component handler with a fresh context, then applies its effects.
    fn invoke(&mut self, node: NodeId, handler: impl FnOnce(&mut dyn Component, &mut Context<'_>)) {
        let mut effects = std::mem::take(&mut self.effects);
        {
            let runtime = &mut self.nodes[node.index()];
            let local_clock = runtime.clock.read(self.now);
            let mut ctx = Context::new(
                node,
                self.now,
                local_clock,
                runtime.slow_factor,
                &mut runtime.rng,
                &mut effects,
                &mut self.next_timer_id,
            );
            handler(runtime.component.as_mut(), &mut ctx);
        }
        let alive = self.nodes[node.index()].status != NodeStatus::Down;
        for effect in effects.drain(..) {
            self.apply_effect(node, effect, alive);
        }
        self.effects = effects;
    }

    fn apply_effect(&mut self, node: NodeId, effect: Effect, alive: bool) {
        match effect {
            Effect::Send {
                to,
                payload,
                size_bytes,
            } if alive => {
                let envelope = Envelope {
                    id: MessageId(self.next_message_id),
                    from: node,
                    to,
                    sent_at: self.now,
                    size_bytes,
                    payload,
                    duplicate: false,
                };
                self.next_message_id += 1;
                self.send(envelope);
            }
            Effect::SetTimer { timer, after, tag } if alive => {
                let incarnation = self.nodes[node.index()].incarnation;
                self.schedule(
                    self.now.plus(after),
                    EventClass::Normal,
                    Event::Timer {
                        node,
                        timer,
                        tag,
                        incarnation,
                    },
                );
            }
            Effect::CancelTimer { timer } if alive => {
                self.cancelled_timers.insert(timer);
            }
            Effect::Send { .. } | Effect::SetTimer { .. } | Effect::CancelTimer { .. } => {}
            Effect::State { text } => self.record(TraceKind::State { node, text }),
            Effect::Operation {
                operation,
                phase,
                detail,
            } => self.record(TraceKind::Operation {
                node,
                operation,
                phase,
                detail,
            }),
            Effect::Metric(MetricEffect::Completed { latency }) => {
                self.metrics.record_completion(node.index(), latency)
            }
            Effect::Metric(MetricEffect::Error { kind }) => {
                self.metrics.record_error(node.index(), kind)
            }
            Effect::Fact(fact) => self.record(TraceKind::Fact { node, fact }),
        }
    }

    fn send(&mut self, envelope: Envelope) {
        let (from, to, id) = (envelope.from, envelope.to, envelope.id);
        self.record(TraceKind::Send {
            message: id,
            from,
            to,
            class: envelope.payload.class(),
            payload: envelope.payload.clone(),
        });
        self.count_link(from, to, |link| link.record_sent());
        if self.in_flight as usize >= MAX_IN_FLIGHT_MESSAGES {
            self.count_link(from, to, |link| link.record_dropped());
            self.record(TraceKind::Drop {
                message: id,
                from,
                to,
                reason: DropReason::InFlightLimit,
            });
            return;
        }
        self.route(envelope);
    }

    /// Routes a message through the network (at send, or on release of a hold).
    fn route(&mut self, envelope: Envelope) {
        let (from, to, id) = (envelope.from, envelope.to, envelope.id);
        match self.network.route(self.now, &envelope) {
            Route::Dropped(reason) => {
                self.count_link(from, to, |link| link.record_dropped());
                self.record(TraceKind::Drop {
                    message: id,
                    from,
                    to,
                    reason,
                });
            }
            Route::Held => {
                self.in_flight += 1;
                self.record(TraceKind::Hold {
                    message: id,
                    from,
                    to,
                });
            }
            Route::Deliver { at, duplicate_at } => {
                self.in_flight += 1;
                if let Some(duplicate_at) = duplicate_at {
                    self.in_flight += 1;
                    self.record(TraceKind::Duplicate {
                        message: id,
                        from,
                        to,
                    });
                    let copy = Envelope {
                        duplicate: true,
                        ..envelope.clone()
                    };
                    self.schedule(duplicate_at, EventClass::Normal, Event::Deliver(copy));
                }
                self.schedule(at, EventClass::Normal, Event::Deliver(envelope));
            }
        }
    }

    fn apply_fault(&mut self, action: FaultAction, origin: FaultOrigin) {
        let Ok(resolved) = resolve_fault(&action, &self.scenario, &self.node_ids) else {
            // Validated at load or injection; unreachable in practice, but a
            // fault naming nothing must never take the run down.
            return;
        };
        self.record(TraceKind::Fault {
            origin,
            text: action.to_string(),
            nodes: resolved.nodes(),
        });
        match resolved {
            ResolvedFault::Crash(node) => self.crash(node),
            ResolvedFault::Restart(node) => {
                if self.nodes[node.index()].status == NodeStatus::Down {
                    self.nodes[node.index()].status = NodeStatus::Up;
                    self.record(TraceKind::NodeStart { node });
                    self.invoke(node, |component, ctx| component.on_restart(ctx));
                }
            }
            ResolvedFault::Pause(node) => {
                if self.nodes[node.index()].status == NodeStatus::Up {
                    self.nodes[node.index()].status = NodeStatus::Paused;
                }
            }
            ResolvedFault::Resume(node) => {
                let runtime = &mut self.nodes[node.index()];
                if runtime.status == NodeStatus::Paused {
                    runtime.status = NodeStatus::Up;
                    // Replay what queued up during the pause, in arrival order, now.
                    for event in std::mem::take(&mut runtime.paused_events) {
                        self.schedule(self.now, EventClass::Normal, event);
                    }
                }
            }
            ResolvedFault::Slow(node, factor) => self.nodes[node.index()].slow_factor = factor,
            ResolvedFault::ClockSkew(node, offset_ms, drift_ppm) => {
                self.nodes[node.index()].clock = NodeClock {
                    offset_us: libm::round(offset_ms * 1_000.0) as i64,
                    drift_ppm,
                    since: self.now,
                };
            }
            ResolvedFault::Partition(groups) => self.network.partition(&groups),
            ResolvedFault::PartitionOneWay(from, to) => self.network.partition_one_way(&from, &to),
            ResolvedFault::Heal => self.network.heal(),
            ResolvedFault::Hold(from, to) => self.network.hold(from, to),
            ResolvedFault::Release(from, to) => {
                for envelope in self.network.release(from, to) {
                    self.in_flight -= 1;
                    self.route(envelope);
                }
            }
            ResolvedFault::SetLink(from, to, network) => {
                self.network.set_network(from, to, network)
            }
        }
    }

    fn crash(&mut self, node: NodeId) {
        let runtime = &mut self.nodes[node.index()];
        if runtime.status == NodeStatus::Down {
            return;
        }
        runtime.status = NodeStatus::Down;
        runtime.incarnation += 1;
        let buffered = std::mem::take(&mut runtime.paused_events);
        for event in buffered {
            if let Event::Deliver(envelope) = event {
                self.in_flight -= 1;
                self.count_link(envelope.from, envelope.to, |link| link.record_dropped());
                self.record(TraceKind::Drop {
                    message: envelope.id,
                    from: envelope.from,
                    to: envelope.to,
                    reason: DropReason::NodeDown,
                });
            }
        }
        self.invoke(node, |component, ctx| component.on_crash(ctx));
    }

    // ---- trace ----------------------------------------------------------------

    fn record(&mut self, kind: TraceKind) {
        let event = TraceEvent {
            seq: self.trace.count(),
            time: self.now,
            kind,
        };
        if let TraceKind::Fault { text, .. } = &event.kind {
            self.push_timeline_mark(TimelineMarkKind::Fault, event.seq, text.clone());
        }
        let first_violations = self.checkers.observe(&event);
        if let Some(timelines) = self.transaction_timelines.as_mut() {
            timelines.observe(&event);
        }
        self.trace.append(event, &self.node_names);
        for (name, violation) in first_violations {
            self.record_violation(name, &violation);
        }
    }

    /// Violations go into the trace but are not fed back to checkers.
    fn record_violation(&mut self, name: &str, violation: &Violation) {
        let detail = &violation.detail;
        // The mark sits at the violation's first moment, which a checker
        // deciding at the end of the run may date earlier than now.
        if self.timeline_marks.len() < MAX_TIMELINE_MARKS {
            self.timeline_marks.push(TimelineMark {
                at_us: violation.time.as_micros(),
                seq: violation.event_seq.unwrap_or(self.trace.count()),
                kind: TimelineMarkKind::Violation,
                text: format!("{name}: {detail}"),
            });
        }
        let event = TraceEvent {
            seq: self.trace.count(),
            time: self.now,
            kind: TraceKind::CheckViolation {
                check: name.to_string(),
                text: detail.to_string(),
            },
        };
        self.trace.append(event, &self.node_names);
    }

    // ---- views ----------------------------------------------------------------

    pub fn snapshot(&self) -> Snapshot {
        let nodes = self
            .nodes
            .iter()
            .map(|runtime| NodeSnapshot {
                id: runtime.name.clone(),
                kind: runtime.kind.to_string(),
                status: runtime.status,
                slow_factor: runtime.slow_factor,
                clock_offset_ms: (runtime.clock.read(self.now).as_micros() as f64
                    - self.now.as_micros() as f64)
                    / 1_000.0,
                view: runtime.component.view(),
                // A crashed process leads nothing and reports nothing.
                live: if runtime.status == NodeStatus::Down {
                    NodeLiveStatus::default()
                } else {
                    runtime.component.live_status()
                },
                partitioned: false,
            })
            .collect::<Vec<_>>();
        let mut nodes = nodes;
        for link in self.network.links() {
            if self.network.is_blocked(link.a, link.b) || self.network.is_blocked(link.b, link.a) {
                nodes[link.a.index()].partitioned = true;
                nodes[link.b.index()].partitioned = true;
            }
        }
        let links = self
            .network
            .links()
            .iter()
            .map(|link| LinkSnapshot {
                from: self.node_names[link.a.index()].clone(),
                to: self.node_names[link.b.index()].clone(),
                cut_forward: self.network.is_blocked(link.a, link.b),
                cut_backward: self.network.is_blocked(link.b, link.a),
                held_forward: self.network.is_held(link.a, link.b),
                held_backward: self.network.is_held(link.b, link.a),
                loss_probability: link.network.loss_probability,
            })
            .collect();
        Snapshot {
            now_us: self.now.as_micros(),
            end_us: self.end.as_micros(),
            seed: self.seed,
            events_processed: self.events_processed,
            trace_events: self.trace.count(),
            in_flight: self.in_flight,
            finished: self.finished,
            nodes,
            links,
            checks: self.checkers.results(),
            digest: self.trace.digest_hex(),
        }
    }

    /// The inspection panels' data now (see `crate::inspect`): bounded, but
    /// it walks every node, so hosts call it only while a panel is open and
    /// at most every `inspect::INSPECTION_MIN_INTERVAL_MS`, never per event.
    pub fn inspect(&self) -> Inspection {
        let nodes: Vec<InspectedNode<'_>> = self
            .nodes
            .iter()
            .map(|runtime| InspectedNode {
                name: &runtime.name,
                kind: runtime.kind,
                up: runtime.status != NodeStatus::Down,
                inspection: runtime.component.inspect(),
            })
            .collect();
        let empty = TransactionTimelines::new();
        build_inspection(
            self.now.as_micros(),
            &nodes,
            self.transaction_timelines.as_ref().unwrap_or(&empty),
            &self.node_names,
        )
    }

    /// The last `limit` trace lines, oldest first (formatted on demand).
    pub fn recent_trace_lines(&self, limit: usize) -> Vec<String> {
        let recent = self.trace.recent();
        let skip = recent.len().saturating_sub(limit);
        recent
            .skip(skip)
            .map(|event| event.line(&self.node_names))
            .collect()
    }
}

// ---- live view ----------------------------------------------------------------

impl Simulator {
    fn push_timeline_mark(&mut self, kind: TimelineMarkKind, seq: u64, text: String) {
        if self.timeline_marks.len() < MAX_TIMELINE_MARKS {
            self.timeline_marks.push(TimelineMark {
                at_us: self.now.as_micros(),
                seq,
                kind,
                text,
            });
        }
    }

    /// Faults applied and first violations so far, in trace order.
    pub fn timeline_marks(&self) -> &[TimelineMark] {
        &self.timeline_marks
    }

    /// The messages on the wire now: the `limit` oldest by id, plus how many
    /// more there are. Held messages are not on the wire and not listed.
    pub fn in_flight_messages(&self, limit: usize) -> InFlightMessages {
        let mut shown: Vec<InFlightMessage> = self
            .queue
            .iter()
            .filter_map(|scheduled| {
                let Some(Event::Deliver(envelope)) = &self.event_slots[scheduled.slot as usize]
                else {
                    return None;
                };
                Some(InFlightMessage {
                    id: envelope.id.0,
                    from: envelope.from.index() as u32,
                    to: envelope.to.index() as u32,
                    class: envelope.payload.class(),
                    sent_us: envelope.sent_at.as_micros(),
                    deliver_us: scheduled.time.as_micros(),
                })
            })
            .collect();
        let total = shown.len();
        let mut per_link: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        for message in &shown {
            *per_link.entry((message.from, message.to)).or_default() += 1;
        }
        if total > limit {
            shown.select_nth_unstable_by_key(limit, |message| (message.id, message.deliver_us));
            shown.truncate(limit);
        }
        shown.sort_unstable_by_key(|message| (message.id, message.deliver_us));
        InFlightMessages {
            shown,
            hidden: (total - total.min(limit)) as u64,
            per_link: per_link
                .into_iter()
                .map(|((from, to), messages)| (from, to, messages))
                .collect(),
        }
    }

    /// The declared links' end nodes `(a, b)` as indices, in link order (the
    /// order of `metrics().links`).
    pub fn link_endpoints(&self) -> Vec<(u32, u32)> {
        self.network
            .links()
            .iter()
            .map(|link| (link.a.0, link.b.0))
            .collect()
    }

    /// Processes events one at a time until a new timeline mark of `kind`
    /// appears (then stops just after it), the run ends, or `max_events`
    /// have run. Returns the events processed and whether the mark appeared.
    pub fn run_to_next_mark(&mut self, kind: TimelineMarkKind, max_events: u64) -> (u64, bool) {
        let mut seen = self.timeline_marks.len();
        let mut events = 0;
        while events < max_events && self.finished.is_none() {
            let before = self.events_processed;
            self.step();
            events += self.events_processed - before;
            let found = self.timeline_marks[seen..]
                .iter()
                .any(|mark| mark.kind == kind);
            if found {
                return (events, true);
            }
            seen = self.timeline_marks.len();
            if self.events_processed == before {
                break;
            }
        }
        (events, false)
    }
}

// ---- live charts ----------------------------------------------------------------

/// `result[i]`: node i is an entry node, i.e. no declared link points into it
/// (load generators, producers, clients). The whole-system chart counts their
/// completions only, so a request crossing three services counts once. When
/// every node has an inbound link (a ring), every node counts.
fn entry_nodes(scenario: &Scenario, node_ids: &BTreeMap<String, NodeId>) -> Vec<bool> {
    let mut entry = vec![true; scenario.topology.nodes.len()];
    for link in &scenario.topology.links {
        if let Some(to) = node_ids.get(&link.to) {
            entry[to.index()] = false;
        }
    }
    if !entry.contains(&true) {
        entry.fill(true);
    }
    entry
}

impl Simulator {
    /// Resolves a chart subject against this run: a node or link the run
    /// does not have falls back to the whole system.
    pub fn resolve_chart_subject(&self, subject: &ChartSubject) -> ResolvedChartSubject {
        match subject {
            ChartSubject::System => ResolvedChartSubject::System,
            ChartSubject::Node { id } => self
                .node_id(id)
                .map_or(ResolvedChartSubject::System, |node| {
                    ResolvedChartSubject::Node(node.index())
                }),
            ChartSubject::Link { from, to } => match (self.node_id(from), self.node_id(to)) {
                (Some(from), Some(to)) => self
                    .network
                    .link_index(from, to)
                    .map_or(ResolvedChartSubject::System, ResolvedChartSubject::Link),
                _ => ResolvedChartSubject::System,
            },
        }
    }

    /// The samples of `subject`'s series taken after `after_us`, at most
    /// `limit` (see `Metrics::chart_samples`).
    pub fn chart_samples(
        &self,
        subject: &ChartSubject,
        after_us: Option<u64>,
        limit: usize,
    ) -> ChartSeriesSamples {
        self.metrics
            .chart_samples(self.resolve_chart_subject(subject), after_us, limit)
    }
}
