//! Opening, saving and sharing scenarios: built-in examples, files (picker or
//! drag-and-drop), the autosave, recent scenarios, share links and new ones.
//!
//! Opening a file is all-or-nothing: the text is parsed and validated by the
//! engine before anything is replaced, so a bad file only produces a
//! `LoadFailure` and the current work stays as it was. The autosave and
//! share links may carry work in progress, so those open whenever they
//! decode, and their validation problems show in the Problems panel.

use crate::editor::storage::{self, RecentScenario};
use crate::editor::{Editor, share};
use crate::loader::{self, ExampleEntry};
use faultline_engine::scenario::limits::MAX_SCENARIO_BYTES;
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
    /// File name of the example on screen; empty for anything else.
    pub selected_example: ReadSignal<String>,
    pub loading: ReadSignal<bool>,
    pub recent: ReadSignal<Vec<RecentScenario>>,
    /// The last share link made, shown in the share dialog.
    pub share_url: ReadSignal<Option<String>>,
}

/// How strictly opened text is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// Files and examples: any validation problem refuses the document.
    Valid,
    /// Autosave, share links, recent work: a document that decodes opens,
    /// and its problems are listed for the user to fix.
    Decodable,
}

/// Loads scenarios into the editor. `Copy`: arena handles only.
#[derive(Clone, Copy)]
pub struct Workspace {
    editor: Editor,
    set_load_failure: WriteSignal<Option<LoadFailure>>,
    load_failure_now: ReadSignal<Option<LoadFailure>>,
    set_examples: WriteSignal<Vec<ExampleEntry>>,
    set_selected_example: WriteSignal<String>,
    set_loading: WriteSignal<bool>,
    set_recent: WriteSignal<Vec<RecentScenario>>,
    pub set_share_url: WriteSignal<Option<String>>,
    /// Bumped by every load request; a response for an older request is
    /// ignored, so quick successive picks cannot land out of order.
    latest_request: StoredValue<u64>,
    /// A refusal to show once whatever opens instead has opened (a damaged
    /// share link at start-up, replaced by the autosave or an example).
    pending_failure: StoredValue<Option<LoadFailure>>,
}

const BLANK_SCENARIO: &str = r#"{"version":1,"metadata":{"title":"Untitled scenario"},"topology":{"nodes":[]},"run":{"seed":1,"duration_ms":30000}}"#;

impl Workspace {
    pub fn new(editor: Editor) -> (Workspace, WorkspaceView) {
        let (load_failure, set_load_failure) = signal(None::<LoadFailure>);
        let (examples, set_examples) = signal(Vec::<ExampleEntry>::new());
        let (selected_example, set_selected_example) = signal(String::new());
        let (loading, set_loading) = signal(false);
        let (recent, set_recent) = signal(storage::read_recent());
        let (share_url, set_share_url) = signal(None::<String>);
        let workspace = Workspace {
            editor,
            set_load_failure,
            load_failure_now: load_failure,
            set_examples,
            set_selected_example,
            set_loading,
            set_recent,
            set_share_url,
            latest_request: StoredValue::new(0),
            pending_failure: StoredValue::new(None),
        };
        let view = WorkspaceView {
            scenario: editor.document,
            load_failure,
            examples,
            selected_example,
            loading,
            recent,
            share_url,
        };
        (workspace, view)
    }

    /// Fetches the example list, then opens (in this order) a share link in
    /// the URL, the autosaved work, or the default example.
    pub fn start(self) {
        spawn_local(async move {
            match loader::fetch_example_index().await {
                Ok(examples) => self.set_examples.set(examples),
                Err(message) => self.fail("the example list", Problems::single("", message)),
            }
        });
        let hash = window().location().hash().unwrap_or_default();
        if let Some(text) = share::decode_fragment(&hash) {
            // Drop the fragment once read: a later reload must come back to
            // the autosaved edits, not to the link's original content.
            let location = window().location();
            let without_fragment = format!(
                "{}{}",
                location.pathname().unwrap_or_default(),
                location.search().unwrap_or_default()
            );
            if let Ok(history) = window().history() {
                let _ = history.replace_state_with_url(
                    &wasm_bindgen::JsValue::NULL,
                    "",
                    Some(&without_fragment),
                );
            }
            let request = self.begin_request();
            if self.is_current(request) {
                self.accept("share link", text, String::new(), Strictness::Decodable);
                if self.editor.document.with_untracked(Option::is_some) {
                    self.editor
                        .notify("Opened the scenario from the share link", false);
                    return;
                }
                self.pending_failure
                    .set_value(self.load_failure_now.get_untracked());
            }
        }
        if let Some(autosave) = storage::read_autosave() {
            let request = self.begin_request();
            if self.is_current(request) {
                self.accept(
                    "autosave",
                    Ok(autosave.scenario_json),
                    String::new(),
                    Strictness::Decodable,
                );
                if self.editor.document.with_untracked(Option::is_some) {
                    self.editor.notify(
                        format!(
                            "Restored your work from the autosave at {}",
                            storage::clock_time(autosave.saved_at_ms)
                        ),
                        false,
                    );
                    return;
                }
            }
        }
        self.open_example(loader::DEFAULT_EXAMPLE_FILE.to_string());
    }

