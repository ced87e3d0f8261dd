#!/usr/bin/env bash
# Keeps the peer comparison crate (peers/, not a default member, so neither the README's
# test command nor `cargo bench` builds it) compiling and lint-clean, and runs its unit
# tests. It does not run the comparison: that takes minutes and wants a quiet machine
# (see docs/PERFORMANCE.md, "Side by side with peers").
# Budget: a few minutes; measured cold (empty target dir, raft-engine's lz4 C build
# included) at about 2 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo clippy -p cpj-peers --all-targets -- -D warnings
cargo test -p cpj-peers
