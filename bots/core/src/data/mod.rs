//! Market data: bars, trades, quotes, L2 book updates, the L2 [`OrderBook`], and the
//! text [`load`]ers that turn CSV/JSONL into them.

pub mod aggregate;
pub mod archive;
mod book;
pub mod columnar;
pub mod load;
mod market;
pub mod time;

pub use book::{BookDepth, BookError, OrderBook};
pub use market::{
    Bar, BarError, BookDelta, BookLevel, BookSide, BookSnapshot, Quote, Side, Trade, UnixNanos,
};
