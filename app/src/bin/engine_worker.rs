//! The engine's Web Worker: runs the simulator off the page's thread so the
//! UI keeps its frame rate while the engine works.
//!
//! Trunk builds this binary as a worker (`data-type="worker"` in index.html)
//! with a loader shim. The page talks to it with `engine_host::ToEngine`
//! requests as JSON text; every request gets exactly one answer.

use faultline_app::engine_host::{EngineHost, FromEngine, ToEngine};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let host = Rc::new(RefCell::new(EngineHost::default()));
    let reply_scope = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let answer = match event.data().as_string() {
            Some(text) => match serde_json::from_str::<ToEngine>(&text) {
                Ok(request) => host
                    .borrow_mut()
                    .handle(request, || wall_clock_ms(&reply_scope)),
                // The page and worker come from one build, so this is a bug;
                // answering keeps the page's watchdog from firing for nothing.
                Err(error) => FromEngine::Rejected {
                    request_id: 0,
                    message: format!("the engine worker could not read a request: {error}"),
                },
            },
            None => FromEngine::Rejected {
                request_id: 0,
                message: "the engine worker received a request that is not text".to_string(),
            },
        };
        post(&reply_scope, &answer);
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(&scope, &FromEngine::Ready);
}

fn post(scope: &DedicatedWorkerGlobalScope, answer: &FromEngine) {
    match serde_json::to_string(answer) {
        Ok(text) => {
            if let Err(error) = scope.post_message(&JsValue::from_str(&text)) {
                web_sys::console::error_2(&"engine worker: postMessage failed".into(), &error);
            }
        }
        Err(error) => web_sys::console::error_1(
            &format!("engine worker: could not encode an answer: {error}").into(),
        ),
    }
}

/// The worker's monotonic clock, used only to bound how long one request runs.
fn wall_clock_ms(scope: &DedicatedWorkerGlobalScope) -> f64 {
    scope
        .performance()
        .map_or(0.0, |performance| performance.now())
}
