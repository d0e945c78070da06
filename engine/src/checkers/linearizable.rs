//! Linearizability of single-register histories (Wing & Gong's search with Lowe's memoisation, as in Knossos and Porcupine), bounded.
//!
//! `check_register` decides whether a history of read/write/cas operations on
//! one register has a legal sequential order that respects real time: every
//! `ok` operation takes effect between its invocation and its completion; an
//! `info` operation (outcome unknown) takes effect after its invocation or
//! never; `fail` operations are left out. The search remembers every (set of
//! linearized operations, register value) it has seen, so it is exponential
//! only in the number of operations that overlap in time. Both the history
//! size and the search steps are bounded: beyond them the answer is
//! `TooLarge`, never a hang.
//!
//! `RaftKvLinearizable` runs it per key over the `raft_kv_client` histories
//! in the trace, at the end of the run.

use super::{Checker, Property, Violation};
use crate::message::NodeId;
use crate::time::SimTime;
use crate::trace::{OperationPhase, TraceEvent, TraceKind};
use std::collections::{BTreeMap, BTreeSet};

/// Operations recorded per key at most; longer histories are `TooLarge`.
pub const MAX_LINEARIZABILITY_OPERATIONS_PER_KEY: usize = 5_000;
/// Search steps per key at most; a search that needs more is `TooLarge`.
pub const MAX_LINEARIZABILITY_SEARCH_STEPS: u64 = 2_000_000;

/// What an operation did to the register (reads with the value they saw).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOperation {
    Read(Option<u64>),
    Write(u64),
    Cas { expected: u64, new: u64 },
}

impl RegisterOperation {
    /// The register after this operation, or None if it cannot happen in `state`.
    fn step(self, state: Option<u64>) -> Option<Option<u64>> {
        match self {
            RegisterOperation::Read(seen) => (seen == state).then_some(state),
            RegisterOperation::Write(value) => Some(Some(value)),
            RegisterOperation::Cas { expected, new } => {
                (state == Some(expected)).then_some(Some(new))
            }
        }
    }
}

/// One operation of a history: `invoked` and `completed` are positions in
/// real-time order (e.g. trace sequence numbers); `completed` None means
/// the outcome is unknown (`info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryOperation {
    pub operation: RegisterOperation,
    pub invoked: u64,
    pub completed: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No legal order exists; `stuck` is the operation that could not be
    /// placed before it completed, after the longest legal prefix found.
    NotLinearizable {
        stuck: usize,
    },
    /// Over the size or search bound: not decided.
    TooLarge {
        operations: usize,
        steps: u64,
    },
}

#[derive(Clone, Copy)]
enum EntryKind {
    Call,
    Return,
}

/// Decides a single-register history starting from `initial`.
pub fn check_register(history: &[HistoryOperation], initial: Option<u64>) -> Verdict {
    check_register_bounded(history, initial, MAX_LINEARIZABILITY_SEARCH_STEPS)
}

