//! A collector of validation problems, each naming its JSON path and what was expected.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem in a scenario: where it is and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A JSON path such as `topology.links[3].to`. Empty means the document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(formatter, "{}", self.message)
        } else {
            write!(formatter, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found, in document order of discovery. Validation never stops
/// at the first one: a user fixing a file wants the whole list at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problems {
    pub problems: Vec<Problem>,
}

/// Past this many problems the rest are summarised, so a hostile file cannot
/// produce an unbounded error report.
pub const MAX_REPORTED_PROBLEMS: usize = 200;

impl Problems {
    pub fn new() -> Problems {
        Problems::default()
    }

    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Problems {
        let mut problems = Problems::new();
        problems.push(path, message);
        problems
    }

    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.problems.len() < MAX_REPORTED_PROBLEMS {
            self.problems.push(Problem {
                path: path.into(),
                message: message.into(),
            });
        } else if self.problems.len() == MAX_REPORTED_PROBLEMS {
            self.problems.push(Problem {
                path: String::new(),
                message: format!(
                    "more than {MAX_REPORTED_PROBLEMS} problems; the rest are not listed"
                ),
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn len(&self) -> usize {
        self.problems.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter()
    }

    /// `Ok(value)` when nothing was found, otherwise every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
