//! Replication panel: per Raft member its term, role, vote, commit index, last applied and log tail; per leader/follower database replica its role and replication offset. Draws the engine's `Inspection` as is.

use crate::driver::SimView;
use crate::live::inspection_card::InspectionCard;
use faultline_engine::inspect::{Inspection, RaftMemberRow};
use leptos::prelude::*;

#[component]
pub fn ReplicationPanel() -> impl IntoView {
    let sim = expect_context::<SimView>();
    let inspection = sim.inspection;
    view! {
        <InspectionCard panel="replication" title="Replication">
            {move || inspection.with(|inspection| match inspection {
                None => view! { <p class="inspection-empty">"Waiting for the engine…"</p> }.into_any(),
                Some(inspection) if inspection.raft_members.is_empty() && inspection.database_replicas.is_empty() => {
                    view! { <p class="inspection-empty">"No Raft group or replicated database in this scenario."</p> }.into_any()
                }
                Some(inspection) => replication_tables(inspection).into_any(),
            })}
        </InspectionCard>
    }
}

fn replication_tables(inspection: &Inspection) -> impl IntoView + use<> {
    let members = inspection.raft_members.clone();
    let databases = inspection.database_replicas.clone();
    view! {
        {(!members.is_empty()).then(|| view! {
            <table class="inspection-table" data-testid="raft-members">
                <thead><tr><th>"Node"</th><th>"Role"</th><th>"Term"</th><th>"Voted"</th><th>"Commit / applied"</th><th>"Log tail (index:term)"</th></tr></thead>
                <tbody>{members.into_iter().map(member_row).collect_view()}</tbody>
            </table>
        })}
        {(!databases.is_empty()).then(|| view! {
            <table class="inspection-table" data-testid="database-replicas">
                <thead><tr><th>"Replica"</th><th>"Role"</th><th>"Epoch"</th><th>"Offset"</th><th>"Behind"</th></tr></thead>
                <tbody>
                    {databases.into_iter().map(|row| view! {
                        <tr class:inspection-down=!row.up>
                            <td>{row.node}</td>
                            <td>{match row.following { Some(primary) => format!("{} of {primary}", row.role), None => row.role }}</td>
                            <td>{row.epoch}</td>
                            <td>{row.replication_offset}</td>
                            <td>{row.behind_primary.map_or("—".to_string(), |behind| behind.to_string())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

fn member_row(member: RaftMemberRow) -> impl IntoView {
    let role_class = format!("inspection-role inspection-role-{}", member.role);
    view! {
        <tr class:inspection-down=!member.up data-testid="raft-member">
            <td>{member.node}</td>
            <td><span class=role_class>{member.role}</span></td>
            <td>{member.term}</td>
            <td>{member.voted_for.unwrap_or_else(|| "—".to_string())}</td>
            <td>{format!("{} / {}", member.commit_index, member.last_applied)}</td>
            <td class="inspection-log">
                {member.log_tail.into_iter().map(|entry| view! {
                    <span class="inspection-entry" class:inspection-uncommitted=!entry.committed title=entry.text.clone()>
                        {format!("{}:{}", entry.index, entry.term)}
                    </span>
                }).collect_view()}
            </td>
        </tr>
    }
}
