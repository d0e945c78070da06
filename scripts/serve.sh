#!/usr/bin/env bash
#! Builds the app (release) and serves it on http://127.0.0.1:8080, installing what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
printf '\n\033[1m==> trunk serve --release on http://127.0.0.1:8080\033[0m\n'
exec trunk serve --release
