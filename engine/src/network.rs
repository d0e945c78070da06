//! The simulated network: per-link latency, jitter, bandwidth, loss, duplication, reordering,
//! partitions (symmetric or one-way) and held links.
//!
//! Routing decisions draw from a random stream per link, so changing traffic
//! on one link never perturbs another. Links are bidirectional; each direction
//! has its own FIFO clock (a message may not overtake an earlier one unless
//! the link's reorder probability says so) and its own serialisation queue.

use crate::message::{Envelope, NodeId};
use crate::rng::{SimRng, stream};
use crate::scenario::{LinkKind, LinkNetwork, Scenario};
use crate::time::{SimDuration, SimTime};
use crate::trace::DropReason;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A declared link at run time.
#[derive(Clone)]
pub struct LinkRuntime {
    pub a: NodeId,
    pub b: NodeId,
    pub kind: LinkKind,
    pub network: LinkNetwork,
    rng: SimRng,
}

#[derive(Clone, Default)]
struct DirectionState {
    /// Latest scheduled delivery; FIFO messages are not delivered before it.
    last_delivery: SimTime,
    /// When the serialiser is free again (bandwidth model).
    busy_until: SimTime,
    held: bool,
    held_messages: VecDeque<Envelope>,
}

/// Where a sent message goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Dropped(DropReason),
    Held,
    Deliver {
        at: SimTime,
        duplicate_at: Option<SimTime>,
    },
}

#[derive(Clone)]
pub struct Network {
    links: Vec<LinkRuntime>,
    /// Unordered node pair → link index.
    link_by_pair: BTreeMap<(NodeId, NodeId), usize>,
    default_network: LinkNetwork,
    default_rng: SimRng,
    directions: BTreeMap<(NodeId, NodeId), DirectionState>,
    /// Directed pairs that cannot communicate.
    blocked: BTreeSet<(NodeId, NodeId)>,
}

fn unordered(first: NodeId, second: NodeId) -> (NodeId, NodeId) {
    if first <= second {
        (first, second)
    } else {
        (second, first)
    }
}

impl Network {
    pub fn new(scenario: &Scenario, node_ids: &BTreeMap<String, NodeId>, seed: u64) -> Network {
        let mut links = Vec::new();
        let mut link_by_pair = BTreeMap::new();
        for (index, link) in scenario.topology.links.iter().enumerate() {
            let (Some(&a), Some(&b)) = (node_ids.get(&link.from), node_ids.get(&link.to)) else {
                continue;
            };
            link_by_pair.insert(unordered(a, b), links.len());
            links.push(LinkRuntime {
                a,
                b,
                kind: link.kind,
                network: link.network.clone(),
                rng: SimRng::for_stream(seed, stream::LINK_BASE + index as u64),
            });
        }
        Network {
            links,
            link_by_pair,
            default_network: scenario
                .topology
                .default_network
                .clone()
                .unwrap_or_default(),
            default_rng: SimRng::for_stream(seed, stream::LINK_BASE - 1),
            directions: BTreeMap::new(),
            blocked: BTreeSet::new(),
        }
    }

    pub fn links(&self) -> &[LinkRuntime] {
        &self.links
    }

    pub fn link_index(&self, from: NodeId, to: NodeId) -> Option<usize> {
        self.link_by_pair.get(&unordered(from, to)).copied()
    }

    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        from != to && self.blocked.contains(&(from, to))
    }

    pub fn is_held(&self, from: NodeId, to: NodeId) -> bool {
        self.directions
            .get(&(from, to))
            .is_some_and(|direction| direction.held)
    }

    /// Cuts communication between every pair of nodes in different groups.
    /// `groups` are complete: callers add the implicit "everyone else" group.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        for (left_index, left) in groups.iter().enumerate() {
            for right in groups.iter().skip(left_index + 1) {
                for &first in left {
                    for &second in right {
                        self.blocked.insert((first, second));
                        self.blocked.insert((second, first));
                    }
                }
            }
        }
    }

    pub fn partition_one_way(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &sender in from {
            for &receiver in to {
                if sender != receiver {
                    self.blocked.insert((sender, receiver));
                }
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn hold(&mut self, from: NodeId, to: NodeId) {
        self.directions.entry((from, to)).or_default().held = true;
    }

    /// Stops holding and hands back the held messages, oldest first.
    pub fn release(&mut self, from: NodeId, to: NodeId) -> Vec<Envelope> {
        match self.directions.get_mut(&(from, to)) {
            Some(direction) => {
                direction.held = false;
                direction.held_messages.drain(..).collect()
            }
            None => Vec::new(),
        }
    }

    /// Replaces the network between two nodes: the declared link's, or (with
    /// no link) the default network — which then applies to all unlinked pairs.
    pub fn set_network(&mut self, from: NodeId, to: NodeId, network: LinkNetwork) {
        match self.link_index(from, to) {
            Some(index) => self.links[index].network = network,
            None => self.default_network = network,
        }
    }

    /// Decides the fate of `envelope` sent at `now`. Holding stores it here.
    pub fn route(&mut self, now: SimTime, envelope: &Envelope) -> Route {
        let (from, to) = (envelope.from, envelope.to);
        if from == to {
            return Route::Deliver {
                at: now,
                duplicate_at: None,
            };
        }
        if self.is_blocked(from, to) {
            return Route::Dropped(DropReason::Partition);
        }
        let (network, rng) = match self.link_by_pair.get(&unordered(from, to)) {
            Some(&index) => {
                let link = &mut self.links[index];
                (&link.network, &mut link.rng)
            }
            None => (&self.default_network, &mut self.default_rng),
        };
        if rng.chance(network.loss_probability) {
            return Route::Dropped(DropReason::Loss);
        }
        let direction = self.directions.entry((from, to)).or_default();
        // Serialisation: the message occupies the link after earlier ones.
        let mut departure = now;
        if let Some(bandwidth_mbps) = network.bandwidth_mbps {
            let start = departure.max(direction.busy_until);
            let transmit = SimDuration::from_millis_f64(
                envelope.size_bytes as f64 * 8.0 / (bandwidth_mbps * 1_000.0),
            );
            direction.busy_until = start.plus(transmit);
            departure = direction.busy_until;
        }
        let propagation = |rng: &mut SimRng| {
            let jitter = if network.jitter_ms > 0.0 {
                network.jitter_ms * rng.next_f64()
            } else {
                0.0
            };
            SimDuration::from_millis_f64(network.latency.sample_ms(rng) + jitter)
        };
        let mut at = departure.plus(propagation(rng));
        if !rng.chance(network.reorder_probability) {
            at = at.max(direction.last_delivery);
            direction.last_delivery = at;
        }
        let duplicate_at = rng
            .chance(network.duplicate_probability)
            .then(|| departure.plus(propagation(rng)));
        if direction.held {
            direction.held_messages.push_back(envelope.clone());
            return Route::Held;
        }
        Route::Deliver { at, duplicate_at }
    }
}
