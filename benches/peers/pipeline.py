"""What a team could write instead of `dq-check run`: polars scans the Parquet file, checks the
canonical suite's rules by hand (benches/claims_bench.yaml), splits the rows, and writes both
parts with deltalake's `write_deltalake`. Also the two floors: a plain append of the whole table
(`append`) and a plain Parquet write with polars (`parquet`).

The same checks without the writes (`validate`) are the hand-written polars peer of
`dq-check validate`: read, check, split, print the two counts.

usage: pipeline.py pipeline|append|parquet INPUT.parquet OUT_DIR
       pipeline.py validate INPUT.parquet
"""
import sys

import polars as pl

STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
).split()
PLANS = ["HMO01", "HMO02", "PPO01", "PPO02", "EPO01", "POS01", "HDHP1", "MCAID"]
STATUSES = ["PAID", "DENIED", "PENDING", "ADJUSTED", "VOID"]


def passing() -> pl.Expr:
    """TRUE for rows that pass every row-level rule (a NULL fails unless the rule says not)."""
    ok = lambda e: e.fill_null(False)
    return (
        ok(pl.col("claim_id").is_not_null())
        & ok(pl.col("claim_id").is_duplicated().not_())
        & ok(pl.col("member_id").is_not_null())
        & ok(pl.col("plan_code").is_in(PLANS))
        & ok(pl.col("provider_npi").str.contains(r"^[0-9]{10}$"))
        & ok(pl.col("service_date").is_between(pl.date(2020, 1, 1), pl.date(2025, 12, 31)))
        & (pl.col("paid_date") >= pl.col("service_date")).fill_null(True)
        & ok(pl.col("billed_amount") >= 0)
        & ok(pl.col("diagnosis_code").str.contains(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$"))
        & ok(pl.col("state").is_in(STATES))
        & ok(pl.col("status").is_in(STATUSES))
    )


def split(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows passing every row rule and the aggregates, and the rest."""
    df = df.with_columns(_pass=passing())
    aggregates_ok = (
        df["email"].null_count() / df.height <= 0.05
        and 150 <= df["paid_amount"].mean() <= 220
        and 1000 <= df.height <= 50_000_000
    )
    good = df.filter(pl.col("_pass") & aggregates_ok).drop("_pass")
    bad = df.filter(~(pl.col("_pass") & aggregates_ok)).drop("_pass")
    return good, bad


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "validate":
        good, bad = split(pl.read_parquet(path))
        print(good.height, bad.height)
        return
    out = sys.argv[3]
    if mode == "parquet":
        pl.read_parquet(path).write_parquet(f"{out}/whole.parquet")
        return
    from deltalake import write_deltalake

    if mode == "append":
        write_deltalake(f"{out}/plain", pl.read_parquet(path).to_arrow())
        return
    good, bad = split(pl.read_parquet(path))
    write_deltalake(f"{out}/target", good.to_arrow())
    write_deltalake(f"{out}/quarantine", bad.to_arrow())
    print(good.height, bad.height)


if __name__ == "__main__":
    main()
