//! The component contract: state machines that receive events and emit effects.
//!
//! A component never touches the network, the clock or another component. It
//! reads what `Context` offers (time, its own clock, its random stream) and
//! *requests* effects (send, set a timer, record a metric, log a state change).
//! The simulator applies them after the handler returns, which keeps every
//! component testable in isolation and the run deterministic.

use crate::message::{Envelope, NodeId, Payload};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use crate::trace::{Fact, OperationPhase};
use serde::{Deserialize, Serialize};

/// Identifies a timer; unique per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerId(pub u64);

/// A component's own meaning for a timer: a kind it defines and an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerTag {
    pub kind: u32,
    pub id: u64,
}

/// Metrics a component reports; the simulator aggregates them per node.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricEffect {
    /// One unit of work finished, taking `latency`.
    Completed { latency: SimDuration },
    /// A domain failure (timeout, rejection, error response), by kind.
    Error { kind: &'static str },
}

/// What a component asks the simulator to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send {
        to: NodeId,
        payload: Payload,
        size_bytes: u32,
    },
    SetTimer {
        timer: TimerId,
        after: SimDuration,
        tag: TimerTag,
    },
    CancelTimer {
        timer: TimerId,
    },
    State {
        text: String,
    },
    Operation {
        operation: u64,
        phase: OperationPhase,
        detail: String,
    },
    Metric(MetricEffect),
    /// A structured fact for checkers (see `trace::Fact`).
    Fact(Fact),
}

/// Everything a handler may read, and the sink for the effects it emits.
pub struct Context<'a> {
    node: NodeId,
    now: SimTime,
    local_clock: SimTime,
    slow_factor: f64,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect>,
    next_timer_id: &'a mut u64,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        node: NodeId,
        now: SimTime,
        local_clock: SimTime,
        slow_factor: f64,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect>,
        next_timer_id: &'a mut u64,
    ) -> Context<'a> {
        Context {
            node,
            now,
            local_clock,
            slow_factor,
            rng,
            effects,
            next_timer_id,
        }
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// True simulated time. Use it for the experiment's own schedule (workload
    /// windows) and for metrics; never as a node's notion of time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The node's own clock, which may be skewed or drifting. Anything a real
    /// node would timestamp (leases, IDs, last-write-wins) must use this.
    pub fn local_clock(&self) -> SimTime {
        self.local_clock
    }

    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Scales a service time by the node's slow-down factor (the `slow` fault).
    pub fn service_time(&self, nominal: SimDuration) -> SimDuration {
        if self.slow_factor == 1.0 {
            nominal
        } else {
            SimDuration::from_millis_f64(nominal.as_millis_f64() * self.slow_factor)
        }
    }

    pub fn send(&mut self, to: NodeId, payload: Payload, size_bytes: u32) {
        self.effects.push(Effect::Send {
            to,
            payload,
            size_bytes,
        });
    }

    pub fn set_timer(&mut self, after: SimDuration, tag: TimerTag) -> TimerId {
        let timer = TimerId(*self.next_timer_id);
        *self.next_timer_id += 1;
        self.effects.push(Effect::SetTimer { timer, after, tag });
        timer
    }

    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// A state change worth showing in the event log (leader elected, queue full…).
    pub fn state(&mut self, text: impl Into<String>) {
        self.effects.push(Effect::State { text: text.into() });
    }

    /// A client-visible operation in the history that checkers analyse.
    pub fn operation(&mut self, operation: u64, phase: OperationPhase, detail: impl Into<String>) {
        self.effects.push(Effect::Operation {
            operation,
            phase,
            detail: detail.into(),
        });
    }

    /// A structured fact for checkers (log appends, truncations, elections).
    /// Like `state`, it is recorded even from `on_crash`.
    pub fn fact(&mut self, fact: Fact) {
        self.effects.push(Effect::Fact(fact));
    }

    pub fn completed(&mut self, latency: SimDuration) {
        self.effects
            .push(Effect::Metric(MetricEffect::Completed { latency }));
    }

    pub fn error(&mut self, kind: &'static str) {
        self.effects
            .push(Effect::Metric(MetricEffect::Error { kind }));
    }
}

/// What the UI shows about a component at a glance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentView {
    /// Requests waiting (not yet in service).
    pub queue_depth: u64,
    /// Requests being served right now, or outstanding for a client.
    pub in_progress: u64,
    /// A short status such as `3/4 busy`.
    pub badge: String,
}

/// A simulated component. Handlers must be deterministic functions of their
/// inputs, their own state and `ctx.rng()`. Cloneable (all state is plain
/// data), so a whole run can be checkpointed for seeking.
pub trait Component: dyn_clone::DynClone {
    fn on_start(&mut self, ctx: &mut Context<'_>);
    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope);
    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag);
    /// The node crashed: drop volatile state. Only `state`, `operation` and
    /// metric effects are applied (a dead node cannot send or set timers).
    fn on_crash(&mut self, ctx: &mut Context<'_>);
    /// The node came back; by default it starts afresh from persisted state.
    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        self.on_start(ctx);
    }
    fn view(&self) -> ComponentView;
    /// Typed status for the live view's badges (crown, ISR, lag, breaker);
    /// components with nothing to say keep the default.
    fn live_status(&self) -> crate::live::NodeLiveStatus {
        crate::live::NodeLiveStatus::default()
    }
    /// Summary metrics for the run report, by name (e.g. `mean_wait_ms`).
    fn summary(&self, now: SimTime) -> Vec<(&'static str, f64)>;
    /// Typed, bounded data for the live view's inspection panels (partitions,
    /// queues, Raft state). Called only while a panel is open, a few times a
    /// second at most (see `crate::inspect`); components with nothing to show
    /// keep the default.
    fn inspect(&self) -> Option<crate::inspect::NodeInspection> {
        None
    }
}

dyn_clone::clone_trait_object!(Component);