pub fn check_register_bounded(
    history: &[HistoryOperation],
    initial: Option<u64>,
    max_steps: u64,
) -> Verdict {
    if history.len() > MAX_LINEARIZABILITY_OPERATIONS_PER_KEY {
        return Verdict::TooLarge {
            operations: history.len(),
            steps: 0,
        };
    }
    // Calls and returns in real-time order; entry 0 and the last are sentinels.
    let mut events: Vec<(u64, EntryKind, usize)> = Vec::new();
    for (index, operation) in history.iter().enumerate() {
        events.push((operation.invoked, EntryKind::Call, index));
        if let Some(completed) = operation.completed {
            events.push((completed, EntryKind::Return, index));
        }
    }
    events.sort_by_key(|(time, kind, index)| (*time, matches!(kind, EntryKind::Call), *index));
    let count = events.len();
    let end = count + 1;
    let mut next: Vec<usize> = (1..=end).chain([end]).collect();
    let mut prev: Vec<usize> = [0].into_iter().chain(0..=count).collect();
    let entry = |position: usize| &events[position - 1];
    let mut call_position = vec![0usize; history.len()];
    let mut return_position = vec![None; history.len()];
    for position in 1..=count {
        let (_, kind, index) = *entry(position);
        match kind {
            EntryKind::Call => call_position[index] = position,
            EntryKind::Return => return_position[index] = Some(position),
        }
    }
    let unlink = |position: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>| {
        let (before, after) = (prev[position], next[position]);
        next[before] = after;
        prev[after] = before;
    };
    let relink = |position: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>| {
        let (before, after) = (prev[position], next[position]);
        next[before] = position;
        prev[after] = position;
    };

    let words = history.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut seen: BTreeSet<(Vec<u64>, Option<u64>)> = BTreeSet::new();
    let mut stack: Vec<(usize, Option<u64>)> = Vec::new();
    let mut state = initial;
    let mut cursor = next[0];
    let mut steps = 0u64;
    let mut deepest: Option<(usize, usize)> = None;
    loop {
        steps += 1;
        if steps > max_steps {
            return Verdict::TooLarge {
                operations: history.len(),
                steps,
            };
        }
        if cursor == end {
            return Verdict::Linearizable;
        }
        let (_, kind, index) = *entry(cursor);
        match kind {
            EntryKind::Call => {
                if let Some(new_state) = history[index].operation.step(state) {
                    linearized[index / 64] |= 1 << (index % 64);
                    if seen.insert((linearized.clone(), new_state)) {
                        stack.push((index, state));
                        state = new_state;
                        unlink(call_position[index], &mut next, &mut prev);
                        if let Some(position) = return_position[index] {
                            unlink(position, &mut next, &mut prev);
                        }
                        cursor = next[0];
                        continue;
                    }
                    linearized[index / 64] &= !(1 << (index % 64));
                }
                cursor = next[cursor];
            }
            EntryKind::Return => {
                // `index` completed before it could be placed: undo the last
                // choice. The operation blocked after the longest legal prefix
                // is the one a student should look at.
                if deepest.is_none_or(|(depth, _)| stack.len() > depth) {
                    deepest = Some((stack.len(), index));
                }
                let Some((undone, previous_state)) = stack.pop() else {
                    return Verdict::NotLinearizable {
                        stuck: deepest.map_or(index, |(_, stuck)| stuck),
                    };
                };
                linearized[undone / 64] &= !(1 << (undone % 64));
                state = previous_state;
                if let Some(position) = return_position[undone] {
                    relink(position, &mut next, &mut prev);
                }
                relink(call_position[undone], &mut next, &mut prev);
                cursor = next[call_position[undone]];
            }
        }
    }
}

/// Parses the client's operation text (`read k=0`, `read k=0 v=3`,
/// `write k=0 v=3`, `cas k=0 3->4`): (key, operation kind, values).
fn parse_detail(detail: &str) -> Option<(u32, &str, Option<u64>, Option<u64>)> {
    let mut words = detail.split(' ');
    let kind = words.next()?;
    let key = words.next()?.strip_prefix("k=")?.parse().ok()?;
    match kind {
        "read" => {
            let value = words
                .next()
                .and_then(|word| word.strip_prefix("v="))
                .and_then(|value| value.parse().ok());
            Some((key, kind, value, None))
        }
        "write" => {
            let value = words.next()?.strip_prefix("v=")?.parse().ok()?;
            Some((key, kind, Some(value), None))
        }
        "cas" => {
            let (expected, new) = words.next()?.split_once("->")?;
            Some((key, kind, expected.parse().ok(), new.parse().ok()))
        }
        _ => None,
    }
}

#[derive(Clone)]
struct Pending {
    key: u32,
    invoked: u64,
    detail: String,
}

