//! A/B compare: the current run (A, with every fault recorded into its plan)
//! against a variant (B) with one property of one node changed, e.g. a Kafka
//! producer's `acks` from "1" to "all". Both run to the end under the same
//! seed and the same fault plan (whole runs: some checks decide only at the
//! end); the checks are shown side by side. A runs first, then B, each as a
//! seek in the engine worker; "Show A" / "Show B" reload that side and seek
//! again (deterministic), so the canvas always shows the side selected.

use crate::driver::{SimDriver, SimView};
use crate::format;
use faultline_engine::Scenario;
use faultline_engine::checkers::CheckStatus;
use faultline_engine::scenario::parse_scenario_value;
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
struct Variant {
    a: Scenario,
    b: Scenario,
    /// Both sides are compared at this sim time.
    at_us: u64,
    change: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    A,
    B,
}

fn status_text(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Fail => "fail",
        CheckStatus::Pending => "pending",
    }
}

/// The scenario with `properties[key]` of node `node_id` replaced by `value`
/// (JSON; a bare word is taken as a string), validated by the engine.
fn variant_of(
    scenario: &Scenario,
    node_id: &str,
    key: &str,
    value: &str,
) -> Result<Scenario, String> {
    let mut document = serde_json::to_value(scenario).map_err(|error| error.to_string())?;
    let value = serde_json::from_str::<serde_json::Value>(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    let node = document["topology"]["nodes"]
        .as_array_mut()
        .and_then(|nodes| nodes.iter_mut().find(|node| node["id"] == node_id))
        .ok_or_else(|| format!("no node {node_id}"))?;
    let properties = node["properties"]
        .as_object_mut()
        .ok_or_else(|| format!("{node_id} has no properties"))?;
    properties.insert(key.to_string(), value);
    parse_scenario_value(document).map_err(|problems| problems.to_string())
}

/// Property names of a node in the run's scenario, as the JSON document has them.
fn property_keys(scenario: &Scenario, node_id: &str) -> Vec<String> {
    serde_json::to_value(scenario)
        .ok()
        .and_then(|document| {
            document["topology"]["nodes"].as_array().and_then(|nodes| {
                nodes
                    .iter()
                    .find(|node| node["id"] == node_id)
                    .and_then(|node| node["properties"].as_object())
                    .map(|properties| properties.keys().cloned().collect())
            })
        })
        .unwrap_or_default()
}

#[component]
pub fn ComparePanel(driver: SimDriver, sim: SimView) -> impl IntoView {
    let (node_id, set_node_id) = signal(String::new());
    let (key, set_key) = signal(String::new());
    let (value, set_value) = signal(String::new());
    let (error, set_error) = signal(None::<String>);
    let variant = RwSignal::new(None::<Variant>);
    let showing = RwSignal::new(Side::A);
    let a_checks = RwSignal::new(Vec::<(String, CheckStatus)>::new());
    let b_checks = RwSignal::new(Vec::<(String, CheckStatus)>::new());
    // Sides still to run after the one on screen reaches the comparison time.
    let pending_sides = RwSignal::new(Vec::<Side>::new());

    let node_ids = Memo::new(move |_| {
        sim.run_scenario.with(|scenario| {
            scenario
                .as_ref()
                .map(|scenario| {
                    scenario
                        .topology
                        .nodes
                        .iter()
                        .map(|node| node.id.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let keys = Memo::new(move |_| {
        let node = node_id.get();
        sim.run_scenario.with(|scenario| {
            scenario
                .as_ref()
                .map(|scenario| property_keys(scenario, &node))
                .unwrap_or_default()
        })
    });

    let current_checks = move || {
        sim.snapshot.with_untracked(|snapshot| {
            snapshot
                .as_ref()
                .map(|snapshot| {
                    snapshot
                        .checks
                        .iter()
                        .map(|check| (check.name.clone(), check.status))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };

    let show = move |side: Side| {
        let Some(variant) = variant.get_untracked() else {
            return;
        };
        let scenario = match side {
            Side::A => variant.a,
            Side::B => variant.b,
        };
        showing.set(side);
        if driver.load(&scenario).is_ok() {
            driver.seek(variant.at_us);
        }
    };

    // Once the side on screen has reached the comparison time, keep its
    // checks, then run the side still pending (A first, then B).
    Effect::new(move |_| {
        let (now_us, finished) = sim.snapshot.with(|s| {
            s.as_ref()
                .map_or((0, false), |s| (s.now_us, s.finished.is_some()))
        });
        let seeking = sim.seeking.get();
        let Some(at_us) = variant.with(|variant| variant.as_ref().map(|variant| variant.at_us))
        else {
            return;
        };
        if !seeking && (now_us >= at_us || finished) {
            let checks = current_checks();
            match showing.get_untracked() {
                Side::A => a_checks.set(checks),
                Side::B => b_checks.set(checks),
            }
            if let Some(next) = pending_sides.try_update(|pending| pending.pop()).flatten() {
                show(next);
            }
        }
    });

    let on_run_variant = move |_| {
        set_error.set(None);
        let Some(a) = sim.run_scenario.get_untracked() else {
            set_error.set(Some("no run is loaded".to_string()));
            return;
        };
        let (node, key, value) = (
            node_id.get_untracked(),
            key.get_untracked(),
            value.get_untracked(),
        );
        if node.is_empty() || key.is_empty() {
            set_error.set(Some("pick a node and a property".to_string()));
            return;
        }
        match variant_of(&a, &node, &key, &value) {
            Ok(b) => {
                let at_us = sim
                    .snapshot
                    .with_untracked(|s| s.as_ref().map_or(0, |s| s.end_us));
                a_checks.set(Vec::new());
                b_checks.set(Vec::new());
                variant.set(Some(Variant {
                    a,
                    b,
                    at_us,
                    change: format!("{node}.{key} = {value}"),
                }));
                // A first, then B (popped from the back).
                pending_sides.set(vec![Side::B]);
                show(Side::A);
            }
            Err(message) => set_error.set(Some(message)),
        }
    };

    let rows = move || {
        let a = a_checks.get();
        let b = b_checks.get();
        let mut names: Vec<String> = a.iter().map(|(name, _)| name.clone()).collect();
        for (name, _) in &b {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
            .into_iter()
            .map(|name| {
                let find = |side: &[(String, CheckStatus)]| {
                    side.iter()
                        .find(|(check, _)| *check == name)
                        .map_or("—", |(_, status)| status_text(*status))
                };
                let (a_status, b_status) = (find(&a), find(&b));
                let differs = a_status != b_status;
                view! {
                    <tr data-testid="compare-row" data-check=name.clone() data-differs=differs.to_string()>
                        <td><code>{name.clone()}</code></td>
                        <td data-testid="compare-a" data-status=a_status>{a_status}</td>
                        <td data-testid="compare-b" data-status=b_status>{b_status}</td>
                    </tr>
                }
            })
            .collect_view()
    };

    view! {
        <section class="card compare" data-testid="compare" aria-labelledby="compare-heading">
            <h2 id="compare-heading" class="card-title">"Compare A/B"</h2>
            <p class="card-hint">
                "B is this run with one property changed: same seed, same fault plan (live faults included), both run to the end."
            </p>
            <div class="compare-form">
                <label>
                    "Node "
                    <select data-testid="compare-node" prop:value=node_id on:change=move |ev| { set_node_id.set(event_target_value(&ev)); set_key.set(String::new()); }>
                        <option value="">"—"</option>
                        {move || node_ids.get().into_iter().map(|id| view! { <option value=id.clone()>{id.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Property "
                    <select data-testid="compare-key" prop:value=key on:change=move |ev| set_key.set(event_target_value(&ev))>
                        <option value="">"—"</option>
                        {move || keys.get().into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Value "
                    <input data-testid="compare-value" type="text" prop:value=value on:input=move |ev| set_value.set(event_target_value(&ev)) />
                </label>
                <button class="button" data-testid="compare-run" on:click=on_run_variant>"Run B"</button>
            </div>
            {move || error.get().map(|message| view! { <p class="compare-error" role="alert">{message}</p> })}
            {move || {
                variant
                    .get()
                    .map(|variant| {
                        view! {
                            <p class="compare-change" data-testid="compare-change">
                                "B: " <code>{variant.change.clone()}</code> " · at "
                                {format::sim_seconds(variant.at_us)}
                            </p>
                            <div class="buttons" role="group" aria-label="Side shown on the canvas">
                                <button class="button small" data-testid="compare-show-a" aria-pressed=move || (showing.get() == Side::A).to_string() on:click=move |_| show(Side::A)>"Show A"</button>
                                <button class="button small" data-testid="compare-show-b" aria-pressed=move || (showing.get() == Side::B).to_string() on:click=move |_| show(Side::B)>"Show B"</button>
                            </div>
                            <table class="compare-table">
                                <thead><tr><th>"check"</th><th>"A"</th><th>"B"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        }
                    })
            }}
        </section>
    }
}
