#!/usr/bin/env python3
"""Trains the example Model strategy's classifier on features written by
`tradewind-bot features`, with walk-forward splits by calendar month, exports it to
ONNX (skl2onnx, without ZipMap so tract and onnxruntime read the probabilities as a
tensor) and writes the model card.

    tradewind-bot features -f examples/models/spy-gbm.yaml --bot spy-model \\
        --data examples/data/spy_1m_2019q2.csv --horizon 12 --out target/ml/features.csv
    python tools/ml/train.py --features target/ml/features.csv \\
        --model examples/models/spy-gbm.onnx --card examples/models/spy-gbm.md

Walk-forward: for each month after the first, train on every earlier month and test on
that month. The shipped model is trained on every month before --holdout (the last
month by default), which no fold and no model saw: the out-of-sample backtest runs on it.
"""
import argparse
import csv
import hashlib
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx
import skl2onnx
import sklearn
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

PARAMS = dict(n_estimators=60, max_depth=3, learning_rate=0.05, subsample=1.0, random_state=0)


def month(ts_ns):
    return datetime.fromtimestamp(int(ts_ns) / 1e9, tz=timezone.utc).strftime("%Y-%m")


def load(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    features = header[2:-1]
    label_col = header[-1]
    ts, x, y, dropped = [], [], [], 0
    for r in rows:
        vals = [float(v) for v in r[2:-1]]
        if r[-1] == "" or not all(math.isfinite(v) for v in vals):
            dropped += 1
            continue
        ts.append(int(r[0]))
        x.append(vals)
        y.append(1 if float(r[-1]) > 0 else 0)
    return features, label_col, np.array(ts), np.array(x, dtype=np.float64), np.array(y), dropped


def fit(x, y):
    # Features as float32, the type the model reads, so the trees split on the values
    # the runtime compares.
    return GradientBoostingClassifier(**PARAMS).fit(x.astype(np.float32), y)


def metrics(model, x, y):
    p = model.predict_proba(x.astype(np.float32))[:, 1]
    return {
        "rows": len(y),
        "base_rate": float(np.mean(y)),
        "accuracy": float(accuracy_score(y, p > 0.5)),
        "auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
    }


def fold_base_values(onx):
    """Moves a binary TreeEnsembleClassifier's base value into the leaves of its first
    tree (every row reaches exactly one of them, so every score is unchanged) and drops
    the attribute: skl2onnx writes one base value for the two classes, which tract 0.23
    refuses (it wants one per class label) and onnxruntime reads differently once there
    are two. Without it both runtimes compute the same thing."""
    for node in onx.graph.node:
        if node.op_type != "TreeEnsembleClassifier":
            continue
        attrs = {a.name: a for a in node.attribute}
        base = attrs.get("base_values")
        if base is None:
            continue
        if len(base.floats) != 1:
            raise SystemExit(f"base_values of length {len(base.floats)}: only the binary case is folded")
        b = base.floats[0]
        trees = attrs["class_treeids"].ints
        weights = attrs["class_weights"].floats
        first = min(trees)
        for i, t in enumerate(trees):
            if t == first:
                weights[i] = weights[i] + b
        node.attribute.remove(base)
    return onx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--card", required=True)
    ap.add_argument("--holdout", help="month kept out of training (YYYY-MM); default: the last")
    args = ap.parse_args()

    names, label, ts, x, y, dropped = load(args.features)
    months = np.array([month(t) for t in ts])
    order = sorted(set(months))
    holdout = args.holdout or order[-1]
    folds = []
    for i, m in enumerate(order[1:], start=1):
        train = np.isin(months, order[:i])
        test = months == m
        folds.append((order[:i], m, metrics(fit(x[train], y[train]), x[test], y[test])))
    train = np.array([m < holdout for m in months])
    model = fit(x[train], y[train])
    onx = convert_sklearn(
        model,
        initial_types=[("features", FloatTensorType([None, len(names)]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    reference = model.predict_proba(x[~train].astype(np.float32))[:, 1]
    onx = fold_base_values(onx)
    # skl2onnx names the graph with a random UUID; a fixed name makes the file (and so the
    # pinned sha256) the same on every run.
    onx.graph.name = Path(args.model).stem
    # ... and lists its opsets in set order: sort them.
    opsets = sorted(((o.domain, o.version) for o in onx.opset_import))
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    onnx.checker.check_model(onx)
    data = onx.SerializeToString()
    # The exported graph still computes scikit-learn's probabilities.
    import onnxruntime as ort

    exported = ort.InferenceSession(data).run(["probabilities"], {"features": x[~train].astype(np.float32)})[0][:, 1]
    drift = float(np.abs(exported - reference).max())
    if drift > 1e-5:
        raise SystemExit(f"the exported model differs from scikit-learn's by {drift}")
    Path(args.model).parent.mkdir(parents=True, exist_ok=True)
    Path(args.model).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()

    lines = [
        f"# Model card: {Path(args.model).name}",
        "",
        "A small gradient-boosted tree classifier for the example Model strategy",
        "(`examples/models/spy-gbm.yaml`). It is an example of the pipeline, not advice and",
        "not a profitable strategy: see the out-of-sample backtest in `README.md` beside it.",
        "",
        f"- **sha256**: `{digest}` ({len(data)} bytes)",
        f"- **Inputs**: `features`, float32 `[batch, {len(names)}]`, in this order: "
        + ", ".join(f"`{n}`" for n in names)
        + " (definitions in the Strategy; computed by `tradewind-bot features`).",
        "- **Output**: `probabilities` `[batch, 2]`; column 1 is P(label = 1). Also `label` (int64).",
        f"- **Label**: 1 when `{label}` (the close {label.rsplit('_', 1)[-1]} bars later over this close, minus 1) is above 0.",
        f"- **Data**: `examples/data/spy_1m_2019q2.csv` (SPY one-minute bars, 2019-04-01 to 2019-06-28, see",
        "  `examples/data/README.md`) aggregated to the Strategy's 5-minute bars; "
        f"{len(y)} labelled rows with finite features ({dropped} dropped: warm-up is not written, the last rows have no label, or a feature was NaN/infinite).",
        f"- **Training**: months before {holdout} ({int(train.sum())} rows); {holdout} ({int((~train).sum())} rows) is held out for the backtest.",
        f"- **Estimator**: scikit-learn {sklearn.__version__} `GradientBoostingClassifier({', '.join(f'{k}={v}' for k, v in PARAMS.items())})`,",
        f"  exported with skl2onnx {skl2onnx.__version__} (opset 17, ai.onnx.ml 3, no ZipMap; the base score folded into",
        f"  the first tree's leaves, see `tools/ml/train.py`); largest difference from scikit-learn's probabilities on the held-out month: {drift:.1e}.",
        "- **Licence**: Apache-2.0, like the repository. The training data's terms are in `examples/data/README.md`.",
        "",
        "## Walk-forward metrics",
        "",
        "Train on every earlier month, test on the next (threshold 0.5 for accuracy).",
        "",
        "| train | test | rows | base rate | accuracy | AUC | log loss |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tr, te, m in folds:
        lines.append(
            f"| {', '.join(tr)} | {te} | {m['rows']} | {m['base_rate']:.3f} | {m['accuracy']:.3f} | {m['auc']:.3f} | {m['log_loss']:.4f} |"
        )
    lines += [
        "",
        "An AUC at or below 0.5 means the features carry no usable signal over this horizon",
        "on this data; that is the honest result for three months of 5-minute SPY bars and a",
        "nine-feature tree model.",
        "",
        "## Reproduce",
        "",
        "```sh",
        "make model-train   # features, training, this card (needs the test venv: make prereqs)",
        "make model-demo    # out-of-sample backtest vs buy-and-hold and an RSI rule",
        "```",
        "",
    ]
    Path(args.card).write_text("\n".join(lines))
    print(f"{args.model}: sha256 {digest}, {len(data)} bytes")
    for tr, te, m in folds:
        print(f"  train {','.join(tr)} test {te}: auc {m['auc']:.3f} acc {m['accuracy']:.3f} base {m['base_rate']:.3f}")


if __name__ == "__main__":
    main()
