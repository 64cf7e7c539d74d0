use super::*;
use crate::data::Bar;
use crate::fixed::{Price, Quantity};
use crate::strategy::Action;
use crate::strategy::testing::{ctx, feed, instrument};

const LINEAR3: &[u8] = include_bytes!("../../../tests/fixtures/models/linear3.onnx");
const LINEAR4: &[u8] = include_bytes!("../../../tests/fixtures/models/linear4.onnx");
const WEIGHT3: &[u8] = include_bytes!("../../../tests/fixtures/models/weight3.onnx");
const INT_INPUT: &[u8] = include_bytes!("../../../tests/fixtures/models/int_input.onnx");

fn proba() -> OutputSelector {
    OutputSelector {
        name: None,
        column: 1,
    }
}

fn first() -> OutputSelector {
    OutputSelector {
        name: None,
        column: 0,
    }
}

fn spec(name: &str, kind: FeatureKind) -> FeatureSpec {
    FeatureSpec {
        name: name.into(),
        kind,
    }
}

fn three_returns() -> Vec<FeatureSpec> {
    vec![
        spec("r1", FeatureKind::Returns { period: 1 }),
        spec("r2", FeatureKind::Returns { period: 2 }),
        spec("r3", FeatureKind::Returns { period: 3 }),
    ]
}

fn config(
    features: Vec<FeatureSpec>,
    kind: OutputKind,
    output: OutputSelector,
    rule: DecisionRule,
    bytes: &[u8],
) -> ModelConfig {
    ModelConfig::new(
        features,
        kind,
        output,
        rule,
        ArtifactSource::Path("m.onnx".into()),
        &sha256_hex(bytes),
    )
    .unwrap()
    .with_model(bytes)
    .unwrap()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn ohlcv(i: i64, close: &str, volume: &str) -> Bar {
    let c = Price::parse(close, 2).unwrap();
    Bar::new(
        i * 60_000_000_000,
        c,
        c,
        c,
        c,
        Quantity::parse(volume, 5).unwrap(),
    )
    .unwrap()
}

#[test]
fn predictions_match_the_closed_form() {
    let m = OnnxModel::load(LINEAR3, &sha256_hex(LINEAR3), 3, &proba()).unwrap();
    for row in [[0.5, 0.2, -1.0], [0.0, 0.0, 0.0], [-3.0, 1.5, 7.25]] {
        let want = sigmoid(row[0] - 2.0 * row[1] + 0.5 * row[2] + 0.1);
        let got = f64::from(m.predict(&row).unwrap());
        assert!((got - want).abs() < 1e-6, "{row:?}: {got} vs {want}");
    }
    // The same row twice gives the same bits.
    let row = [0.123, -0.456, 0.789];
    assert_eq!(
        m.predict(&row).unwrap().to_bits(),
        m.predict(&row).unwrap().to_bits()
    );
}

#[test]
fn a_wrong_digest_is_refused_naming_both() {
    let pinned = "0".repeat(64);
    let err = OnnxModel::load(LINEAR3, &pinned, 3, &proba()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&pinned) && text.contains(&sha256_hex(LINEAR3)),
        "{text}"
    );
}

#[test]
fn a_wrong_input_shape_is_refused_naming_both_widths() {
    let err = OnnxModel::load(LINEAR4, &sha256_hex(LINEAR4), 3, &proba()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input shape mismatch: the model's input \"x\" takes 4 features, the Strategy declares 3"
    );
    let err = OnnxModel::load(INT_INPUT, &sha256_hex(INT_INPUT), 3, &proba()).unwrap_err();
    assert!(
        err.to_string()
            .contains("is int64, features are fed as float"),
        "{err}"
    );
}

