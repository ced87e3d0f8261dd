#!/usr/bin/env bash
# A full disk, for real (tests/full_disk.rs): mounts a 3 MiB tmpfs, runs the ignored
# test with the mount point in CPJ_FULL_DISK_DIR, and unmounts. Needs root and a kernel
# that lets this environment mount; otherwise prints a note and exits 0. Budget: seconds
# (the test binary is built by the main test step; this rebuilds nothing else).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "note: not root, so no tmpfs can be mounted; full-disk test skipped"
  exit 0
fi
mnt=$(mktemp -d)
if ! mount -t tmpfs -o size=3m,mode=0700 tmpfs "$mnt"; then
  echo "note: mounting a tmpfs was denied here; full-disk test skipped"
  rmdir "$mnt"
  exit 0
fi
trap 'umount "$mnt" && rmdir "$mnt"' EXIT
CPJ_FULL_DISK_DIR="$mnt" cargo test --all-features --test full_disk -- --ignored --nocapture
