//! The open scenario and the outcome of the last load attempt (built-in example or upload).
//!
//! Loading is all-or-nothing: text is parsed by the engine and a simulator is
//! built before anything is replaced, so a bad file only produces a
//! `LoadFailure` and the current work stays as it was.

use crate::driver::SimDriver;
use crate::loader::{self, ExampleEntry};
use faultline_engine::scenario::{Problem, Problems};
use faultline_engine::{Scenario, parse_scenario};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Why the last load was refused: the engine's problems, each with its JSON path.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadFailure {
    /// What was being loaded, e.g. `upload "broken.json"`.
    pub source: String,
    pub problems: Vec<Problem>,
}

/// What the view reads. Written only by `Workspace`.
#[derive(Clone, Copy)]
pub struct WorkspaceView {
    pub scenario: ReadSignal<Option<Scenario>>,
    pub load_failure: ReadSignal<Option<LoadFailure>>,
    pub examples: ReadSignal<Vec<ExampleEntry>>,
    /// File name of the example on screen; empty for an uploaded scenario.
    pub selected_example: ReadSignal<String>,
    pub loading: ReadSignal<bool>,
}

/// Loads scenarios into the driver. `Copy`: arena handles only.
#[derive(Clone, Copy)]
pub struct Workspace {
    driver: SimDriver,
    set_scenario: WriteSignal<Option<Scenario>>,
    set_load_failure: WriteSignal<Option<LoadFailure>>,
    set_examples: WriteSignal<Vec<ExampleEntry>>,
    set_selected_example: WriteSignal<String>,
    set_loading: WriteSignal<bool>,
    /// Bumped by every load request; a response for an older request is
    /// ignored, so quick successive picks cannot land out of order.
    latest_request: StoredValue<u64>,
}

impl Workspace {
    pub fn new(driver: SimDriver) -> (Workspace, WorkspaceView) {
        let (scenario, set_scenario) = signal(None::<Scenario>);
        let (load_failure, set_load_failure) = signal(None::<LoadFailure>);
        let (examples, set_examples) = signal(Vec::<ExampleEntry>::new());
        let (selected_example, set_selected_example) = signal(String::new());
        let (loading, set_loading) = signal(false);
        let workspace = Workspace {
            driver,
            set_scenario,
            set_load_failure,
            set_examples,
            set_selected_example,
            set_loading,
            latest_request: StoredValue::new(0),
        };
        let view = WorkspaceView {
            scenario,
            load_failure,
            examples,
            selected_example,
            loading,
        };
        (workspace, view)
    }

    /// Fetches the example list and opens the default example.
    pub fn start(self) {
        spawn_local(async move {
            match loader::fetch_example_index().await {
                Ok(examples) => self.set_examples.set(examples),
                Err(message) => self.fail("the example list", Problems::single("", message)),
            }
        });
        self.open_example(loader::DEFAULT_EXAMPLE_FILE.to_string());
    }

    pub fn open_example(self, file: String) {
        let request = self.begin_request();
        spawn_local(async move {
            let text = loader::fetch_example(&file).await;
            if self.is_current(request) {
                let source = format!("example \"{file}\"");
                self.accept(&source, text, file);
            }
        });
    }

    pub fn open_file(self, file: web_sys::File) {
        let request = self.begin_request();
        spawn_local(async move {
            let name = file.name();
            let text = loader::read_file_text(file).await;
            if self.is_current(request) {
                self.accept(&format!("upload \"{name}\""), text, String::new());
            }
        });
    }

    pub fn dismiss_failure(self) {
        self.set_load_failure.set(None);
    }

    fn begin_request(self) -> u64 {
        self.set_loading.set(true);
        self.latest_request.update_value(|latest| *latest += 1);
        self.latest_request.get_value()
    }

    fn is_current(self, request: u64) -> bool {
        self.latest_request.get_value() == request
    }

    /// Parses and installs `text`, or reports why not and keeps the current scenario.
    fn accept(self, source: &str, text: Result<String, String>, example_file: String) {
        self.set_loading.set(false);
        let parsed = text
            .map_err(|message| Problems::single("", message))
            .and_then(|text| parse_scenario(&text));
        let installed = parsed.and_then(|scenario| {
            self.driver.load(&scenario)?;
            Ok(scenario)
        });
        match installed {
            Ok(scenario) => {
                self.set_scenario.set(Some(scenario));
                self.set_selected_example.set(example_file);
                self.set_load_failure.set(None);
            }
            Err(problems) => self.fail(source, problems),
        }
    }

    fn fail(self, source: &str, problems: Problems) {
        // The picker may already show the refused choice; notify so that it
        // re-syncs to the example that is actually open.
        self.set_selected_example.update(|_| {});
        self.set_load_failure.set(Some(LoadFailure {
            source: source.to_string(),
            problems: problems.problems,
        }));
    }
}
