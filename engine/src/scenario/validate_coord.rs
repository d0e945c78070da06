//! Validation of the coordination slice's kinds (`coord_server`, `coord_client`, `fenced_storage`, `cache`, `snowflake`): ranges and references, each problem with its JSON path.

use super::coord::{CacheSpec, CoordClientSpec, CoordRecipe, CoordServerSpec, SnowflakeSpec};
use super::limits::*;
use super::validate::{Validator, check_probability};
use super::{ComponentSpec, Node};
use crate::components::coord_protocol::{parent_of, valid_path};

/// XFetch's beta above this reloads so early that the TTL means nothing.
const MAX_EARLY_EXPIRY_BETA: f64 = 10.0;

impl<'a> Validator<'a> {
    /// Ranges of a coordination-slice node's own properties.
    pub(super) fn coord_properties(&mut self, properties: &str, spec: &ComponentSpec) {
        match spec {
            ComponentSpec::CoordServer(spec) => self.coord_server(properties, spec),
            ComponentSpec::CoordClient(spec) => self.coord_client(properties, spec),
            ComponentSpec::Cache(spec) => self.cache(properties, spec),
            ComponentSpec::Snowflake(spec) => self.snowflake(properties, spec),
            _ => {}
        }
    }

    fn coord_server(&mut self, properties: &str, spec: &CoordServerSpec) {
        for (name, value) in [
            ("election_timeout_min_ms", spec.election_timeout_min_ms),
            ("election_timeout_max_ms", spec.election_timeout_max_ms),
            ("heartbeat_interval_ms", spec.heartbeat_interval_ms),
            ("min_session_timeout_ms", spec.min_session_timeout_ms),
            ("max_session_timeout_ms", spec.max_session_timeout_ms),
        ] {
            self.duration_ms(&format!("{properties}.{name}"), value);
        }
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
                    "expected less than election_timeout_min_ms ({}), found {}",
                    spec.election_timeout_min_ms, spec.heartbeat_interval_ms
                ),
            );
        }
        if spec.max_session_timeout_ms < spec.min_session_timeout_ms {
            self.problems.push(
                format!("{properties}.max_session_timeout_ms"),
                format!(
                    "expected at least min_session_timeout_ms ({}), found {}",
                    spec.min_session_timeout_ms, spec.max_session_timeout_ms
                ),
            );
        }
        if spec.snapshot_threshold_entries > MAX_RAFT_LOG_ENTRIES {
            self.problems.push(
                format!("{properties}.snapshot_threshold_entries"),
                format!(
                    "expected 0 (never) to {MAX_RAFT_LOG_ENTRIES}, found {}",
                    spec.snapshot_threshold_entries
                ),
            );
        }
        if spec.initial_znodes.len() > MAX_COORD_INITIAL_ZNODES {
            self.problems.push(
                format!("{properties}.initial_znodes"),
                format!(
                    "expected at most {MAX_COORD_INITIAL_ZNODES} znodes, found {}",
                    spec.initial_znodes.len()
                ),
            );
            return;
        }
        for (index, path) in spec.initial_znodes.iter().enumerate() {
            let item = format!("{properties}.initial_znodes[{index}]");
            if !valid_path(path) {
                self.problems.push(
                    item,
                    format!(
                        "expected an absolute path like \"/locks/orders\" (no empty segment or trailing '/', at most {MAX_COORD_PATH_CHARS} characters), found {path:?}"
                    ),
                );
                continue;
            }
            let parent = parent_of(path);
            if parent != "/" && !spec.initial_znodes[..index].iter().any(|p| p == parent) {
                self.problems.push(
                    item.clone(),
                    format!("expected its parent {parent:?} earlier in the list"),
                );
            }
            if spec.initial_znodes[..index].contains(path) {
                self.problems
                    .push(item, format!("{path:?} is listed twice"));
            }
        }
    }

    fn coord_client(&mut self, properties: &str, spec: &CoordClientSpec) {
        self.duration_ms(
            &format!("{properties}.session_timeout_ms"),
            spec.session_timeout_ms,
        );
        self.duration_ms(
            &format!("{properties}.request_timeout_ms"),
            spec.request_timeout_ms,
        );
        let recipe = format!("{properties}.recipe");
        match &spec.recipe {
            CoordRecipe::Registers(registers) => {
                let path = format!("{recipe}.registers");
                if registers.key_count == 0
                    || registers.key_count as usize > MAX_COORD_INITIAL_ZNODES
                {
                    self.problems.push(
                        format!("{path}.key_count"),
                        format!(
                            "expected 1 to {MAX_COORD_INITIAL_ZNODES}, found {}",
                            registers.key_count
                        ),
                    );
                }
                if registers.value_count == 0 {
                    self.problems
                        .push(format!("{path}.value_count"), "expected at least 1 value");
                }
                check_probability(
                    self.problems,
                    format!("{path}.read_fraction"),
                    registers.read_fraction,
                );
                check_probability(
                    self.problems,
                    format!("{path}.cas_fraction"),
                    registers.cas_fraction,
                );
                if registers.read_fraction + registers.cas_fraction > 1.0 {
                    self.problems.push(
                        format!("{path}.cas_fraction"),
                        format!(
                            "expected read_fraction + cas_fraction at most 1, found {}",
                            registers.read_fraction + registers.cas_fraction
                        ),
                    );
                }
                let think = format!("{path}.think_time");
                registers.think_time.validate(&think, self.problems);
                if registers
                    .think_time
                    .mean_ms()
                    .is_some_and(|mean| mean < 0.01)
                {
                    self.problems
                        .push(think, "expected a mean think time of at least 0.01 ms");
                }
            }
            CoordRecipe::Lock(lock) => {
                let path = format!("{recipe}.lock");
                for (name, value) in [
                    ("hold_ms", lock.hold_ms),
                    ("write_interval_ms", lock.write_interval_ms),
                    ("pause_between_ms", lock.pause_between_ms),
                ] {
                    self.duration_ms(&format!("{path}.{name}"), value);
                }
            }
            CoordRecipe::ConfigPublisher(publisher) => {
                self.duration_ms(
                    &format!("{recipe}.config_publisher.interval_ms"),
                    publisher.interval_ms,
                );
            }
            CoordRecipe::CronScheduler(cron) => {
                self.duration_ms(
                    &format!("{recipe}.cron_scheduler.interval_ms"),
                    cron.interval_ms,
                );
            }
            _ => {}
        }
    }

    fn cache(&mut self, properties: &str, spec: &CacheSpec) {
        if spec.capacity_entries == 0 || spec.capacity_entries > MAX_CACHE_CAPACITY_ENTRIES {
            self.problems.push(
                format!("{properties}.capacity_entries"),
                format!(
                    "expected 1 to {MAX_CACHE_CAPACITY_ENTRIES}, found {}",
                    spec.capacity_entries
                ),
            );
        }
        self.duration_ms(&format!("{properties}.ttl_ms"), spec.ttl_ms);
        self.duration_ms(
            &format!("{properties}.backend_timeout_ms"),
            spec.backend_timeout_ms,
        );
        if spec.key_count == 0 {
            self.problems
                .push(format!("{properties}.key_count"), "expected at least 1 key");
        }
        check_probability(
            self.problems,
            format!("{properties}.hot_key_fraction"),
            spec.hot_key_fraction,
        );
        if !(0.0..=MAX_EARLY_EXPIRY_BETA).contains(&spec.early_expiry_beta) {
            self.problems.push(
                format!("{properties}.early_expiry_beta"),
                format!(
                    "expected 0 (off) to {MAX_EARLY_EXPIRY_BETA}, found {}",
                    spec.early_expiry_beta
                ),
            );
        }
        if spec.max_waiting_requests == 0 || spec.max_waiting_requests > MAX_WAITING_REQUESTS {
            self.problems.push(
                format!("{properties}.max_waiting_requests"),
                format!(
                    "expected 1 to {MAX_WAITING_REQUESTS}, found {}",
                    spec.max_waiting_requests
                ),
            );
        }
        check_probability(
            self.problems,
            format!("{properties}.write_fraction"),
            spec.write_fraction,
        );
        let backend_holds_values = self
            .scenario
            .topology
            .nodes
            .iter()
            .find(|node| node.id == spec.backend)
            .is_none_or(|node| matches!(node.spec, ComponentSpec::KvDatabase(_)));
        if spec.write_fraction > 0.0 && !backend_holds_values {
            self.problems.push(
                format!("{properties}.write_fraction"),
                format!(
                    "writes need a backend that stores values: expected 0 with backend `{}`, or a `kv_database` backend",
                    spec.backend
                ),
            );
        }
    }

    fn snowflake(&mut self, properties: &str, spec: &SnowflakeSpec) {
        if spec.worker_id > MAX_SNOWFLAKE_WORKER_ID {
            self.problems.push(
                format!("{properties}.worker_id"),
                format!(
                    "expected 0 to {MAX_SNOWFLAKE_WORKER_ID} (10 bits), found {}",
                    spec.worker_id
                ),
            );
        }
        if spec.max_waiting_requests == 0 || spec.max_waiting_requests > MAX_WAITING_REQUESTS {
            self.problems.push(
                format!("{properties}.max_waiting_requests"),
                format!(
                    "expected 1 to {MAX_WAITING_REQUESTS}, found {}",
                    spec.max_waiting_requests
                ),
            );
        }
    }

    /// References of the coordination slice's nodes (needs every node id).
    pub(super) fn coord_references(&mut self, index: usize, node: &'a Node) {
        let path = format!("topology.nodes[{index}].properties");
        match &node.spec {
            ComponentSpec::CoordServer(spec) => {
                self.coord_member_list(&format!("{path}.members"), &spec.members);
                if !spec.members.contains(&node.id) {
                    self.problems.push(
                        format!("{path}.members"),
                        format!("expected the list to include this node {:?}", node.id),
                    );
                }
                for member in &spec.members {
                    if let Some(other) = self.scenario.node_index(member)
                        && let ComponentSpec::CoordServer(other_spec) =
                            &self.scenario.topology.nodes[other].spec
                    {
                        let mut mine: Vec<&String> = spec.members.iter().collect();
                        let mut theirs: Vec<&String> = other_spec.members.iter().collect();
                        mine.sort();
                        theirs.sort();
                        if mine != theirs || other_spec.initial_znodes != spec.initial_znodes {
                            self.problems.push(
                                format!("{path}.members"),
                                format!(
                                    "expected the same members and initial_znodes as {member:?} (topology.nodes[{other}].properties)"
                                ),
                            );
                            return;
                        }
                    }
                }
            }
            ComponentSpec::CoordClient(spec) => {
                self.coord_member_list(&format!("{path}.servers"), &spec.servers);
                let recipe = format!("{path}.recipe");
                // The ensemble's initial znodes (every member lists the same).
                let znodes: Vec<String> = spec
                    .servers
                    .first()
                    .and_then(|server| self.scenario.node_index(server))
                    .and_then(|server| match &self.scenario.topology.nodes[server].spec {
                        ComponentSpec::CoordServer(server) => Some(server.initial_znodes.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let needs_znode = |validator: &mut Self, field: String, znode: &str| {
                    if !valid_path(znode) {
                        validator.problems.push(
                            field,
                            format!("expected an absolute znode path like \"/election\", found {znode:?}"),
                        );
                    } else if !znodes.iter().any(|known| known == znode) {
                        validator.problems.push(
                            field,
                            format!(
                                "expected a znode the servers create at start: add {znode:?} to their initial_znodes"
                            ),
                        );
                    }
                };
                match &spec.recipe {
                    CoordRecipe::Registers(registers) => {
                        for key in 0..registers.key_count.min(MAX_COORD_INITIAL_ZNODES as u32) {
                            needs_znode(
                                self,
                                format!("{recipe}.registers.key_count"),
                                &format!("/registers/k{key}"),
                            );
                        }
                    }
                    CoordRecipe::LeaderElection(election) => {
                        needs_znode(
                            self,
                            format!("{recipe}.leader_election.path"),
                            &election.path,
                        );
                    }
                    CoordRecipe::Lock(lock) => {
                        needs_znode(self, format!("{recipe}.lock.path"), &lock.path);
                        self.node_reference_of_kind(
                            &format!("{recipe}.lock.storage"),
                            &lock.storage,
                            "fenced_storage",
                        );
                    }
                    CoordRecipe::CronScheduler(cron) => {
                        needs_znode(self, format!("{recipe}.cron_scheduler.path"), &cron.path);
                        self.node_reference_of_kind(
                            &format!("{recipe}.cron_scheduler.executor"),
                            &cron.executor,
                            "fenced_storage",
                        );
                    }
                    CoordRecipe::RegistryInstance(registry) => {
                        needs_znode(
                            self,
                            format!("{recipe}.registry_instance.path"),
                            &registry.path,
                        );
                    }
                    CoordRecipe::RegistryWatcher(registry) => {
                        needs_znode(
                            self,
                            format!("{recipe}.registry_watcher.path"),
                            &registry.path,
                        );
                    }
                    CoordRecipe::ConfigPublisher(config) => {
                        needs_znode(
                            self,
                            format!("{recipe}.config_publisher.path"),
                            &config.path,
                        );
                    }
                    CoordRecipe::ConfigSubscriber(config) => {
                        needs_znode(
                            self,
                            format!("{recipe}.config_subscriber.path"),
                            &config.path,
                        );
                    }
                }
            }
            ComponentSpec::Cache(spec)
                if self
                    .node_reference(&format!("{path}.backend"), &spec.backend)
                    .is_some()
                    && spec.backend == node.id =>
            {
                self.problems.push(
                    format!("{path}.backend"),
                    "a cache cannot be its own backend",
                );
            }
            ComponentSpec::Snowflake(spec) => {
                let clash = self.scenario.topology.nodes[..index].iter().position(|other| {
                    matches!(&other.spec, ComponentSpec::Snowflake(other) if other.worker_id == spec.worker_id)
                });
                if let Some(other) = clash {
                    self.problems.push(
                        format!("{path}.worker_id"),
                        format!(
                            "worker id {} is already used by topology.nodes[{other}]: ids would repeat",
                            spec.worker_id
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    /// A non-empty list of distinct `coord_server` ids.
    fn coord_member_list(&mut self, path: &str, members: &[String]) {
        if members.is_empty() || members.len() > MAX_RAFT_MEMBERS {
            self.problems.push(
                path,
                format!(
                    "expected 1 to {MAX_RAFT_MEMBERS} coord_server ids, found {}",
                    members.len()
                ),
            );
            return;
        }
        for (member_index, member) in members.iter().enumerate() {
            let member_path = format!("{path}[{member_index}]");
            self.node_reference_of_kind(&member_path, member, "coord_server");
            if members[..member_index].contains(member) {
                self.problems
                    .push(member_path, format!("{member:?} is listed twice"));
            }
        }
    }
}
