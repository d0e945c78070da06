//! Validation of the replicated database's nodes (`kv_database`, `kv_sentinel`, `kv_client`): ranges, replicas of one database agreeing on their settings, and references to databases, each problem with its JSON path.

use super::limits::{
    MAX_DB_BACKLOG_WRITES, MAX_DB_CLIENT_ATTEMPTS, MAX_DB_CLIENT_CONCURRENCY, MAX_DB_KEYS,
    MAX_DB_REPLICAS, MAX_DB_SHARDS, MAX_DB_VALUE_SIZE_BYTES, MAX_DB_VIRTUAL_NODES, MAX_DURATION_MS,
    MAX_ID_CHARS, MAX_RAFT_MEMBERS,
};
use super::problems::Problems;
use super::validate::{check_probability, closest};
use super::{
    ComponentSpec, DbReplication, KvClientSpec, KvDatabaseSpec, KvSentinelSpec,
    KvShardBalancerSpec, ReadConsistency, ReplicationAcks, Scenario,
};

fn duration_ms(problems: &mut Problems, path: String, value_ms: u64) {
    if value_ms == 0 || value_ms > MAX_DURATION_MS {
        problems.push(
            path,
            format!("expected 1 to {MAX_DURATION_MS} ms, found {value_ms}"),
        );
    }
}

fn range(problems: &mut Problems, path: String, value: u64, low: u64, high: u64) {
    if value < low || value > high {
        problems.push(path, format!("expected {low} to {high}, found {value}"));
    }
}

fn database_name(problems: &mut Problems, path: String, name: &str) {
    if name.is_empty()
        || name.chars().count() > MAX_ID_CHARS
        || !name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
    {
        problems.push(
            path,
            format!(
                "expected 1 to {MAX_ID_CHARS} letters, digits, '-', '_' or '.', found {name:?}"
            ),
        );
    }
}

