//! Model strategies end to end through `tradewind-bot`: the features `features` writes are
//! the ones the backtest fed the model, bar for bar; tract's predictions agree with
//! onnxruntime's; bad artifacts and bad features are refused with the Strategy and the
//! field named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"))
        .join("../..")
}

fn bot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradewind-bot"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn err(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tradewind-model-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const EXAMPLE: &str = "examples/models/spy-gbm.yaml";
const MODEL: &str = "examples/models/spy-gbm.onnx";
const SPY: &str = "examples/data/spy_1m_2019q2.csv";

fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// `features` and `backtest --trace-decisions` of the example bot on `data`, in `dir`.
fn features_and_trace(dir: &Path, yaml: &str, data: &str) -> (PathBuf, PathBuf, String) {
    let (features, trace) = (dir.join("features.csv"), dir.join("trace.csv"));
    ok(&bot(&[
        "features",
        "-f",
        yaml,
        "--bot",
        "spy-model",
        "--data",
        data,
        "--horizon",
        "12",
        "--out",
        features.to_str().unwrap(),
    ]));
    let report = dir.join("report");
    let stdout = ok(&bot(&[
        "backtest",
        "-f",
        yaml,
        "--bot",
        "spy-model",
        "--data",
        data,
        "--trace-decisions",
        trace.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]));
    (features, trace, stdout)
}

