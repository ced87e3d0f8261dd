//! Loom models of the append protocol (see tests/).
