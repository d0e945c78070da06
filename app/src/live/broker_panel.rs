//! Broker panel: per Kafka partition its leader, replicas (LEO, HW), ISR and each consumer group's committed offsets and lag; per RabbitMQ queue its depth, unacked count, DLQ mark and quorum leader. Draws the engine's `Inspection` as is.

use crate::driver::SimView;
use crate::live::inspection_card::InspectionCard;
use faultline_engine::inspect::{Inspection, KafkaPartitionRow, KafkaReplicaRole};
use leptos::prelude::*;

#[component]
pub fn BrokerPanel() -> impl IntoView {
    let sim = expect_context::<SimView>();
    let inspection = sim.inspection;
    view! {
        <InspectionCard panel="broker" title="Brokers">
            {move || inspection.with(|inspection| match inspection {
                None => view! { <p class="inspection-empty">"Waiting for the engine…"</p> }.into_any(),
                Some(inspection) if inspection.kafka_partitions.is_empty() && inspection.rabbit_queues.is_empty() => {
                    view! { <p class="inspection-empty">"No Kafka or RabbitMQ broker in this scenario."</p> }.into_any()
                }
                Some(inspection) => broker_tables(inspection).into_any(),
            })}
        </InspectionCard>
    }
}

fn broker_tables(inspection: &Inspection) -> impl IntoView + use<> {
    let partitions = inspection.kafka_partitions.clone();
    let groups = inspection.kafka_groups.clone();
    let queues = inspection.rabbit_queues.clone();
    view! {
        {(!partitions.is_empty()).then(|| view! {
            <table class="inspection-table" data-testid="kafka-partitions">
                <thead><tr><th>"Partition"</th><th>"Leader"</th><th>"ISR"</th><th>"Replicas (LEO / HW)"</th></tr></thead>
                <tbody>{partitions.into_iter().map(partition_row).collect_view()}</tbody>
            </table>
        })}
        {(!groups.is_empty()).then(|| view! {
            <table class="inspection-table" data-testid="kafka-groups">
                <thead><tr><th>"Group"</th><th>"Partition"</th><th>"Committed"</th><th>"Lag"</th></tr></thead>
                <tbody>
                    {groups.into_iter().flat_map(|group| {
                        let label = format!("{} · {} gen {} · {} ({})", group.group, group.state, group.generation, group.coordinator,
                            if group.coordinating { "coordinator" } else { "copy" });
                        group.partitions.into_iter().enumerate().map(move |(index, row)| view! {
                            <tr>
                                <td>{(index == 0).then(|| label.clone())}</td>
                                <td>{format!("{}-{}", group.topic, row.partition)}</td>
                                <td>{row.committed_offset.map_or("—".to_string(), |offset| offset.to_string())}</td>
                                <td data-testid="kafka-lag">{row.lag.map_or("—".to_string(), |lag| lag.to_string())}</td>
                            </tr>
                        }).collect::<Vec<_>>()
                    }).collect_view()}
                </tbody>
            </table>
        })}
        {(!queues.is_empty()).then(|| view! {
            <table class="inspection-table" data-testid="rabbit-queues">
                <thead><tr><th>"Queue"</th><th>"Ready"</th><th>"Unacked"</th><th>"Quorum leader"</th></tr></thead>
                <tbody>
                    {queues.into_iter().map(|queue| view! {
                        <tr class:inspection-down=!queue.broker_up>
                            <td>
                                {format!("{}@{}", queue.queue, queue.broker)}
                                {queue.dead_letter_queue.then(|| view! { <span class="inspection-tag">"DLQ"</span> })}
                                {queue.deleted.then(|| view! { <span class="inspection-tag">"deleted"</span> })}
                            </td>
                            <td>{queue.ready}</td>
                            <td>{queue.unacked}</td>
                            <td>{match (queue.quorum, queue.quorum_leader, queue.quorum_term) {
                                (false, _, _) => "classic".to_string(),
                                (true, Some(leader), Some(term)) => format!("{leader} (term {term})"),
                                (true, _, _) => "none known".to_string(),
                            }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
        {inspection.truncated.then(|| view! { <p class="inspection-empty">"Some rows were cut to keep the panel small."</p> })}
    }
}

fn partition_row(partition: KafkaPartitionRow) -> impl IntoView {
    let leader = match (&partition.leader, partition.leader_up) {
        (Some(leader), true) => format!("{leader} (epoch {})", partition.leader_epoch),
        (Some(leader), false) => format!("{leader} — down (epoch {})", partition.leader_epoch),
        (None, _) => "offline".to_string(),
    };
    let isr = format!(
        "{} of {}{}",
        partition.isr.join(", "),
        partition.replicas.len(),
        if partition.below_min_isr {
            " < min.insync"
        } else {
            ""
        }
    );
    view! {
        <tr class:inspection-warn=partition.under_replicated data-testid="kafka-partition">
            <td>{format!("{}-{}", partition.topic, partition.partition)}</td>
            <td data-testid="kafka-leader">{leader}</td>
            <td data-testid="kafka-isr">{isr}</td>
            <td>
                {partition.replicas.into_iter().map(|replica| {
                    let role = match (replica.up, replica.role) {
                        (false, _) => "down",
                        (true, KafkaReplicaRole::Leader) => "L",
                        (true, KafkaReplicaRole::Follower) => "F",
                        (true, KafkaReplicaRole::Idle) => "idle",
                    };
                    view! {
                        <span class="inspection-replica" class:inspection-down=!replica.up class:inspection-out=!replica.in_isr>
                            {format!("{} {role} {} / {}", replica.broker, replica.log_end_offset, replica.high_watermark)}
                        </span>
                    }
                }).collect_view()}
            </td>
        </tr>
    }
}
