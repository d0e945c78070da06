//! Validation of `raft_node` and `raft_kv_client` properties and their member references.

use super::super::limits::*;
use super::super::{ComponentSpec, Node, RaftKvClientSpec, RaftNodeSpec};
use super::{Validator, check_probability};

impl<'a> Validator<'a> {
    /// Ranges of a raft_node's own properties.
    pub(super) fn raft_node(&mut self, properties: &str, spec: &RaftNodeSpec) {
        self.duration_ms(
            &format!("{properties}.election_timeout_min_ms"),
            spec.election_timeout_min_ms,
        );
        self.duration_ms(
            &format!("{properties}.election_timeout_max_ms"),
            spec.election_timeout_max_ms,
        );
        self.duration_ms(
            &format!("{properties}.heartbeat_interval_ms"),
            spec.heartbeat_interval_ms,
        );
        if spec.election_timeout_max_ms < spec.election_timeout_min_ms {
            self.problems.push(
                format!("{properties}.election_timeout_max_ms"),
                format!(
                    "expected at least election_timeout_min_ms ({}), found {}",
                    spec.election_timeout_min_ms, spec.election_timeout_max_ms
                ),
            );
        }
        if spec.heartbeat_interval_ms >= spec.election_timeout_min_ms {
            self.problems.push(
                format!("{properties}.heartbeat_interval_ms"),
                format!(
                    "expected less than election_timeout_min_ms ({}), found {}: followers would time out between heartbeats",
                    spec.election_timeout_min_ms, spec.heartbeat_interval_ms
                ),
            );
        }
        let ranges = [
            (
                "max_entries_per_append",
                spec.max_entries_per_append,
                MAX_RAFT_ENTRIES_PER_APPEND,
            ),
            (
                "max_inflight_appends",
                u64::from(spec.max_inflight_appends),
                u64::from(MAX_RAFT_INFLIGHT_APPENDS),
            ),
            (
                "max_uncommitted_entries",
                spec.max_uncommitted_entries,
                MAX_RAFT_UNCOMMITTED_ENTRIES,
            ),
            (
                "max_log_entries",
                spec.max_log_entries,
                MAX_RAFT_LOG_ENTRIES,
            ),
        ];
        for (name, value, max) in ranges {
            if value == 0 || value > max {
                self.problems.push(
                    format!("{properties}.{name}"),
                    format!("expected 1 to {max}, found {value}"),
                );
            }
        }
        if let Some(latency) = &spec.disk_write_latency {
            latency.validate(&format!("{properties}.disk_write_latency"), self.problems);
        }
        if spec.snapshot_threshold_entries > spec.max_log_entries {
            self.problems.push(
                format!("{properties}.snapshot_threshold_entries"),
                format!(
                    "expected 0 (never) to max_log_entries ({}), found {}",
                    spec.max_log_entries, spec.snapshot_threshold_entries
                ),
            );
        }
    }

    pub(super) fn raft_kv_client(&mut self, properties: &str, spec: &RaftKvClientSpec) {
        if spec.concurrency == 0 || spec.concurrency > MAX_RAFT_CLIENT_CONCURRENCY {
            self.problems.push(
                format!("{properties}.concurrency"),
                format!(
                    "expected 1 to {MAX_RAFT_CLIENT_CONCURRENCY}, found {}",
                    spec.concurrency
                ),
            );
        }
        if spec.max_attempts == 0 || spec.max_attempts > MAX_RAFT_CLIENT_ATTEMPTS {
            self.problems.push(
                format!("{properties}.max_attempts"),
                format!(
                    "expected 1 to {MAX_RAFT_CLIENT_ATTEMPTS}, found {}",
                    spec.max_attempts
                ),
            );
        }
        if spec.key_count == 0 {
            self.problems
                .push(format!("{properties}.key_count"), "expected at least 1 key");
        }
        if spec.value_count == 0 {
            self.problems.push(
                format!("{properties}.value_count"),
                "expected at least 1 value",
            );
        }
        check_probability(
            self.problems,
            format!("{properties}.read_fraction"),
            spec.read_fraction,
        );
        check_probability(
            self.problems,
            format!("{properties}.cas_fraction"),
            spec.cas_fraction,
        );
        if spec.read_fraction + spec.cas_fraction > 1.0 {
            self.problems.push(
                format!("{properties}.cas_fraction"),
                format!(
                    "expected read_fraction + cas_fraction at most 1, found {}",
                    spec.read_fraction + spec.cas_fraction
                ),
            );
        }
        self.duration_ms(
            &format!("{properties}.request_timeout_ms"),
            spec.request_timeout_ms,
        );
        self.duration_ms(
            &format!("{properties}.retry_backoff_ms"),
            spec.retry_backoff_ms,
        );
        let think_path = format!("{properties}.think_time");
        spec.think_time.validate(&think_path, self.problems);
        if spec.think_time.mean_ms().is_some_and(|mean| mean < 0.01) {
            self.problems
                .push(think_path, "expected a mean think time of at least 0.01 ms");
        }
    }

    /// Members name raft_node nodes, without repeats; a server lists itself
    /// and exactly the members its peers list.
    pub(super) fn raft_references(&mut self, index: usize, node: &'a Node) {
        let path = format!("topology.nodes[{index}].properties.members");
        let members = match &node.spec {
            ComponentSpec::RaftNode(spec) => &spec.members,
            ComponentSpec::RaftKvClient(spec) => &spec.members,
            _ => return,
        };
        if members.is_empty() || members.len() > MAX_RAFT_MEMBERS {
            self.problems.push(
                path.clone(),
                format!(
                    "expected 1 to {MAX_RAFT_MEMBERS} raft_node ids, found {}",
                    members.len()
                ),
            );
            return;
        }
        let mut all_resolved = true;
        for (member_index, member) in members.iter().enumerate() {
            let member_path = format!("{path}[{member_index}]");
            if self
                .node_reference_of_kind(&member_path, member, "raft_node")
                .is_none()
            {
                all_resolved = false;
            }
            if members[..member_index].contains(member) {
                self.problems
                    .push(member_path, format!("{member:?} is listed twice"));
            }
        }
        let ComponentSpec::RaftNode(_) = &node.spec else {
            return;
        };
        if !members.contains(&node.id) {
            self.problems.push(
                path.clone(),
                format!("expected the list to include this node {:?}", node.id),
            );
        }
        if !all_resolved {
            return;
        }
        let mut sorted: Vec<&String> = members.iter().collect();
        sorted.sort();
        for member in members {
            let Some(other_index) = self.scenario.node_index(member) else {
                continue;
            };
            if let ComponentSpec::RaftNode(other) = &self.scenario.topology.nodes[other_index].spec
            {
                let mut other_sorted: Vec<&String> = other.members.iter().collect();
                other_sorted.sort();
                if other_sorted != sorted {
                    self.problems.push(
                        path.clone(),
                        format!(
                            "expected the same members as {member:?} lists (topology.nodes[{other_index}].properties.members)"
                        ),
                    );
                    return;
                }
            }
        }
    }
}
