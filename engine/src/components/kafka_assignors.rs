//! Consumer-group partition assignors (range, round robin, cooperative sticky), run by the group leader as in Kafka.
//!
//! Pure functions of the member list and the partition count, so they are
//! deterministic and testable alone. Members are ordered by member id, as
//! Kafka's assignors order them.

use crate::message::KafkaGroupMember;
use crate::scenario::KafkaAssignor;
use std::collections::{BTreeMap, BTreeSet};

/// Member id → partitions, for every member (possibly empty).
pub type Assignment = BTreeMap<u64, Vec<u32>>;

pub fn assign(
    assignor: KafkaAssignor,
    members: &[KafkaGroupMember],
    partition_count: u32,
) -> Assignment {
    let ids: Vec<u64> = members
        .iter()
        .map(|member| member.member_id)
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .collect();
    match assignor {
        KafkaAssignor::Range => range(&ids, partition_count),
        KafkaAssignor::RoundRobin => round_robin(&ids, partition_count),
        KafkaAssignor::CooperativeSticky => cooperative_sticky(members, partition_count),
    }
}

/// `RangeAssignor`: member i gets a consecutive run; the first
/// `partitions % members` runs are one longer.
fn range(ids: &[u64], partition_count: u32) -> Assignment {
    let mut assignment: Assignment = ids.iter().map(|id| (*id, Vec::new())).collect();
    if ids.is_empty() {
        return assignment;
    }
    let per_member = partition_count / ids.len() as u32;
    let extra = partition_count % ids.len() as u32;
    let mut next = 0;
    for (index, id) in ids.iter().enumerate() {
        let length = per_member + u32::from((index as u32) < extra);
        assignment.insert(*id, (next..next + length).collect());
        next += length;
    }
    assignment
}

/// `RoundRobinAssignor`: partitions dealt out one at a time.
fn round_robin(ids: &[u64], partition_count: u32) -> Assignment {
    let mut assignment: Assignment = ids.iter().map(|id| (*id, Vec::new())).collect();
    if ids.is_empty() {
        return assignment;
    }
    for partition in 0..partition_count {
        let id = ids[partition as usize % ids.len()];
        assignment.entry(id).or_default().push(partition);
    }
    assignment
}