#[test]
fn bad_bytes_and_missing_outputs_are_refused() {
    let junk = b"not a model";
    let err = OnnxModel::load(junk, &sha256_hex(junk), 3, &proba()).unwrap_err();
    assert!(matches!(err, ModelError::Parse(_)), "{err}");
    let named = OutputSelector {
        name: Some("score".into()),
        column: 0,
    };
    let err = OnnxModel::load(LINEAR3, &sha256_hex(LINEAR3), 3, &named).unwrap_err();
    assert_eq!(
        err.to_string(),
        "output mismatch: the model has no output \"score\" (it has [\"probabilities\"])"
    );
    let third = OutputSelector {
        name: None,
        column: 2,
    };
    let err = OnnxModel::load(LINEAR3, &sha256_hex(LINEAR3), 3, &third).unwrap_err();
    assert!(err.to_string().contains("column 2"), "{err}");
}

#[test]
fn features_follow_their_definitions() {
    let mut set = FeatureSet::new(&[
        spec("r2", FeatureKind::Returns { period: 2 }),
        spec("sma", FeatureKind::SmaRatio { period: 2 }),
        spec("vz", FeatureKind::VolumeZScore { period: 3 }),
    ])
    .unwrap();
    assert_eq!(set.warmup_bars(), 2);
    let bars = [
        ohlcv(0, "100", "1"),
        ohlcv(1, "110", "2"),
        ohlcv(2, "121", "3"),
    ];
    assert!(set.update(&bars[0]).is_none());
    assert!(set.update(&bars[1]).is_none());
    let row = set.update(&bars[2]).unwrap().to_vec();
    assert!((row[0] - 0.21).abs() < 1e-12, "{row:?}");
    assert!((row[1] - (121.0 / 115.5 - 1.0)).abs() < 1e-12, "{row:?}");
    // Volumes 1, 2, 3: mean 2, population sd sqrt(2/3).
    assert!(
        (row[2] - 1.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12,
        "{row:?}"
    );
    assert!(set.first_bad().is_none());
}

#[test]
fn declared_features_are_checked_naming_the_field() {
    let err = FeatureSet::new(&[]).unwrap_err();
    assert_eq!(err.field, "model.features");
    let err = FeatureSet::new(&[
        spec("a", FeatureKind::Rsi { period: 14 }),
        spec("a", FeatureKind::Rsi { period: 7 }),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "model.features[1].name: \"a\" is declared twice"
    );
    let err = FeatureSet::new(&[spec("z", FeatureKind::VolumeZScore { period: 1 })]).unwrap_err();
    assert_eq!(err.field, "model.features[0].period");
    let err = FeatureSet::new(&[spec("a,b", FeatureKind::Rsi { period: 14 })]).unwrap_err();
    assert_eq!(err.field, "model.features[0].name");
}

#[test]
fn thresholds_enter_and_exit_with_hysteresis() {
    // Score = the one-bar return: enter above +1 %, exit below −1 %.
    let c = config(
        three_returns(),
        OutputKind::Score,
        first(),
        DecisionRule::Thresholds {
            enter_above: 0.01,
            exit_below: -0.01,
        },
        WEIGHT3,
    );
    let closes = ["100", "100", "100", "102", "101.5", "99", "101"];
    // Flat: enters where the return is above 1 % (bar 3: +2 %; bar 6: +2.02 %).
    let mut m = Model::new(&c).unwrap();
    let flat = feed(&mut m, &closes, "0");
    assert_eq!(flat, vec![(3, Action::EnterLong), (6, Action::EnterLong)]);
    // Long: exits only below −1 % (bar 5: −2.46 %); −0.49 % at bar 4 holds.
    let mut m = Model::new(&c).unwrap();
    let long = feed(&mut m, &closes, "1");
    assert_eq!(long, vec![(5, Action::ExitLong)]);
}

#[test]
fn a_nan_feature_skips_the_decision_and_names_the_feature() {
    let mut features = three_returns();
    features[2] = spec("volz", FeatureKind::VolumeZScore { period: 2 });
    let c = config(
        features,
        OutputKind::Score,
        first(),
        DecisionRule::Thresholds {
            enter_above: -1.0,
            exit_below: -2.0,
        },
        WEIGHT3,
    );
    let mut m = Model::new(&c).unwrap();
    // Every bar has volume 1: the z-score is 0/0 and nothing may trade, though the
    // score (the return, 0) is above the entry level.
    let seen = feed(&mut m, &["100", "100", "100", "100", "100"], "0");
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(m.skipped(), 3);
    let mut notes = Vec::new();
    m.drain_notes(&mut notes);
    assert_eq!(notes.len(), 1, "one note per bad stretch: {notes:?}");
    assert!(
        notes[0].starts_with("Model: feature volz (VolumeZScore) is NaN at bar 120000000000"),
        "{notes:?}"
    );
}

#[test]
fn an_infinite_feature_skips_the_decision_naming_the_strategy_and_the_feature() {
    // A close of 0 then 100: the one-bar return is +inf.
    let c = config(
        three_returns(),
        OutputKind::Score,
        first(),
        DecisionRule::Thresholds {
            enter_above: -1.0,
            exit_below: -2.0,
        },
        WEIGHT3,
    )
    .named("spy-gbm-5m");
    let mut m = Model::new(&c).unwrap();
    let seen = feed(&mut m, &["100", "100", "100", "0", "100"], "0");
    // Bar 3 (a return of -100 %, below the entry level) is decided; bar 4 is refused.
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(m.skipped(), 1);
    let mut notes = Vec::new();
    m.drain_notes(&mut notes);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(
            "Model strategy spy-gbm-5m: feature r1 (Returns) is inf at bar 240000000000"
        ),
        "{notes:?}"
    );
    // The zero close stays in the longer returns' windows for two more bars (each a new
    // note, naming its feature); then usable again, and it says so.
    let mut m = Model::new(&c).unwrap();
    feed(
        &mut m,
        &["100", "100", "100", "0", "100", "100", "100", "100"],
        "0",
    );
    let mut notes = Vec::new();
    m.drain_notes(&mut notes);
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(
        notes[1].contains("feature r2 (Returns) is inf"),
        "{notes:?}"
    );
    assert!(
        notes[2].contains("feature r3 (Returns) is inf"),
        "{notes:?}"
    );
    assert_eq!(
        notes[3],
        "Model strategy spy-gbm-5m: deciding again at bar 420000000000"
    );
}

#[test]
fn a_session_reuses_its_state_and_predicts_as_a_fresh_one() {
    let m = OnnxModel::load(LINEAR3, &sha256_hex(LINEAR3), 3, &proba()).unwrap();
    let mut session = m.session().unwrap();
    for i in 0..50 {
        let row = [f64::from(i) * 0.01, -0.2, 0.3 - f64::from(i) * 0.001];
        assert_eq!(
            session.predict(&row).unwrap().to_bits(),
            m.predict(&row).unwrap().to_bits(),
            "row {i}"
        );
    }
    // A wrong width is refused without disturbing the session.
    assert!(matches!(
        session.predict(&[0.0; 2]),
        Err(ModelError::Input(_))
    ));
    assert_eq!(
        session.predict(&[0.1, 0.2, 0.3]).unwrap().to_bits(),
        m.predict(&[0.1, 0.2, 0.3]).unwrap().to_bits()
    );
}

#[test]
fn an_output_out_of_range_is_not_traded() {
    // A target weight of the one-bar return: +100 % is a weight of 1, +150 % is 1.5.
    let c = config(
        three_returns(),
        OutputKind::TargetWeight,
        first(),
        DecisionRule::TargetWeight {
            rebalance_band: 0.05,
        },
        WEIGHT3,
    );
    let mut m = Model::new(&c).unwrap();
    let seen = feed(&mut m, &["100", "100", "100", "250"], "0");
    assert!(seen.is_empty(), "{seen:?}");
    let mut notes = Vec::new();
    m.drain_notes(&mut notes);
    assert!(
        notes[0].starts_with("Model: output weight is 1.5"),
        "{notes:?}"
    );
    assert!(notes[0].contains("not a weight from 0 to 1"), "{notes:?}");
}

#[test]
fn a_target_weight_rebalances_outside_its_band() {
    let c = config(
        three_returns(),
        OutputKind::TargetWeight,
        first(),
        DecisionRule::TargetWeight {
            rebalance_band: 0.05,
        },
        WEIGHT3,
    );
    let inst = instrument();
    let mut m = Model::new(&c).unwrap();
    let mut out = Actions::starting_at(1);
    // Closes 100, 100, 100, 150: weight 0.5 of 10000 equity, nothing held: buy 5000.
    for (i, close) in ["100", "100", "100", "150"].iter().enumerate() {
        let bar = ohlcv(i as i64, close, "1");
        m.on_bar(&ctx(&inst, "0", &[]), &bar, &mut out);
    }
    let placed: Vec<Action> = out.drain().collect();
    let [Action::Place(_, order)] = placed[..] else {
        panic!("{placed:?}");
    };
    assert_eq!(order.side, Side::Buy);
    assert_eq!(order.size, OrderSize::Quote(Money::parse("5000").unwrap()));
    // Weight 0.5 again while 33.333 held at 150 (5000 of 10000): within the band.
    let bar = ohlcv(4, "225", "1");
    let held = ctx(&inst, "22.22222", &[]);
    m.on_bar(&held, &bar, &mut out);
    assert!(out.is_empty(), "{:?}", out.as_slice());
    // Weight 0 (no move): sell everything.
    let bar = ohlcv(5, "225", "1");
    m.on_bar(&held, &bar, &mut out);
    let placed: Vec<Action> = out.drain().collect();
    let [Action::Place(_, order)] = placed[..] else {
        panic!("{placed:?}");
    };
    assert_eq!((order.side, order.size), (Side::Sell, OrderSize::Position));
}

#[test]
fn a_model_not_loaded_is_a_config_error() {
    let c = ModelConfig::new(
        three_returns(),
        OutputKind::Score,
        first(),
        DecisionRule::Thresholds {
            enter_above: 0.0,
            exit_below: 0.0,
        },
        ArtifactSource::ConfigMap {
            name: "models".into(),
            key: "m.onnx".into(),
        },
        &sha256_hex(WEIGHT3),
    )
    .unwrap();
    let err = Model::new(&c).unwrap_err();
    assert_eq!(err.field, "model.artifact");
    assert!(err.reason.contains("ConfigMap models key m.onnx"), "{err}");
}

#[test]
fn rules_are_checked_against_the_output_kind() {
    let make = |kind, rule| {
        ModelConfig::new(
            three_returns(),
            kind,
            first(),
            rule,
            ArtifactSource::Path("m".into()),
            &"a".repeat(64),
        )
    };
    let t = |enter_above, exit_below| DecisionRule::Thresholds {
        enter_above,
        exit_below,
    };
    let err = make(OutputKind::Probability, t(1.5, 0.5)).unwrap_err();
    assert_eq!(err.field, "model.thresholds.enterAbove");
    let err = make(OutputKind::Score, t(0.1, 0.2)).unwrap_err();
    assert_eq!(err.field, "model.thresholds.exitBelow");
    let err = make(OutputKind::TargetWeight, t(0.1, 0.0)).unwrap_err();
    assert_eq!(err.field, "model.thresholds");
    let err = make(
        OutputKind::Score,
        DecisionRule::TargetWeight {
            rebalance_band: 0.1,
        },
    )
    .unwrap_err();
    assert_eq!(err.field, "model.targetWeight");
    let err = ModelConfig::new(
        three_returns(),
        OutputKind::Score,
        first(),
        t(0.0, 0.0),
        ArtifactSource::Path("m".into()),
        "ABC",
    )
    .unwrap_err();
    assert_eq!(err.field, "model.artifact.sha256");
}
