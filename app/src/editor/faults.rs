//! Edits of the scenario's fault plan (scripted timeline and nemesis) and its
//! expectations, each one undoable step through `Editor::try_edit`, refused
//! with serde's message (in JSON words) when the result would not load; plus
//! "Add fault…" for a node or a link from the canvas.
//!
//! Which faults make sense is the engine's business: a new fault starts from
//! a plain crash (node) or a link change (link) and the validator judges it.

use super::workload::with_field;
use super::{Editor, Selection, clarify};
use faultline_engine::scenario::{FaultAction, ScheduledFault};
use leptos::prelude::*;
use serde_json::Value;

/// Undo label for replacing a list of `before` items by `after` ones.
fn list_label(noun: &str, before: usize, after: Option<usize>) -> String {
    match after {
        Some(after) if after > before => format!("Add {noun}"),
        Some(after) if after < before => format!("Remove {noun}"),
        _ => format!("Edit {noun}"),
    }
}

fn array_len(value: &Option<Value>) -> Option<usize> {
    value.as_ref().and_then(Value::as_array).map(Vec::len)
}

impl Editor {
    /// Sets one field of `faults` (`timeline`, `nemesis`).
    pub fn set_fault_plan_field(self, field: &str, value: Option<Value>) -> Result<(), String> {
        let before = self.document.with_untracked(|document| {
            document
                .as_ref()
                .map_or(0, |scenario| scenario.faults.timeline.len())
        });
        let label = if field == "timeline" {
            list_label("fault", before, array_len(&value))
        } else {
            format!("Edit {}", field.replace('_', " "))
        };
        self.try_edit(&label, |scenario| {
            scenario.faults = with_field(&scenario.faults, field, value)?;
            Ok(())
        })
    }

    /// Replaces `expectations` (None: none).
    pub fn set_expectations(self, value: Option<Value>) -> Result<(), String> {
        let before = self.document.with_untracked(|document| {
            document
                .as_ref()
                .map_or(0, |scenario| scenario.expectations.len())
        });
        let label = list_label("expectation", before, array_len(&value));
        self.try_edit(&label, |scenario| {
            scenario.expectations = match value {
                Some(value) => {
                    serde_json::from_value(value).map_err(|error| clarify(&error.to_string()))?
                }
                None => Vec::new(),
            };
            Ok(())
        })
    }

    /// Appends a fault about what is selected: a crash of the (first)
    /// selected node, or a change of the selected link's network (10% loss,
    /// its other properties as they are) that the user then edits in the
    /// fault plan. It starts a third of the way into the run. The selection is
    /// cleared so the inspector shows the fault plan. Returns whether a fault
    /// was added.
    pub fn add_fault_for_selection(self) -> bool {
        let selection = self.selection.get_untracked();
        let mut added = false;
        self.edit("Add fault", |scenario| {
            let at_ms = scenario.run.duration_ms / 3 / 100 * 100;
            let action = if let Some(index) = selection.link {
                scenario.topology.links.get(index).map(|link| {
                    let mut network = link.network.clone();
                    if network.loss_probability == 0.0 {
                        network.loss_probability = 0.1;
                    }
                    FaultAction::SetLink {
                        from: link.from.clone(),
                        to: link.to.clone(),
                        network,
                    }
                })
            } else {
                selection
                    .nodes
                    .iter()
                    .next()
                    .map(|node| FaultAction::Crash { node: node.clone() })
            };
            if let Some(action) = action {
                scenario
                    .faults
                    .timeline
                    .push(ScheduledFault { at_ms, action });
                added = true;
            }
        });
        if added {
            self.select(Selection::default());
        }
        added
    }
}
