//! Faultline app entry point: installs the panic hook and mounts the root component.

mod app;
mod components;
mod driver;
mod editor;
mod format;
mod live;
mod loader;
mod resize;
mod shortcuts;
mod workspace;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
