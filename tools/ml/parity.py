#!/usr/bin/env python3
"""Runs a model through onnxruntime on the feature rows `tradewind-bot backtest
--trace-decisions` wrote, and compares each prediction with the one tract made in the
backtest (the `output` column).

    python tools/ml/parity.py MODEL.onnx TRACE.csv [--output NAME] [--column K] [--tol 1e-6]

Prints one JSON line: rows compared, rows tract refused (a NaN or infinite feature),
the largest absolute difference and its timestamp. Exits 1 if any difference exceeds
--tol, or if a row with finite features has no tract output.
"""
import argparse
import csv
import json
import math
import sys

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("trace")
    ap.add_argument("--output", help="output name (default: the last float output)")
    ap.add_argument("--column", type=int, default=1)
    ap.add_argument("--tol", type=float, default=1e-6)
    args = ap.parse_args()

    with open(args.trace, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    ts, x, tract, refused, missing = [], [], [], 0, []
    for r in rows:
        vals = [float(v) for v in r[1:-1]]
        if not all(math.isfinite(v) for v in vals):
            refused += 1
            if r[-1] != "":
                missing.append(f"{r[0]}: tract decided on a non-finite row")
            continue
        if r[-1] == "":
            missing.append(f"{r[0]}: finite features but no tract output")
            continue
        ts.append(r[0])
        x.append(vals)
        tract.append(float(r[-1]))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    outputs = sess.get_outputs()
    name = args.output or [o.name for o in outputs if o.type == "tensor(float)"][-1]
    inp = sess.get_inputs()[0].name
    # float64 values from the CSV, cast to float32 as the Rust side casts them.
    pred = sess.run([name], {inp: np.array(x, dtype=np.float64).astype(np.float32)})[0]
    pred = pred.reshape(len(x), -1)[:, args.column if pred.ndim == 2 and pred.shape[1] > 1 else 0]
    diff = np.abs(pred.astype(np.float64) - np.array(tract))
    worst = int(np.argmax(diff)) if len(diff) else 0
    report = {
        "features": header[1:-1],
        "compared": len(x),
        "refused": refused,
        "max_abs_diff": float(diff.max()) if len(diff) else 0.0,
        "worst_ts": ts[worst] if ts else None,
        "problems": missing[:5],
    }
    print(json.dumps(report))
    if missing or (len(diff) and diff.max() > args.tol):
        sys.exit(1)


if __name__ == "__main__":
    main()