/// `CooperativeStickyAssignor` (KIP-429): a balanced assignment that keeps
/// as much of what members own as balance allows; then every partition that
/// would move is withheld from its new owner for this generation. Its old
/// owner revokes it and rejoins, and the follow-up rebalance hands it over,
/// so no partition is ever owned by two members at once.
fn cooperative_sticky(members: &[KafkaGroupMember], partition_count: u32) -> Assignment {
    let mut members: Vec<&KafkaGroupMember> = members.iter().collect();
    members.sort_by_key(|member| member.member_id);
    members.dedup_by_key(|member| member.member_id);
    let mut assignment: Assignment = members
        .iter()
        .map(|member| (member.member_id, Vec::new()))
        .collect();
    if members.is_empty() {
        return assignment;
    }
    let count = members.len() as u32;
    let minimum = partition_count / count;
    let members_at_maximum = partition_count % count;
    let mut at_maximum = 0;
    let mut taken: BTreeSet<u32> = BTreeSet::new();
    // Previous owner of each partition (the first claim wins if two claim it).
    let mut previous_owner: BTreeMap<u32, u64> = BTreeMap::new();
    for member in &members {
        for partition in &member.owned {
            if *partition < partition_count {
                previous_owner.entry(*partition).or_insert(member.member_id);
            }
        }
    }
    // Keep owned partitions up to the quota: `minimum` each, then one more
    // for as many members as the remainder allows.
    let valid_owned = |member: &KafkaGroupMember| -> Vec<u32> {
        member
            .owned
            .iter()
            .copied()
            .filter(|partition| previous_owner.get(partition) == Some(&member.member_id))
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect()
    };
    for member in &members {
        let kept: Vec<u32> = valid_owned(member)
            .into_iter()
            .take(minimum as usize)
            .collect();
        taken.extend(kept.iter().copied());
        assignment.insert(member.member_id, kept);
    }
    for member in &members {
        if at_maximum >= members_at_maximum {
            break;
        }
        if let Some(extra) = valid_owned(member)
            .into_iter()
            .find(|partition| !taken.contains(partition))
        {
            taken.insert(extra);
            assignment.entry(member.member_id).or_default().push(extra);
            at_maximum += 1;
        }
    }
    // Hand the rest to the least loaded member (ties: lowest member id).
    for partition in 0..partition_count {
        if taken.contains(&partition) {
            continue;
        }
        let target = assignment
            .iter()
            .filter(|(_, owned)| {
                let length = owned.len() as u32;
                length < minimum || (length == minimum && at_maximum < members_at_maximum)
            })
            .min_by_key(|(id, owned)| (owned.len(), **id))
            .map(|(id, _)| *id);
        let Some(target) = target else {
            continue;
        };
        let owned = assignment.entry(target).or_default();
        if owned.len() as u32 == minimum {
            at_maximum += 1;
        }
        owned.push(partition);
        taken.insert(partition);
    }
    // Cooperative step: a partition still owned by another member is not
    // given to its new owner until that member has revoked it.
    for (id, partitions) in assignment.iter_mut() {
        partitions.retain(|partition| {
            previous_owner
                .get(partition)
                .is_none_or(|owner| owner == id)
        });
        partitions.sort_unstable();
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::NodeId;

    fn member(member_id: u64, owned: &[u32]) -> KafkaGroupMember {
        KafkaGroupMember {
            member_id,
            node: NodeId(member_id as u32),
            owned: owned.to_vec(),
        }
    }

    #[test]
    fn range_gives_first_members_the_longer_runs() {
        // Kafka's RangeAssignor javadoc: 3 partitions, 2 consumers → [0,1] and [2].
        let assignment = assign(KafkaAssignor::Range, &[member(7, &[]), member(3, &[])], 3);
        assert_eq!(assignment[&3], vec![0, 1]);
        assert_eq!(assignment[&7], vec![2]);
    }

    #[test]
    fn round_robin_deals_partitions_one_by_one() {
        let members = [member(1, &[]), member(2, &[]), member(3, &[])];
        let assignment = assign(KafkaAssignor::RoundRobin, &members, 7);
        assert_eq!(assignment[&1], vec![0, 3, 6]);
        assert_eq!(assignment[&2], vec![1, 4]);
        assert_eq!(assignment[&3], vec![2, 5]);
    }

    #[test]
    fn cooperative_sticky_keeps_owned_and_withholds_moving_partitions() {
        // Member 1 owned all 6; member 2 joins. Balance wants 3 each, but
        // the 3 that move stay unassigned until member 1 has revoked them.
        let members = [member(1, &[0, 1, 2, 3, 4, 5]), member(2, &[])];
        let first = assign(KafkaAssignor::CooperativeSticky, &members, 6);
        assert_eq!(first[&1], vec![0, 1, 2]);
        assert!(first[&2].is_empty(), "{first:?}");
        // Second round: member 1 now owns [0,1,2]; member 2 gets the rest.
        let members = [member(1, &[0, 1, 2]), member(2, &[])];
        let second = assign(KafkaAssignor::CooperativeSticky, &members, 6);
        assert_eq!(second[&1], vec![0, 1, 2]);
        assert_eq!(second[&2], vec![3, 4, 5]);
    }

    #[test]
    fn cooperative_sticky_spreads_a_departed_members_partitions() {
        // Member 3 left: its partitions go to the survivors, who keep theirs.
        let members = [member(1, &[0, 3]), member(2, &[1, 4])];
        let assignment = assign(KafkaAssignor::CooperativeSticky, &members, 6);
        assert_eq!(assignment[&1].len() + assignment[&2].len(), 6);
        assert!(assignment[&1].contains(&0) && assignment[&1].contains(&3));
        assert!(assignment[&2].contains(&1) && assignment[&2].contains(&4));
    }
}
