//! Errors raised when building fixed-point values.

/// Why a fixed-point value could not be built.
///
/// Every variant names the offending input so a loader can pass it on verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixedError {
    /// The text is not a plain decimal number (`-?digits(.digits)?`).
    #[error("cannot parse {input:?} as {kind}: {reason}")]
    Malformed {
        /// Type being parsed (`"price"`, `"quantity"`, `"money"`).
        kind: &'static str,
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The text has more significant decimals than the precision allows. We refuse to
    /// round silently; trailing zeros beyond the precision are accepted because they are exact.
    #[error("{kind} {input:?} has {decimals} significant decimals but precision is {precision}")]
    TooManyDecimals {
        /// Type being parsed.
        kind: &'static str,
        /// The text as given.
        input: String,
        /// Significant decimals found (trailing zeros removed).
        decimals: u8,
        /// Decimals allowed.
        precision: u8,
    },
    /// The value does not fit the type's raw integer.
    #[error("{kind} {input:?} is out of range")]
    OutOfRange {
        /// Type being built.
        kind: &'static str,
        /// The text (or raw value) as given.
        input: String,
    },
    /// A negative value for a type that cannot be negative.
    #[error("{kind} {input:?} is negative")]
    Negative {
        /// Type being built.
        kind: &'static str,
        /// The text as given.
        input: String,
    },
    /// A precision above [`FIXED_PRECISION`](super::FIXED_PRECISION).
    #[error("precision {precision} is above the maximum of 9")]
    InvalidPrecision {
        /// The precision asked for.
        precision: u8,
    },
    /// A raw value with non-zero digits below the requested precision.
    #[error("raw {kind} {raw} has more than {precision} decimals")]
    RawNotAtPrecision {
        /// Type being built.
        kind: &'static str,
        /// Raw nano-unit value.
        raw: i128,
        /// Decimals allowed.
        precision: u8,
    },
}
