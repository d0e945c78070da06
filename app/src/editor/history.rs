//! Bounded undo/redo history of whole documents.
//!
//! Every edit stores the document as it was before the edit. Scenarios are
//! small (the engine caps them at `MAX_SCENARIO_BYTES`), so whole copies are
//! simpler and safer than inverse operations, and the bound keeps memory flat.

use std::collections::VecDeque;

/// Undo steps kept; older ones are dropped first.
pub const MAX_UNDO_STEPS: usize = 100;

#[derive(Clone, Debug)]
pub struct History<T> {
    undo: VecDeque<(String, T)>,
    redo: Vec<(String, T)>,
}

impl<T> Default for History<T> {
    fn default() -> Self {
        History {
            undo: VecDeque::new(),
            redo: Vec::new(),
        }
    }
}

impl<T> History<T> {
    /// Records `before` (the document before an edit described by `label`).
    /// A new edit forgets whatever could have been redone.
    pub fn record(&mut self, label: &str, before: T) {
        if self.undo.len() == MAX_UNDO_STEPS {
            self.undo.pop_front();
        }
        self.undo.push_back((label.to_string(), before));
        self.redo.clear();
    }

    /// Steps back: returns the earlier document and keeps `current` for redo.
    pub fn undo(&mut self, current: T) -> Option<(String, T)> {
        let (label, before) = self.undo.pop_back()?;
        self.redo.push((label.clone(), current));
        Some((label, before))
    }

    /// Steps forward again: returns the later document and keeps `current` for undo.
    pub fn redo(&mut self, current: T) -> Option<(String, T)> {
        let (label, after) = self.redo.pop()?;
        self.undo.push_back((label.clone(), current));
        Some((label, after))
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }

    pub fn undo_label(&self) -> Option<&str> {
        self.undo.back().map(|(label, _)| label.as_str())
    }

    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|(label, _)| label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_then_redo_returns_to_the_same_document() {
        let mut history = History::default();
        history.record("edit", 1);
        let (label, before) = history.undo(2).unwrap();
        assert_eq!((label.as_str(), before), ("edit", 1));
        let (_, after) = history.redo(1).unwrap();
        assert_eq!(after, 2);
        assert!(history.redo(2).is_none());
    }

    #[test]
    fn a_new_edit_clears_redo() {
        let mut history = History::default();
        history.record("a", 1);
        history.undo(2).unwrap();
        history.record("b", 1);
        assert!(history.redo_label().is_none());
    }

    #[test]
    fn history_is_bounded() {
        let mut history = History::default();
        for step in 0..(MAX_UNDO_STEPS + 50) {
            history.record("edit", step);
        }
        let mut count = 0;
        let mut current = usize::MAX;
        while let Some((_, before)) = history.undo(current) {
            current = before;
            count += 1;
        }
        assert_eq!(count, MAX_UNDO_STEPS);
        assert_eq!(current, 50, "the oldest steps were dropped");
    }
}
