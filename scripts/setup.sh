#!/usr/bin/env bash
#! Installs everything Faultline needs, idempotently, with visible progress.
#
# Called by scripts/serve.sh and scripts/test.sh; safe to run again (each step
# checks first and skips what is already there). Only crates.io, npm and
# Debian apt are used: trunk runs offline and never downloads tools itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# Versions proven together on these machines (see ../shared/reference/toolchain.md).
TRUNK_VERSION="0.21.14"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

export PATH="$HOME/.cargo/bin:$PATH"

step "Rust toolchain (pinned by rust-toolchain.toml) and the wasm32 target"
if ! have rustup || ! have cargo; then
  echo "error: rustup and cargo are required (https://rustup.rs, or your distribution's rustup package)." >&2
  exit 1
fi
rustup show active-toolchain
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "wasm32-unknown-unknown: installed"
else
  rustup target add wasm32-unknown-unknown
fi

step "Rust dependencies (cargo fetch --locked)"
cargo fetch --locked

step "trunk ${TRUNK_VERSION}"
if have trunk && [ "$(trunk --version 2>/dev/null)" = "trunk ${TRUNK_VERSION}" ]; then
  echo "trunk ${TRUNK_VERSION}: installed"
else
  echo "installing trunk ${TRUNK_VERSION} with cargo install --locked (about 15 minutes on 2 cores, once)"
  cargo install trunk --version "${TRUNK_VERSION}" --locked
fi

# The CLI must equal the wasm-bindgen crate in Cargo.lock, or trunk (offline)
# and wasm-bindgen-test-runner refuse the build; read the version from the lock.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
step "wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (the version in Cargo.lock)"
if [ -z "${WASM_BINDGEN_VERSION}" ]; then
  echo "error: no wasm-bindgen entry in Cargo.lock" >&2
  exit 1
fi
if have wasm-bindgen && [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen ${WASM_BINDGEN_VERSION}" ]; then
  echo "wasm-bindgen ${WASM_BINDGEN_VERSION}: installed"
else
  echo "installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (about 8 minutes, once)"
  # Without --locked: the crate's own lockfile pins a webpki-roots release the
  # registry no longer serves (see shared/reference/toolchain.md).
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}" --force
fi
installed="$(wasm-bindgen --version 2>/dev/null || true)"
if [ "${installed}" != "wasm-bindgen ${WASM_BINDGEN_VERSION}" ]; then
  echo "error: wasm-bindgen CLI is '${installed}' but Cargo.lock has wasm-bindgen ${WASM_BINDGEN_VERSION}." >&2
  echo "       They must match exactly. Fix app/Cargo.toml's pin or reinstall the CLI." >&2
  exit 1
fi

step "Chromium and ChromeDriver (Debian packages)"
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  /usr/bin/chromium --version
else
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y chromium chromium-driver
fi

step "npm packages (playwright-core, binaryen's wasm-opt) via npm ci"
if ! have npm; then
  echo "error: node and npm are required (Debian: apt-get install nodejs npm)." >&2
  exit 1
fi
stamp="node_modules/.faultline-lock.sha256"
if [ -f "${stamp}" ] && sha256sum --status -c "${stamp}" 2>/dev/null; then
  echo "node_modules matches package-lock.json"
else
  npm ci --no-audit --no-fund
  sha256sum package-lock.json > "${stamp}"
fi
# trunk must use binaryen 132 from npm: Debian's binaryen 108 produces a wasm
# that fails at load (see ARCHITECTURE.md, "Build"). Trunk.toml pins it too.
"$PWD/node_modules/.bin/wasm-opt" --version

step "setup complete"