/// Names of every database in the scenario.
fn database_names(scenario: &Scenario) -> Vec<&str> {
    let mut names: Vec<&str> = scenario
        .topology
        .nodes
        .iter()
        .filter_map(|node| match &node.spec {
            ComponentSpec::KvDatabase(spec) => Some(spec.database.as_str()),
            _ => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// A reference to a database by name: it must exist.
fn database_reference<'a>(
    problems: &mut Problems,
    scenario: &'a Scenario,
    path: String,
    name: &str,
) -> Option<&'a KvDatabaseSpec> {
    let found = super::database_spec(scenario, name);
    if found.is_none() {
        let names = database_names(scenario);
        let hint = closest(name, names.iter().copied())
            .map(|candidate| format!(" (did you mean {candidate:?}?)"))
            .unwrap_or_default();
        problems.push(path, format!("no kv_database with database {name:?}{hint}"));
    }
    found
}

pub(super) fn properties(problems: &mut Problems, scenario: &Scenario, index: usize, path: &str) {
    match &scenario.topology.nodes[index].spec {
        ComponentSpec::KvDatabase(spec) => database(problems, scenario, index, path, spec),
        ComponentSpec::KvSentinel(spec) => sentinel(problems, scenario, path, spec),
        ComponentSpec::KvClient(spec) => client(problems, scenario, path, spec),
        ComponentSpec::KvShardBalancer(spec) => balancer(problems, scenario, index, path, spec),
        _ => {}
    }
}

fn database(
    problems: &mut Problems,
    scenario: &Scenario,
    index: usize,
    path: &str,
    spec: &KvDatabaseSpec,
) {
    database_name(problems, format!("{path}.database"), &spec.database);
    let members = super::database_members(scenario, &spec.database);
    let first = members.first().map_or(index, |node| node.index());
    if first != index {
        // Only the first replica's settings are checked in detail; the others must match them.
        if super::database_spec(scenario, &spec.database) != Some(spec) {
            problems.push(
                format!("{path}.replication"),
                format!(
                    "expected the same replication and durable_storage as topology.nodes[{first}] (the first replica of database {:?})",
                    spec.database
                ),
            );
        }
        return;
    }
    if members.len() > MAX_DB_REPLICAS {
        problems.push(
            format!("{path}.database"),
            format!(
                "expected at most {MAX_DB_REPLICAS} replicas of database {:?}, found {}",
                spec.database,
                members.len()
            ),
        );
    }
    let replicas = members.len() as u64;
    match &spec.replication {
        DbReplication::LeaderFollower(settings) => {
            let base = format!("{path}.replication.leader_follower");
            if settings.acks == ReplicationAcks::SemiSync {
                range(
                    problems,
                    format!("{base}.semi_sync_replicas"),
                    u64::from(settings.semi_sync_replicas),
                    1,
                    replicas.saturating_sub(1).max(1),
                );
            }
            if let Some(timeout_ms) = settings.semi_sync_timeout_ms {
                duration_ms(problems, format!("{base}.semi_sync_timeout_ms"), timeout_ms);
            }
            range(
                problems,
                format!("{base}.min_replicas_to_write"),
                u64::from(settings.min_replicas_to_write),
                0,
                replicas.saturating_sub(1),
            );
            duration_ms(
                problems,
                format!("{base}.min_replicas_max_lag_ms"),
                settings.min_replicas_max_lag_ms,
            );
            duration_ms(
                problems,
                format!("{base}.replica_ack_interval_ms"),
                settings.replica_ack_interval_ms,
            );
            range(
                problems,
                format!("{base}.backlog_writes"),
                settings.backlog_writes,
                1,
                MAX_DB_BACKLOG_WRITES,
            );
        }
        DbReplication::Raft(settings) => {
            let base = format!("{path}.replication.raft");
            if members.len() > MAX_RAFT_MEMBERS {
                problems.push(
                    format!("{path}.database"),
                    format!(
                        "expected at most {MAX_RAFT_MEMBERS} replicas in Raft mode, found {}",
                        members.len()
                    ),
                );
            }
            duration_ms(
                problems,
                format!("{base}.election_timeout_min_ms"),
                settings.election_timeout_min_ms,
            );
            duration_ms(
                problems,
                format!("{base}.heartbeat_interval_ms"),
                settings.heartbeat_interval_ms,
            );
            if settings.election_timeout_max_ms < settings.election_timeout_min_ms
                || settings.election_timeout_max_ms > MAX_DURATION_MS
            {
                problems.push(
                    format!("{base}.election_timeout_max_ms"),
                    format!(
                        "expected election_timeout_min_ms ({}) to {MAX_DURATION_MS} ms, found {}",
                        settings.election_timeout_min_ms, settings.election_timeout_max_ms
                    ),
                );
            }
            if settings.heartbeat_interval_ms >= settings.election_timeout_min_ms {
                problems.push(
                    format!("{base}.heartbeat_interval_ms"),
                    format!(
                        "expected less than election_timeout_min_ms ({}), found {}",
                        settings.election_timeout_min_ms, settings.heartbeat_interval_ms
                    ),
                );
            }
        }
        DbReplication::Dynamo(settings) => {
            let base = format!("{path}.replication.dynamo");
            range(
                problems,
                format!("{base}.replicas_n"),
                u64::from(settings.replicas_n),
                1,
                replicas.max(1),
            );
            let n = u64::from(settings.replicas_n).max(1);
            range(
                problems,
                format!("{base}.read_quorum_r"),
                u64::from(settings.read_quorum_r),
                1,
                n,
            );
            range(
                problems,
                format!("{base}.write_quorum_w"),
                u64::from(settings.write_quorum_w),
                1,
                n,
            );
            range(
                problems,
                format!("{base}.virtual_nodes"),
                u64::from(settings.virtual_nodes),
                1,
                u64::from(MAX_DB_VIRTUAL_NODES),
            );
            for (name, value) in [
                ("sloppy_quorum_after_ms", settings.sloppy_quorum_after_ms),
                (
                    "hinted_handoff_interval_ms",
                    settings.hinted_handoff_interval_ms,
                ),
                ("coordinator_timeout_ms", settings.coordinator_timeout_ms),
            ] {
                duration_ms(problems, format!("{base}.{name}"), value);
            }
        }
    }
}

fn sentinel(problems: &mut Problems, scenario: &Scenario, path: &str, spec: &KvSentinelSpec) {
    if let Some(database) = database_reference(
        problems,
        scenario,
        format!("{path}.database"),
        &spec.database,
    ) && !matches!(database.replication, DbReplication::LeaderFollower(_))
    {
        problems.push(
            format!("{path}.database"),
            format!(
                "expected a leader_follower database (sentinels fail over primaries), {:?} uses {}",
                spec.database,
                database.replication.mode_name()
            ),
        );
    }
    let sentinels = super::database_sentinels(scenario, &spec.database).len() as u64;
    range(
        problems,
        format!("{path}.quorum"),
        u64::from(spec.quorum),
        1,
        sentinels.max(1),
    );
    for (name, value) in [
        ("down_after_ms", spec.down_after_ms),
        ("failover_timeout_ms", spec.failover_timeout_ms),
        ("ping_interval_ms", spec.ping_interval_ms),
    ] {
        duration_ms(problems, format!("{path}.{name}"), value);
    }
}

/// Read levels each replication mode serves.
fn serves(replication: &DbReplication, level: ReadConsistency) -> bool {
    match replication {
        DbReplication::LeaderFollower(_) => {
            matches!(level, ReadConsistency::Leader | ReadConsistency::Any)
        }
        DbReplication::Raft(_) => !matches!(level, ReadConsistency::Quorum),
        DbReplication::Dynamo(_) => {
            matches!(level, ReadConsistency::Quorum | ReadConsistency::Any)
        }
    }
}

fn client(problems: &mut Problems, scenario: &Scenario, path: &str, spec: &KvClientSpec) {
    if spec.databases.is_empty() || spec.databases.len() > MAX_DB_SHARDS {
        problems.push(
            format!("{path}.databases"),
            format!(
                "expected 1 to {MAX_DB_SHARDS} database names, found {}",
                spec.databases.len()
            ),
        );
    }
    for (position, name) in spec.databases.iter().enumerate() {
        let item = format!("{path}.databases[{position}]");
        if spec.databases[..position].contains(name) {
            problems.push(item, format!("database {name:?} is listed twice"));
            continue;
        }
        if let Some(database) = database_reference(problems, scenario, item.clone(), name)
            && !serves(&database.replication, spec.read_consistency)
        {
            problems.push(
                format!("{path}.read_consistency"),
                format!(
                    "a {} database ({name:?}) does not serve {:?} reads (leader_follower: leader, any; raft: leader, linearizable, any; dynamo: quorum, any)",
                    database.replication.mode_name(),
                    spec.read_consistency.as_str()
                ),
            );
        }
    }
    range(
        problems,
        format!("{path}.virtual_nodes_per_shard"),
        u64::from(spec.virtual_nodes_per_shard),
        1,
        u64::from(MAX_DB_VIRTUAL_NODES),
    );
    range(
        problems,
        format!("{path}.concurrency"),
        u64::from(spec.concurrency),
        1,
        u64::from(MAX_DB_CLIENT_CONCURRENCY),
    );
    range(
        problems,
        format!("{path}.key_count"),
        u64::from(spec.key_count),
        1,
        u64::from(MAX_DB_KEYS),
    );
    range(
        problems,
        format!("{path}.max_attempts"),
        u64::from(spec.max_attempts),
        1,
        u64::from(MAX_DB_CLIENT_ATTEMPTS),
    );
    check_probability(
        problems,
        format!("{path}.read_fraction"),
        spec.read_fraction,
    );
    check_probability(
        problems,
        format!("{path}.hot_key_fraction"),
        spec.hot_key_fraction,
    );
    duration_ms(
        problems,
        format!("{path}.request_timeout_ms"),
        spec.request_timeout_ms,
    );
    duration_ms(
        problems,
        format!("{path}.retry_backoff_ms"),
        spec.retry_backoff_ms,
    );
    if spec.start_ms > MAX_DURATION_MS {
        problems.push(
            format!("{path}.start_ms"),
            format!(
                "expected at most {MAX_DURATION_MS} ms, found {}",
                spec.start_ms
            ),
        );
    }
    spec.think_time
        .validate(&format!("{path}.think_time"), problems);
}

/// Databases a balancer can move keys between: it copies with leader reads
/// and writes, which Dynamo databases do not serve (and a Dynamo cluster
/// rebalances itself by moving virtual nodes, not by client-side resharding).
fn balancer_database(problems: &mut Problems, scenario: &Scenario, path: String, name: &str) {
    if let Some(database) = database_reference(problems, scenario, path.clone(), name)
        && matches!(database.replication, DbReplication::Dynamo(_))
    {
        problems.push(
            path,
            format!(
                "expected a leader_follower or raft database (the balancer copies keys with leader reads and writes), {name:?} uses dynamo"
            ),
        );
    }
}

fn balancer(
    problems: &mut Problems,
    scenario: &Scenario,
    index: usize,
    path: &str,
    spec: &KvShardBalancerSpec,
) {
    if spec.clients.is_empty() || spec.clients.len() > MAX_DB_CLIENT_CONCURRENCY as usize {
        problems.push(
            format!("{path}.clients"),
            format!(
                "expected 1 to {MAX_DB_CLIENT_CONCURRENCY} kv_client node ids, found {}",
                spec.clients.len()
            ),
        );
    }
    let nodes = &scenario.topology.nodes;
    let mut first_client: Option<(&str, &KvClientSpec)> = None;
    for (position, name) in spec.clients.iter().enumerate() {
        let item = format!("{path}.clients[{position}]");
        if spec.clients[..position].contains(name) {
            problems.push(item, format!("client {name:?} is listed twice"));
            continue;
        }
        let Some(node) = nodes.iter().find(|node| &node.id == name) else {
            let hint = closest(
                name,
                nodes
                    .iter()
                    .filter(|node| matches!(node.spec, ComponentSpec::KvClient(_)))
                    .map(|node| node.id.as_str()),
            )
            .map(|candidate| format!(" (did you mean {candidate:?}?)"))
            .unwrap_or_default();
            problems.push(item, format!("no node {name:?}{hint}"));
            continue;
        };
        let ComponentSpec::KvClient(client) = &node.spec else {
            problems.push(
                item,
                format!(
                    "expected a kv_client, {name:?} is a {}",
                    node.spec.kind_name()
                ),
            );
            continue;
        };
        if super::balancer_of_client(scenario, name) != Some(index) {
            problems.push(
                item,
                format!("client {name:?} is already resharded by another kv_shard_balancer"),
            );
            continue;
        }
        match first_client {
            None => first_client = Some((name, client)),
            Some((first_name, first)) => {
                if first.databases != client.databases
                    || first.sharding != client.sharding
                    || first.virtual_nodes_per_shard != client.virtual_nodes_per_shard
                    || first.key_count != client.key_count
                {
                    problems.push(
                        item,
                        format!(
                            "expected the same databases, sharding, virtual_nodes_per_shard and key_count as {first_name:?} (one keyspace is resharded)"
                        ),
                    );
                }
            }
        }
    }
    if let Some((_, client)) = first_client {
        if client.databases.len() >= MAX_DB_SHARDS {
            problems.push(
                format!("{path}.add_database"),
                format!("expected fewer than {MAX_DB_SHARDS} shards before the one added"),
            );
        }
        if client.databases.contains(&spec.add_database) {
            problems.push(
                format!("{path}.add_database"),
                format!(
                    "database {:?} is already a shard of the clients",
                    spec.add_database
                ),
            );
        }
        for (position, name) in client.databases.iter().enumerate() {
            balancer_database(
                problems,
                scenario,
                format!("{path}.clients[0] databases[{position}]"),
                name,
            );
        }
    }
    balancer_database(
        problems,
        scenario,
        format!("{path}.add_database"),
        &spec.add_database,
    );
    if spec.add_at_ms > MAX_DURATION_MS {
        problems.push(
            format!("{path}.add_at_ms"),
            format!(
                "expected at most {MAX_DURATION_MS} ms, found {}",
                spec.add_at_ms
            ),
        );
    }
    range(
        problems,
        format!("{path}.copy_parallelism"),
        u64::from(spec.copy_parallelism),
        1,
        u64::from(MAX_DB_CLIENT_CONCURRENCY),
    );
    range(
        problems,
        format!("{path}.value_size_bytes"),
        u64::from(spec.value_size_bytes),
        1,
        u64::from(MAX_DB_VALUE_SIZE_BYTES),
    );
    range(
        problems,
        format!("{path}.max_attempts_per_key"),
        u64::from(spec.max_attempts_per_key),
        1,
        u64::from(MAX_DB_CLIENT_ATTEMPTS),
    );
    duration_ms(
        problems,
        format!("{path}.request_timeout_ms"),
        spec.request_timeout_ms,
    );
    duration_ms(
        problems,
        format!("{path}.notify_interval_ms"),
        spec.notify_interval_ms,
    );
}