#[test]
fn features_are_the_rows_the_backtest_fed_the_model_bar_for_bar() {
    let dir = tmpdir("same");
    let (features, trace, _) = features_and_trace(&dir, EXAMPLE, SPY);
    let (fh, frows) = csv(&features);
    let (th, trows) = csv(&trace);
    // ts, close, nine features, the label; ts, nine features, the output.
    assert_eq!(fh.len(), 12, "{fh:?}");
    assert_eq!(fh[2..11], th[1..10], "the same features in the same order");
    assert_eq!(fh.last().unwrap(), "forward_return_12");
    assert!(frows.len() > 4000, "{} rows", frows.len());
    assert_eq!(frows.len(), trows.len(), "one row per decision");
    for (f, t) in frows.iter().zip(&trows) {
        assert_eq!(f[0], t[0], "bar time");
        assert_eq!(f[2..11], t[1..10], "bar {}", f[0]);
    }
    // The label: the close 12 bars later over this close, minus 1; the last 12 rows
    // have none.
    let close = |i: usize| frows[i][1].parse::<f64>().unwrap();
    let label: f64 = frows[100][11].parse().unwrap();
    assert_eq!(label, close(112) / close(100) - 1.0);
    assert!(frows[frows.len() - 12..].iter().all(|r| r[11].is_empty()));
    assert!(!frows[frows.len() - 13][11].is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Python with onnxruntime: `$TRADEWIND_PYTHON`, the project venv, or `python3`.
fn python() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("TRADEWIND_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/tradewind-venv/bin/python"));
    }
    candidates.push(PathBuf::from("python3"));
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import onnxruntime, numpy"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// SPY with a zero-volume stretch (100 five-minute bars): the volume z-score is 0/0.
fn spy_with_zero_volume(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join(SPY)).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().take(4001).enumerate() {
        if (1000..1500).contains(&i) {
            let (head, _) = line.rsplit_once(',').unwrap();
            out.push_str(head);
            out.push_str(",0.0\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = dir.join("spy_zero_volume.csv");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn tract_predictions_equal_onnxruntime_within_1e_6_for_every_bar() {
    // `make test` names its venv: there a missing onnxruntime is a failure, not a skip.
    let Some(py) = python() else {
        assert!(
            std::env::var_os("TRADEWIND_PYTHON").is_none(),
            "TRADEWIND_PYTHON has no onnxruntime (pip install -r requirements-test.txt)"
        );
        eprintln!("SKIPPED: no Python with onnxruntime (pip install -r requirements-test.txt)");
        return;
    };
    let dir = tmpdir("parity");
    let (_, trace, _) = features_and_trace(&dir, EXAMPLE, SPY);
    let out = Command::new(&py)
        .arg(root().join("tools/ml/parity.py"))
        .arg(root().join(MODEL))
        .arg(&trace)
        .output()
        .unwrap();
    let report = ok(&out);
    let v: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert!(v["compared"].as_u64().unwrap() > 4000, "{report}");
    assert!(v["max_abs_diff"].as_f64().unwrap() <= 1e-6, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zero_volume_makes_a_nan_feature_and_no_decision_named_in_the_report() {
    let dir = tmpdir("nan");
    let data = spy_with_zero_volume(&dir);
    let (features, trace, _) = features_and_trace(&dir, EXAMPLE, data.to_str().unwrap());
    let (fh, frows) = csv(&features);
    let z = fh.iter().position(|c| c == "volume_z_48").unwrap();
    let nan = frows.iter().filter(|r| r[z] == "NaN").count();
    assert!(nan > 40, "{nan} NaN rows");
    // Tract never ran on those rows: the trace has no output for exactly them.
    let (_, trows) = csv(&trace);
    for (f, t) in frows.iter().zip(&trows) {
        assert_eq!(f[z] == "NaN", t.last().unwrap().is_empty(), "bar {}", f[0]);
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report/report.json")).unwrap())
            .unwrap();
    let notes = report["notes"].to_string();
    assert!(
        notes.contains(
            "Model strategy spy-gbm-5m: feature volume_z_48 (VolumeZScore) is NaN at bar"
        ),
        "{notes}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The example with one edit.
fn variant(dir: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(root().join(EXAMPLE)).unwrap();
    assert!(text.contains(from), "{from}");
    let path = dir.join("variant.yaml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path.to_str().unwrap().to_owned()
}

fn backtest_err(yaml: &str) -> String {
    let dir = tmpdir("err-out");
    err(&bot(&[
        "backtest",
        "-f",
        yaml,
        "--bot",
        "spy-model",
        "--data",
        SPY,
        "--out",
        dir.to_str().unwrap(),
    ]))
}

#[test]
fn bad_artifacts_are_refused_naming_the_strategy_and_the_field() {
    let dir = tmpdir("bad");
    let text = std::fs::read_to_string(root().join(EXAMPLE)).unwrap();
    let pinned = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("sha256: \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let wrong = "0".repeat(64);
    let e = backtest_err(&variant(&dir, &pinned, &wrong));
    assert!(
        e.contains(&format!(
            "Strategy spy-gbm-5m: spec.model.artifact: path {MODEL}: sha256 of the artifact is {pinned}, the Strategy pins {wrong}"
        )),
        "{e}"
    );
    let e = backtest_err(&variant(&dir, MODEL, "examples/models/missing.onnx"));
    assert!(
        e.contains("Strategy spy-gbm-5m: spec.model.artifact: cannot read the model (path examples/models/missing.onnx)"),
        "{e}"
    );
    // Eight features declared for a nine-input model.
    let e = backtest_err(&variant(
        &dir,
        "      - {name: volume_z_48, kind: VolumeZScore, period: 48}\n",
        "",
    ));
    assert!(
        e.contains("input shape mismatch: the model's input \"features\" takes 9 features, the Strategy declares 8"),
        "{e}"
    );
    // A Blob Storage model is read in the cluster (the operator's checked copy); a local
    // run says to name a local copy, not a silent fallback.
    let e = backtest_err(&variant(
        &dir,
        &format!("path: {MODEL}"),
        "blobUrl: https://example.blob.core.windows.net/models/spy-gbm.onnx",
    ));
    assert!(
        e.contains(
            "blob https://example.blob.core.windows.net/models/spy-gbm.onnx (read in the cluster); outside it, name a local copy with artifact.path"
        ),
        "{e}"
    );
    // features is for Model strategies.
    let e = err(&bot(&[
        "features",
        "-f",
        EXAMPLE,
        "--bot",
        "spy-rsi",
        "--data",
        SPY,
        "--out",
        dir.join("x.csv").to_str().unwrap(),
    ]));
    assert!(
        e.contains("Strategy spy-rsi-14-5m is of type RsiReversion"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
