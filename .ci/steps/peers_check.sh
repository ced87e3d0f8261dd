#!/usr/bin/env bash
# Keeps the peer comparison crate (peers/, not a default member, so neither the README's
# test command nor `cargo bench` builds it) compiling and lint-clean, its unit tests
# included (clippy --all-targets type-checks them; they are not run). It does not run
# the comparison: that takes minutes and wants a quiet machine (see
# docs/PERFORMANCE.md, "Side by side with peers").
# Budget: a few minutes. Measured cold (empty target dir, raft-engine's lz4 C build
# included) on a 2-core machine shared with other builds (load average 15): 3 min 20 s
# wall, 69 s of CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo clippy -p cpj-peers --all-targets -- -D warnings