    pub fn open_example(self, file: String) {
        let request = self.begin_request();
        spawn_local(async move {
            let text = loader::fetch_example(&file).await;
            if self.is_current(request) {
                let source = format!("example \"{file}\"");
                self.accept(&source, text, file, Strictness::Valid);
            }
        });
    }

    pub fn open_file(self, file: web_sys::File) {
        let request = self.begin_request();
        spawn_local(async move {
            let name = file.name();
            let text = loader::read_file_text(file).await;
            if self.is_current(request)
                && self.accept(
                    &format!("upload \"{name}\""),
                    text,
                    String::new(),
                    Strictness::Valid,
                )
            {
                self.editor.notify(format!("Opened {name}"), false);
                self.remember_current();
            }
        });
    }

    pub fn open_recent(self, index: usize) {
        let Some(entry) = storage::read_recent().into_iter().nth(index) else {
            return;
        };
        let request = self.begin_request();
        if self.is_current(request) {
            let source = format!("recent \"{}\"", entry.title);
            self.accept(
                &source,
                Ok(entry.scenario_json),
                String::new(),
                Strictness::Decodable,
            );
        }
    }

    /// Replaces the document with an empty scenario (undoable).
    pub fn new_scenario(self) {
        let Ok(blank) = serde_json::from_str::<Scenario>(BLANK_SCENARIO) else {
            return;
        };
        self.set_selected_example.set(String::new());
        if self.editor.document.with_untracked(Option::is_some) {
            self.editor
                .edit("New scenario", |scenario| *scenario = blank);
            self.editor.fit_view();
        } else {
            self.editor.load_document(blank);
        }
    }

    /// Downloads the document as pretty JSON and lists it under recent.
    pub fn download(self) {
        let Some(scenario) = self.editor.document.get_untracked() else {
            return;
        };
        let Ok(text) = serde_json::to_string_pretty(&scenario) else {
            return;
        };
        let file_name = loader::file_name_for(&scenario.metadata.title);
        match loader::download_text(&file_name, &text) {
            Ok(()) => {
                self.editor.notify(format!("Saved {file_name}"), false);
                self.remember_current();
            }
            Err(message) => self
                .editor
                .notify(format!("Could not save: {message}"), true),
        }
    }

    /// Puts the document into the URL fragment and opens the share dialog,
    /// or explains why it cannot be shared as a link.
    pub fn share(self) {
        let Some(scenario) = self.editor.document.get_untracked() else {
            return;
        };
        let Ok(text) = serde_json::to_string(&scenario) else {
            return;
        };
        match share::encode_fragment(&text) {
            Ok(fragment) => {
                let location = window().location();
                let base = format!(
                    "{}{}{}",
                    location.origin().unwrap_or_default(),
                    location.pathname().unwrap_or_default(),
                    location.search().unwrap_or_default()
                );
                self.set_share_url.set(Some(format!("{base}#{fragment}")));
            }
            Err(message) => self.editor.notify(message, true),
        }
    }

    pub fn dismiss_failure(self) {
        self.set_load_failure.set(None);
    }

    fn remember_current(self) {
        if let Some(scenario) = self.editor.document.get_untracked()
            && let Ok(text) = serde_json::to_string(&scenario)
        {
            let title = if scenario.metadata.title.is_empty() {
                "Untitled scenario".to_string()
            } else {
                scenario.metadata.title.clone()
            };
            self.set_recent.set(storage::remember_recent(&title, text));
        }
    }

    fn begin_request(self) -> u64 {
        self.set_loading.set(true);
        self.latest_request.update_value(|latest| *latest += 1);
        self.latest_request.get_value()
    }

    fn is_current(self, request: u64) -> bool {
        self.latest_request.get_value() == request
    }

    /// Parses and installs `text`, or reports why not and keeps the current
    /// document. Returns whether the document was replaced.
    fn accept(
        self,
        source: &str,
        text: Result<String, String>,
        example_file: String,
        strictness: Strictness,
    ) -> bool {
        self.set_loading.set(false);
        let text = match text {
            Ok(text) => text,
            Err(message) => {
                self.fail(source, Problems::single("", message));
                return false;
            }
        };
        let parsed = parse_scenario(&text).or_else(|problems| {
            // Work in progress may not validate yet; it still opens if it decodes.
            if strictness == Strictness::Decodable && text.len() <= MAX_SCENARIO_BYTES {
                serde_json::from_str::<Scenario>(&text).map_err(|_| problems)
            } else {
                Err(problems)
            }
        });
        match parsed {
            Ok(scenario) => {
                self.editor.load_document(scenario);
                self.set_selected_example.set(example_file);
                let pending = self
                    .pending_failure
                    .try_update_value(Option::take)
                    .flatten();
                self.set_load_failure.set(pending);
                true
            }
            Err(problems) => {
                self.fail(source, problems);
                false
            }
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
