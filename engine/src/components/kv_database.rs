//! `kv_database`: one replica of a replicated key-value database, in one of three replication modes — leader/follower (`db_leader_follower.rs`), Raft (the `raft_node` embedding of the shared core) or Dynamo-style (`db_dynamo.rs`).
//!
//! The replicas of a database are every `kv_database` node with the same
//! `database` name, in document order. In Raft mode the replica is a
//! `raft_node` (same log, same checkers); writes and `leader`/`linearizable`
//! reads go through the log and are answered with `RaftKvResponse`, while
//! `any` reads are answered from the local state machine (possibly stale).

use super::db_dynamo::Dynamo;
use super::db_leader_follower::LeaderFollower;
use super::db_protocol::{DbMessage, DbOperation, DbOutcome};
use super::raft_node::RaftNode;
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::kv::KvOperation;
use crate::scenario::{DbReplication, KvDatabaseSpec, RaftNodeSpec, ReadConsistency};
use crate::time::SimTime;

/// The replica's engine, by replication mode.
#[derive(Clone)]
enum Replica {
    LeaderFollower(LeaderFollower),
    Raft(Box<RaftNode>),
    Dynamo(Dynamo),
}

#[derive(Clone)]
pub struct KvDatabase {
    replica: Replica,
}

impl KvDatabase {
    /// `members`: every replica of the database in document order (this one included).
    pub fn new(
        spec: &KvDatabaseSpec,
        me: NodeId,
        members: Vec<NodeId>,
        names: Vec<String>,
    ) -> KvDatabase {
        let replica = match &spec.replication {
            DbReplication::LeaderFollower(settings) => {
                Replica::LeaderFollower(LeaderFollower::new(
                    settings,
                    &spec.database,
                    me,
                    members,
                    spec.durable_storage,
                    names,
                ))
            }
            DbReplication::Raft(settings) => {
                let raft_spec = RaftNodeSpec {
                    members: Vec::new(),
                    election_timeout_min_ms: settings.election_timeout_min_ms,
                    election_timeout_max_ms: settings.election_timeout_max_ms,
                    heartbeat_interval_ms: settings.heartbeat_interval_ms,
                    pre_vote: settings.pre_vote,
                    check_quorum: settings.check_quorum,
                    durable_storage: spec.durable_storage,
                    disk_write_latency: None,
                    max_entries_per_append: 64,
                    max_inflight_appends: 4,
                    max_uncommitted_entries: 1_000,
                    max_log_entries: 100_000,
                    snapshot_threshold_entries: 1_000,
                };
                Replica::Raft(Box::new(RaftNode::new(&raft_spec, me, members)))
            }
            DbReplication::Dynamo(settings) => Replica::Dynamo(Dynamo::new(
                settings,
                &spec.database,
                me,
                &members,
                spec.durable_storage,
            )),
        };
        KvDatabase { replica }
    }

    fn raft_request(
        raft: &mut RaftNode,
        ctx: &mut Context<'_>,
        client: NodeId,
        request: u64,
        operation: DbOperation,
        consistency: ReadConsistency,
    ) {
        match (operation, consistency) {
            (DbOperation::Read { key }, ReadConsistency::Any) => {
                let values = raft.local_value(key).into_iter().collect();
                let message = DbMessage::Response {
                    request,
                    outcome: DbOutcome::Ok {
                        values,
                        context: Vec::new(),
                    },
                };
                ctx.send(client, Payload::Db(message), 64);
            }
            (DbOperation::Read { key }, _) => {
                raft.on_client_request(ctx, client, request, KvOperation::Read { key })
            }
            (DbOperation::Write { key, value }, _) => {
                raft.on_client_request(ctx, client, request, KvOperation::Write { key, value })
            }
        }
    }
}

impl Component for KvDatabase {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        match &mut self.replica {
            Replica::LeaderFollower(replica) => replica.on_start(ctx),
            Replica::Raft(raft) => raft.on_start(ctx),
            Replica::Dynamo(replica) => replica.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match (&mut self.replica, &envelope.payload) {
            (Replica::LeaderFollower(replica), Payload::Db(message)) => {
                replica.on_message(ctx, envelope.from, message)
            }
            (Replica::Dynamo(replica), Payload::Db(message)) => {
                replica.on_message(ctx, envelope.from, message)
            }
            (
                Replica::Raft(raft),
                Payload::Db(DbMessage::Request {
                    request,
                    operation,
                    consistency,
                    ..
                }),
            ) => Self::raft_request(raft, ctx, envelope.from, *request, *operation, *consistency),
            (Replica::Raft(raft), _) => raft.on_message(ctx, envelope),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match &mut self.replica {
            Replica::LeaderFollower(replica) => replica.on_timer(ctx, tag),
            Replica::Raft(raft) => raft.on_timer(ctx, tag),
            Replica::Dynamo(replica) => replica.on_timer(ctx, tag),
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        match &mut self.replica {
            Replica::LeaderFollower(replica) => replica.on_crash(ctx),
            Replica::Raft(raft) => raft.on_crash(ctx),
            Replica::Dynamo(replica) => replica.on_crash(ctx),
        }
    }

    /// Leader/follower: the primary wears the crown with its epoch and every
    /// replica says its role; Raft mode: the leader's crown and term;
    /// Dynamo replicas are peers and have no role to show.
    fn live_status(&self) -> crate::live::NodeLiveStatus {
        match &self.replica {
            Replica::LeaderFollower(replica) => {
                let (primary, epoch) = replica.role_and_epoch();
                crate::live::NodeLiveStatus {
                    leadership: primary.then_some(crate::live::Leadership {
                        kind: crate::live::LeadershipKind::DatabasePrimary,
                        count: 1,
                        term: epoch,
                    }),
                    database_role: Some(crate::live::DatabaseRole { primary, epoch }),
                    ..crate::live::NodeLiveStatus::default()
                }
            }
            Replica::Raft(raft) => raft.live_status(),
            Replica::Dynamo(_) => crate::live::NodeLiveStatus::default(),
        }
    }

    fn view(&self) -> ComponentView {
        match &self.replica {
            Replica::LeaderFollower(replica) => ComponentView {
                queue_depth: 0,
                in_progress: replica.pending_len() as u64,
                badge: replica.badge(),
            },
            Replica::Raft(raft) => raft.view(),
            Replica::Dynamo(replica) => ComponentView {
                queue_depth: 0,
                in_progress: replica.in_progress() as u64,
                badge: replica.badge(),
            },
        }
    }

    fn inspect(&self) -> Option<crate::inspect::NodeInspection> {
        match &self.replica {
            Replica::LeaderFollower(replica) => Some(
                crate::inspect::NodeInspection::LeaderFollowerReplica(replica.inspect()),
            ),
            Replica::Raft(raft) => raft.inspect(),
            Replica::Dynamo(_) => None,
        }
    }

    fn summary(&self, now: SimTime) -> Vec<(&'static str, f64)> {
        match &self.replica {
            Replica::LeaderFollower(replica) => replica.summary(),
            Replica::Raft(raft) => raft.summary(now),
            Replica::Dynamo(replica) => replica.summary(),
        }
    }
}
