//! `cpj`: the command-line tool.
fn main() {}
