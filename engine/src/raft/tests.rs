//! Unit tests of the Raft core on a tiny in-memory network (no simulator): elections, replication, snapshots, membership.

use super::*;
use crate::rng::SimRng;

type Core = RaftCore<u64, Vec<u64>>;
type Action = RaftAction<u64, Vec<u64>>;

enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        message: RaftMessage<u64, Vec<u64>>,
    },
    Timer {
        node: NodeId,
        timer: RaftTimer,
        generation: u64,
    },
}

/// A cluster with a fixed 5 ms latency, timers with generations (a newer
/// `SetTimer` of a kind supersedes the older), and cuttable nodes.
struct Harness {
    now: SimTime,
    seq: u64,
    cores: Vec<Core>,
    rngs: Vec<SimRng>,
    queue: BTreeMap<(SimTime, u64), Event>,
    generations: BTreeMap<(NodeId, RaftTimer), u64>,
    applied: Vec<Vec<(u64, EntryPayload<u64>)>>,
    state: Vec<Vec<u64>>,
    isolated: BTreeSet<NodeId>,
    down: BTreeSet<NodeId>,
}

impl Harness {
    fn new(size: u32, members: u32, config: RaftConfig) -> Harness {
        let member_ids: Vec<NodeId> = (0..members).map(NodeId).collect();
        let mut harness = Harness {
            now: SimTime::ZERO,
            seq: 0,
            cores: (0..size)
                .map(|node| Core::new(config.clone(), NodeId(node), member_ids.clone()))
                .collect(),
            rngs: (0..size)
                .map(|node| SimRng::for_stream(7, node as u64))
                .collect(),
            queue: BTreeMap::new(),
            generations: BTreeMap::new(),
            applied: vec![Vec::new(); size as usize],
            state: vec![Vec::new(); size as usize],
            isolated: BTreeSet::new(),
            down: BTreeSet::new(),
        };
        for node in 0..size {
            harness.with(NodeId(node), |core, env, out| core.start(env, out));
        }
        harness
    }