/// Every key's history of every `raft_kv_client` is linearizable (decided at the end of the run).
#[derive(Clone)]
pub struct RaftKvLinearizable {
    clients: BTreeSet<NodeId>,
    pending: BTreeMap<(NodeId, u64), Pending>,
    /// Per key: operations with their text (for the violation).
    histories: BTreeMap<u32, Vec<(HistoryOperation, String)>>,
    too_large: bool,
}

impl RaftKvLinearizable {
    pub const NAME: &'static str = "raft_kv_linearizable";
    pub fn new(clients: BTreeSet<NodeId>) -> Self {
        RaftKvLinearizable {
            clients,
            pending: BTreeMap::new(),
            histories: BTreeMap::new(),
            too_large: false,
        }
    }
}

impl Checker for RaftKvLinearizable {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    /// Judged over the whole history when the run ends.
    fn decided_at_end(&self) -> bool {
        true
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Key-value reads, writes and cas are linearizable per key (WGL search at the end of the run; histories over the size bound are not decided and pass)"
    }
    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        let TraceKind::Operation {
            node,
            operation,
            phase,
            detail,
        } = &event.kind
        else {
            return;
        };
        if !self.clients.contains(node) || self.too_large {
            return;
        }
        match phase {
            OperationPhase::Invoke => {
                if self.pending.len() >= MAX_LINEARIZABILITY_OPERATIONS_PER_KEY {
                    self.too_large = true;
                    return;
                }
                if let Some((key, ..)) = parse_detail(detail) {
                    self.pending.insert(
                        (*node, *operation),
                        Pending {
                            key,
                            invoked: event.seq,
                            detail: detail.clone(),
                        },
                    );
                }
            }
            OperationPhase::Fail => {
                self.pending.remove(&(*node, *operation));
            }
            OperationPhase::Ok | OperationPhase::Info => {
                let Some(pending) = self.pending.remove(&(*node, *operation)) else {
                    return;
                };
                let ok = *phase == OperationPhase::Ok;
                let text = if ok { detail } else { &pending.detail };
                let Some((_, kind, first, second)) = parse_detail(text) else {
                    return;
                };
                let operation = match (kind, first, second) {
                    ("read", value, _) if ok => RegisterOperation::Read(value),
                    ("read", _, _) => return, // an unanswered read changes nothing
                    ("write", Some(value), _) => RegisterOperation::Write(value),
                    ("cas", Some(expected), Some(new)) => RegisterOperation::Cas { expected, new },
                    _ => return,
                };
                let history = self.histories.entry(pending.key).or_default();
                if history.len() >= MAX_LINEARIZABILITY_OPERATIONS_PER_KEY {
                    self.too_large = true;
                    return;
                }
                history.push((
                    HistoryOperation {
                        operation,
                        invoked: pending.invoked,
                        completed: ok.then_some(event.seq),
                    },
                    if ok {
                        text.clone()
                    } else {
                        format!("{text} (info)")
                    },
                ));
            }
        }
    }
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        if self.too_large {
            return;
        }
        // Operations still open at the end are `info`: they may have happened.
        for pending in std::mem::take(&mut self.pending).into_values() {
            if let Some((key, kind, first, second)) = parse_detail(&pending.detail) {
                let operation = match (kind, first, second) {
                    ("write", Some(value), _) => RegisterOperation::Write(value),
                    ("cas", Some(expected), Some(new)) => RegisterOperation::Cas { expected, new },
                    _ => continue,
                };
                self.histories.entry(key).or_default().push((
                    HistoryOperation {
                        operation,
                        invoked: pending.invoked,
                        completed: None,
                    },
                    format!("{} (open at the end)", pending.detail),
                ));
            }
        }
        for (key, history) in &self.histories {
            let operations: Vec<HistoryOperation> = history.iter().map(|(op, _)| *op).collect();
            if let Verdict::NotLinearizable { stuck } = check_register(&operations, None) {
                violations.push(Violation {
                    time: end,
                    event_seq: history[stuck].0.completed,
                    detail: format!(
                        "key {key}: `{}` cannot be placed in any order of the operations concurrent with it ({} operations on the key)",
                        history[stuck].1,
                        history.len()
                    ),
                    messages: Vec::new(),
                    nodes: self.clients.iter().copied().collect(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(operation: RegisterOperation, invoked: u64, completed: u64) -> HistoryOperation {
        HistoryOperation {
            operation,
            invoked,
            completed: Some(completed),
        }
    }

    fn info(operation: RegisterOperation, invoked: u64) -> HistoryOperation {
        HistoryOperation {
            operation,
            invoked,
            completed: None,
        }
    }

    use RegisterOperation::{Cas, Read, Write};

    #[test]
    fn sequential_history_is_linearizable() {
        let history = [
            ok(Write(1), 0, 1),
            ok(Read(Some(1)), 2, 3),
            ok(
                Cas {
                    expected: 1,
                    new: 2,
                },
                4,
                5,
            ),
            ok(Read(Some(2)), 6, 7),
        ];
        assert_eq!(check_register(&history, None), Verdict::Linearizable);
    }

    #[test]
    fn stale_read_after_a_completed_write_is_not_linearizable() {
        let history = [
            ok(Write(1), 0, 1),
            ok(Write(2), 2, 3),
            ok(Read(Some(1)), 4, 5),
        ];
        assert_eq!(
            check_register(&history, None),
            Verdict::NotLinearizable { stuck: 2 }
        );
    }

    #[test]
    fn concurrent_write_may_be_seen_either_way() {
        // The read overlaps the write of 2: both 1 and 2 are legal answers.
        for seen in [1, 2] {
            let history = [
                ok(Write(1), 0, 1),
                ok(Write(2), 2, 6),
                ok(Read(Some(seen)), 3, 5),
            ];
            assert_eq!(
                check_register(&history, None),
                Verdict::Linearizable,
                "{seen}"
            );
        }
    }

    #[test]
    fn reads_that_go_back_in_time_are_not_linearizable() {
        // Both reads overlap the write, but once one saw 2, a later read cannot see 1.
        let history = [
            ok(Write(1), 0, 1),
            ok(Write(2), 2, 20),
            ok(Read(Some(2)), 3, 5),
            ok(Read(Some(1)), 6, 8),
        ];
        assert!(matches!(
            check_register(&history, None),
            Verdict::NotLinearizable { .. }
        ));
    }

    #[test]
    fn an_info_write_may_or_may_not_have_happened() {
        let happened = [info(Write(7), 0), ok(Read(Some(7)), 5, 6)];
        assert_eq!(check_register(&happened, None), Verdict::Linearizable);
        let did_not = [info(Write(7), 0), ok(Read(None), 5, 6)];
        assert_eq!(check_register(&did_not, None), Verdict::Linearizable);
        // But a value nobody wrote cannot be read.
        let invented = [info(Write(7), 0), ok(Read(Some(8)), 5, 6)];
        assert!(matches!(
            check_register(&invented, None),
            Verdict::NotLinearizable { .. }
        ));
    }

    #[test]
    fn a_cas_needs_the_expected_value() {
        let history = [
            ok(Write(1), 0, 1),
            ok(
                Cas {
                    expected: 3,
                    new: 4,
                },
                2,
                3,
            ),
        ];
        assert!(matches!(
            check_register(&history, None),
            Verdict::NotLinearizable { .. }
        ));
    }

    #[test]
    fn a_search_over_its_budget_reports_too_large_instead_of_hanging() {
        // Many overlapping writes and a read no order can explain: exhaustive.
        let mut history: Vec<HistoryOperation> = (0..40)
            .map(|value| ok(Write(value), value, 1_000))
            .collect();
        history.push(ok(Read(Some(99)), 500, 600));
        assert!(matches!(
            check_register_bounded(&history, None, 10_000),
            Verdict::TooLarge { .. }
        ));
    }
}
