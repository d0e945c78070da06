#!/usr/bin/env bash
#! Runs every check and test (format, lints, native and wasm32 tests, release build, browser end-to-end), installing what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

started=$(date +%s)
step() { printf '\n\033[1m==> [%4ss] %s\033[0m\n' "$(( $(date +%s) - started ))" "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy, native (engine, tests, CLI) -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy, app on wasm32 -D warnings"
cargo clippy -p app --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test --workspace (native)"
cargo test --workspace --locked

step "engine determinism on wasm32 (wasm-bindgen-test in Node): digests equal the native golden ones"
cargo test -p faultline-engine --target wasm32-unknown-unknown --test wasm_determinism --locked

step "trunk build --release"
trunk build --release

step "browser end-to-end tests (Playwright + Debian chromium against dist/)"
# One file at a time: two headless browsers at once on 2 cores made timing-sensitive
# steps flaky.
node --test --test-concurrency=1 tests/e2e/

step "all checks passed"
