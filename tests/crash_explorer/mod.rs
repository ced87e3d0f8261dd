//! The crash-image explorer: a seeded workload on the simulated storage, crash images
//! after every storage operation and at random points, and a checker that reopens each
//! image and compares it with the history of what the journal acknowledged and promised.

pub(crate) mod check;
pub(crate) mod explore;
pub(crate) mod history;
pub(crate) mod workload;