    fn with(
        &mut self,
        node: NodeId,
        call: impl FnOnce(&mut Core, &mut RaftEnv<'_>, &mut Vec<Action>),
    ) {
        let mut out = Vec::new();
        let mut env = RaftEnv {
            now: self.now,
            rng: &mut self.rngs[node.index()],
        };
        call(&mut self.cores[node.index()], &mut env, &mut out);
        self.absorb(node, out);
    }

    fn absorb(&mut self, node: NodeId, out: Vec<Action>) {
        for action in out {
            self.seq += 1;
            match action {
                RaftAction::Send { to, message } => {
                    if self.isolated.contains(&node) || self.isolated.contains(&to) {
                        continue;
                    }
                    self.queue.insert(
                        (self.now.plus(SimDuration::from_millis(5)), self.seq),
                        Event::Deliver {
                            from: node,
                            to,
                            message,
                        },
                    );
                }
                RaftAction::SetTimer { timer, after } => {
                    let generation = self.generations.entry((node, timer)).or_insert(0);
                    *generation += 1;
                    let generation = *generation;
                    self.queue.insert(
                        (self.now.plus(after), self.seq),
                        Event::Timer {
                            node,
                            timer,
                            generation,
                        },
                    );
                }
                RaftAction::Apply { index, payload, .. } => {
                    if let EntryPayload::Command(command) = &payload {
                        self.state[node.index()].push(*command);
                    }
                    self.applied[node.index()].push((index, payload));
                }
                RaftAction::RestoreSnapshot { data, .. } => {
                    self.state[node.index()] = data;
                }
                RaftAction::RoleChanged { .. } | RaftAction::Fact(_) => {}
            }
        }
        // The embedder snapshots when asked: here the state is the command list.
        if let Some(index) = self.cores[node.index()].snapshot_due() {
            let data = self.state[node.index()].clone();
            self.cores[node.index()].compact(index, data);
        }
    }

    fn run_for(&mut self, millis: u64) {
        let end = self.now.plus(SimDuration::from_millis(millis));
        while let Some((&(time, seq), _)) = self.queue.iter().next() {
            if time > end {
                break;
            }
            let event = self.queue.remove(&(time, seq)).expect("present");
            self.now = time;
            match event {
                Event::Deliver { from, to, message } => {
                    if self.down.contains(&to) || self.isolated.contains(&to) {
                        continue;
                    }
                    self.with(to, |core, env, out| {
                        core.handle_message(env, from, message, out)
                    });
                }
                Event::Timer {
                    node,
                    timer,
                    generation,
                } => {
                    if self.down.contains(&node) || self.generations[&(node, timer)] != generation {
                        continue;
                    }
                    self.with(node, |core, env, out| core.handle_timer(env, timer, out));
                }
            }
        }
        self.now = end;
    }

    fn leaders(&self) -> Vec<NodeId> {
        self.cores
            .iter()
            .filter(|core| core.role() == RaftRole::Leader && !self.down.contains(&core.id()))
            .map(|core| core.id())
            .collect()
    }

    fn propose(&mut self, node: NodeId, command: u64) -> Result<(u64, u64), ProposeError> {
        let mut result = Err(ProposeError::NotLeader { leader_hint: None });
        self.with(node, |core, _, out| result = core.propose(command, out));
        result
    }
}

#[test]
fn three_servers_elect_one_leader_and_commit_on_every_server() {
    let mut harness = Harness::new(3, 3, RaftConfig::default());
    harness.run_for(1_000);
    let leaders = harness.leaders();
    assert_eq!(leaders.len(), 1, "exactly one leader: {leaders:?}");
    for command in 1..=10 {
        harness
            .propose(leaders[0], command)
            .expect("leader accepts");
    }
    harness.run_for(500);
    for node in 0..3 {
        assert_eq!(
            harness.state[node],
            (1..=10).collect::<Vec<u64>>(),
            "node {node}"
        );
    }
    let follower = NodeId((leaders[0].0 + 1) % 3);
    assert_eq!(
        harness.propose(follower, 99),
        Err(ProposeError::NotLeader {
            leader_hint: Some(leaders[0])
        }),
        "a follower redirects to the leader it knows"
    );
}

#[test]
fn uncommitted_entries_are_bounded_while_followers_are_cut_off() {
    let config = RaftConfig {
        max_uncommitted_entries: 5,
        check_quorum: false,
        ..RaftConfig::default()
    };
    let mut harness = Harness::new(3, 3, config);
    harness.run_for(1_000);
    let leader = harness.leaders()[0];
    for node in 0..3 {
        if NodeId(node) != leader {
            harness.isolated.insert(NodeId(node));
        }
    }
    let results: Vec<_> = (0..8)
        .map(|command| harness.propose(leader, command))
        .collect();
    assert!(results[..4].iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        results[7],
        Err(ProposeError::TooManyUncommitted { limit: 5 }),
        "the noop plus four commands fill the bound"
    );
}

#[test]
fn a_lagging_follower_catches_up_through_install_snapshot() {
    let config = RaftConfig {
        snapshot_threshold_entries: 10,
        ..RaftConfig::default()
    };
    let mut harness = Harness::new(3, 3, config);
    harness.run_for(1_000);
    let leader = harness.leaders()[0];
    let lagging = NodeId((leader.0 + 1) % 3);
    harness.isolated.insert(lagging);
    for command in 1..=50 {
        harness.propose(leader, command).expect("accepted");
        harness.run_for(20);
    }
    assert!(
        harness.cores[leader.index()].snapshot_index() > 0,
        "leader compacted"
    );
    harness.isolated.clear();
    harness.run_for(2_000);
    assert_eq!(
        harness.state[lagging.index()],
        (1..=50).collect::<Vec<u64>>(),
        "the snapshot plus the log tail rebuilt the lagging state machine"
    );
    assert!(harness.cores[lagging.index()].snapshot_index() > 0);
}

#[test]
fn single_server_membership_changes_add_then_remove() {
    // Nodes 0..3 start as the cluster; node 3 exists but is not a member.
    let mut harness = Harness::new(4, 3, RaftConfig::default());
    harness.run_for(1_000);
    let leader = harness.leaders()[0];
    harness.propose(leader, 1).expect("accepted");
    harness.run_for(200);
    let mut added = Err(ProposeError::InvalidMembershipChange);
    harness.with(leader, |core, env, out| {
        added = core.propose_membership(env, MembershipChange::Add(NodeId(3)), out)
    });
    added.expect("add accepted");
    let mut second = Ok((0, 0));
    harness.with(leader, |core, env, out| {
        second = core.propose_membership(env, MembershipChange::Remove(NodeId(0)), out)
    });
    assert_eq!(second, Err(ProposeError::MembershipChangeInProgress));
    harness.run_for(500);
    assert_eq!(harness.cores[3].members().len(), 4);
    assert_eq!(harness.state[3], vec![1], "the new server received the log");
    // Remove the leader itself: it steps down once the change commits.
    let mut removed = Err(ProposeError::InvalidMembershipChange);
    harness.with(leader, |core, env, out| {
        removed = core.propose_membership(env, MembershipChange::Remove(leader), out)
    });
    removed.expect("remove accepted");
    harness.run_for(2_000);
    let leaders = harness.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    assert_ne!(leaders[0], leader, "the removed leader stepped down");
    harness.propose(leaders[0], 2).expect("new leader accepts");
    harness.run_for(300);
    for node in 0..4u32 {
        if NodeId(node) != leader {
            assert_eq!(harness.state[node as usize], vec![1, 2], "node {node}");
        }
    }
}

#[test]
fn pre_vote_keeps_a_rejoining_server_from_deposing_a_healthy_leader() {
    for pre_vote in [false, true] {
        let config = RaftConfig {
            pre_vote,
            ..RaftConfig::default()
        };
        let mut harness = Harness::new(3, 3, config);
        harness.run_for(1_000);
        let leader = harness.leaders()[0];
        let term_before = harness.cores[leader.index()].term();
        let straggler = NodeId((leader.0 + 1) % 3);
        harness.isolated.insert(straggler);
        harness.run_for(3_000);
        harness.isolated.clear();
        harness.run_for(1_000);
        let deposed = harness.cores[leader.index()].term() != term_before;
        assert_eq!(
            deposed, !pre_vote,
            "pre_vote={pre_vote}: without pre-vote the straggler's higher term deposes the leader"
        );
    }
}

/// Figure 3.1's timer rule (row F3): a candidate that learns of a higher term
/// without granting its vote keeps its election deadline; only a granted vote,
/// a current leader's AppendEntries or a new candidacy restart it.
#[test]
fn a_candidate_that_steps_down_on_a_higher_term_keeps_its_election_deadline() {
    let members = vec![NodeId(0), NodeId(1), NodeId(2)];
    let mut core = Core::new(RaftConfig::default(), NodeId(0), members);
    let mut rng = SimRng::for_stream(7, 0);
    let mut out = Vec::new();
    core.start(
        &mut RaftEnv {
            now: SimTime::ZERO,
            rng: &mut rng,
        },
        &mut out,
    );
    let now = SimTime::from_millis(400);
    out.clear();
    core.handle_timer(
        &mut RaftEnv { now, rng: &mut rng },
        RaftTimer::Election,
        &mut out,
    );
    assert_eq!(core.role(), RaftRole::Candidate);
    let deadline = core.election_deadline;
    let later = SimTime::from_millis(410);
    let timer_restarts = |out: &[Action]| {
        out.iter()
            .filter(|action| {
                matches!(
                    action,
                    RaftAction::SetTimer {
                        timer: RaftTimer::Election,
                        ..
                    }
                )
            })
            .count()
    };
    // A rival's denial carrying a higher term: step down, same deadline.
    out.clear();
    core.handle_message(
        &mut RaftEnv {
            now: later,
            rng: &mut rng,
        },
        NodeId(1),
        RaftMessage::RequestVoteResponse {
            term: 7,
            granted: false,
            pre_vote: false,
        },
        &mut out,
    );
    assert_eq!(core.role(), RaftRole::Follower);
    assert_eq!(core.term(), 7);
    assert_eq!(timer_restarts(&out), 0, "{out:?}");
    assert_eq!(core.election_deadline, deadline);
    // Granting a vote does restart it.
    out.clear();
    core.handle_message(
        &mut RaftEnv {
            now: later,
            rng: &mut rng,
        },
        NodeId(2),
        RaftMessage::RequestVote {
            term: 8,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: false,
        },
        &mut out,
    );
    assert_eq!(core.voted_for(), Some(NodeId(2)));
    assert_eq!(timer_restarts(&out), 1, "{out:?}");
}
