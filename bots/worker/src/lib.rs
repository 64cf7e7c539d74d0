//! Library part of `tradewind-bot`: the pieces the worker binary and its integration
//! tests share. The binary (`main.rs`) re-exports them under the same paths
//! (`crate::venue::…`).

pub mod venue;
