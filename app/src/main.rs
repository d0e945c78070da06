//! Faultline app entry point.
fn main() {}
