//! One function per fuzz target: each feeds arbitrary bytes to a parser of outside input
//! the way the process meets it. An error is the expected answer to garbage; a panic, an
//! abort or a hang is a bug.
//!
//! - [`journal`]: the worker's journal frames and records (a file on the pod's volume);
//! - [`market_data`]: the market-data loaders (OHLCV CSV, Binance klines, trade/quote
//!   JSON Lines), whole-text and streaming;
//! - [`exchange_json`]: every decoder of Binance's REST and WebSocket answers;
//! - [`bot_json`]: `tradewind-bot run --config bot.json`;
//! - [`resources_yaml`]: the resources' YAML, parsed and validated as `tradewind-crds
//!   validate` and `-f` do.
//! - [`onnx_model`]: a Model strategy's artifact, loaded (digest, input shape, output)
//!   and run once as the worker and the operator do.
//!
//! `libfuzzer/` holds the `cargo fuzz` targets calling these (`make fuzz`);
//! `tests/regressions.rs` runs every file of `corpus/<target>/` and deterministic
//! mutations of them through each function on every `make test`.

use std::path::Path;

/// A fuzz target: arbitrary bytes in, nothing out (a panic is the finding).
pub type Target = fn(&[u8]);

/// The targets by name, as `corpus/<name>/` and `cargo fuzz run <name>` know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("journal", journal),
    ("market_data", market_data),
    ("exchange_json", exchange_json),
    ("bot_json", bot_json),
    ("resources_yaml", resources_yaml),
    ("onnx_model", onnx_model),
];

/// The journal decoder on arbitrary bytes.
pub fn journal(data: &[u8]) {
    use tradewind_bot::run::journal::decode;
    use tradewind_bot::run::record::Record;
    if let Ok(d) = decode::<Record>(Path::new("fuzz.journal"), data) {
        assert!(d.valid <= data.len());
    }
}

/// The market-data loaders on arbitrary text.
pub fn market_data(data: &[u8]) {
    use tradewind_core::data::load;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let csv = load::ohlcv_csv("fuzz.csv", text);
    let streamed = load::ohlcv_csv_reader("fuzz.csv", data);
    assert_eq!(
        csv.is_ok(),
        streamed.is_ok(),
        "text and stream loaders disagree"
    );
    let _ = load::binance_klines("fuzz.csv", text);
    let _ = load::binance_klines_reader("fuzz.csv", data);
    let _ = load::l1_jsonl("fuzz.jsonl", text);
    let _ = load::l1_jsonl_reader("fuzz.jsonl", data);
}

/// Every decoder of Binance's answers on arbitrary bytes.
pub fn exchange_json(data: &[u8]) {
    let _ = tradewind_bot::venue::binance::decode_any(data);
}

/// `bot.json` on arbitrary text: parsed, checked against the CRDs, then checked as the
/// worker checks it before connecting.
pub fn bot_json(data: &[u8]) {
    use tradewind_bot::run::config;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("bot.json");
    if let Ok(cfg) = config::parse(path, text) {
        let _ = config::check(path, &cfg);
    }
}

/// Resource YAML on arbitrary text: split into documents and each validated against the
/// CRDs (schema, unknown fields, CEL).
pub fn resources_yaml(data: &[u8]) {
    use tradewind_crds::validation::{SchemaSet, parse_documents};
    static SCHEMAS: std::sync::OnceLock<SchemaSet> = std::sync::OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = parse_documents(Path::new("fuzz.yaml"), text) else {
        return;
    };
    let schemas = SCHEMAS.get_or_init(|| SchemaSet::tradewind().expect("the CRDs compile"));
    for d in docs {
        let _ = schemas.validate(&d.value);
    }
}

/// A Model strategy's ONNX artifact on arbitrary bytes, pinned to their own digest so the
/// bytes reach the protobuf decoder, the shape checks and tract.
pub fn onnx_model(data: &[u8]) {
    use tradewind_core::strategy::model::{OnnxModel, OutputSelector, sha256_hex};
    let digest = sha256_hex(data);
    for (features, column) in [(3, 1), (9, 1), (1, 0)] {
        let selector = OutputSelector { name: None, column };
        if let Ok(model) = OnnxModel::load(data, &digest, features, &selector) {
            assert_eq!(model.inputs(), features);
            let _ = model.predict(&vec![0.5; features]);
            // The strategy's path: one session, reused.
            if let Ok(mut session) = model.session() {
                let _ = session.predict(&vec![f64::NAN; features]);
                let _ = session.predict(&vec![0.5; features]);
            }
        }
    }
}
