"""Counts what K gate workers left in their shared tables, read back with Python `deltalake`
(an independent reader): rows in the target and quarantine, runs and batches in the run log,
and per table the commits with how contended they were.

    tally.py LAKE_URI INPUT_DIR EXPECTED_RUNS   (storage options from the AWS_* environment)

Prints one JSON object. Exit 1 unless the target and quarantine together hold exactly the
inputs' claim ids (each as often as the inputs do) and the run log every run.
"""

import glob
import json
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable


def storage():
    keys = ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
            "AWS_ALLOW_HTTP"]
    return {k: os.environ[k] for k in keys if k in os.environ}


def commits(uri):
    """Each commit: its version, the version it read, and its retries."""
    t = DeltaTable(uri, storage_options=storage())
    out = []
    for c in t.history():
        metrics = c.get("operationMetrics") or {}
        out.append({
            "version": c["version"],
            # The gate records the version it read and its tries; delta-rs its own retries
            # where its store rewrites the commit (operationMetrics.numRetries).
            "read": c.get("dq.read_version", c.get("readVersion")),
            "retries": int(metrics.get("numRetries", 0) or 0) + max(int(c.get("dq.attempt", 1)) - 1, 0),
            "blind": c.get("isBlindAppend"),
            "ts": c.get("timestamp"),
        })
    return t, out


def main():
    lake, inputs, expected_runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    report = {"tables": {}}
    ids = []
    for name in ["target", "quarantine", "runs"]:
        uri = {"target": f"{lake}/claims", "quarantine": f"{lake}/claims_quarantine",
               "runs": f"{lake}/claims_dq_runs"}[name]
        t, cs = commits(uri)
        # Commits by the workers (version 0 creates the table).
        work = [c for c in cs if c["version"] > 0]
        # Commits that landed between a commit's read and its write: each one a conflict
        # check delta-rs made (and passed) before writing at the next free version.
        behind = [c["version"] - c["read"] - 1 for c in work if c["read"] is not None]
        report["tables"][name] = {
            "commits": len(work),
            "commits_behind_mean": round(sum(behind) / len(behind), 2) if behind else 0,
            "commits_behind_max": max(behind) if behind else 0,
            "retries": sum(c["retries"] for c in work),
            "blind_appends": sum(1 for c in work if c["blind"]),
        }
        if name != "runs":
            ids.append(t.to_pyarrow_table(columns=["claim_id"]).column("claim_id"))
        else:
            runs = t.to_pyarrow_table(columns=["run_id", "batch"])
            run_ids = runs.column("run_id").to_pylist()
            report["runs"] = len(set(run_ids))
            pairs = set(zip(run_ids, runs.column("batch").to_pylist()))
            report["run_batches"] = sum(1 for _, b in pairs if b > 0)
    got = pa.chunked_array([c for col in ids for c in col.chunks], type=pa.int64())
    want = pa.chunked_array(
        [pq.read_table(f, columns=["claim_id"]).column("claim_id").cast(pa.int64()).combine_chunks()
         for f in sorted(glob.glob(f"{inputs}/*.parquet"))])
    def counted(a):
        return pc.value_counts(a).to_pylist()
    key = lambda d: (d["values"] is None, d["values"] or 0)
    same = sorted(counted(got), key=key) == sorted(counted(want), key=key)
    report["rows"] = len(got)
    report["input_rows"] = len(want)
    report["ok"] = same and report["runs"] == expected_runs
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
