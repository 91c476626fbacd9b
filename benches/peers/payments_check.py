"""expectations/card_payments.yaml written by hand in polars, as a team would without dq-gate:
read the Parquet file, count each expectation's failing rows with dq-gate's semantics (a null is
left out unless the kind says otherwise; `sql` fails a null), compute the metrics, and split the
rows that pass every routing check from the rest.

usage: payments_check.py INPUT.parquet AS_OF (RFC 3339, UTC) [OUT]
Prints one JSON object: failed rows per expectation, the metrics, and the split. With OUT, also
writes the two parts as Delta tables OUT/target and OUT/quarantine with deltalake's
`write_deltalake`, as `dq-check run` does (`benches/peers/run payments`).
"""
import datetime as dt
import json
import sys

import polars as pl

CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK"]


def rules(as_of: dt.datetime) -> dict[str, tuple[pl.Expr, bool]]:
    """Each row-level expectation: TRUE where a row fails it, and whether it routes."""
    c = pl.col
    ts_limit = as_of + dt.timedelta(minutes=5)
    fail = lambda e: e.fill_null(False)
    txn_key = pl.struct("merchant_id", "merchant_ref")
    ecom = c("channel").str.to_lowercase() == "ecom"
    email_ok = c("cardholder_email").is_not_null() & c("cardholder_email").str.contains("@", literal=True)
    return {
        "txn_id_unique": (fail(c("txn_id").is_not_null() & c("txn_id").is_duplicated()), True),
        "merchant_ref_unique_per_merchant": (
            fail(c("merchant_id").is_not_null() & c("merchant_ref").is_not_null() & txn_key.is_duplicated()),
            True,
        ),
        "amount_positive": (fail((c("amount") <= 0) | (c("amount") > 100000)), True),
        "refund_not_above_amount": (fail(c("refund_amount") > c("amount")), True),
        "currency_iso": (fail(c("currency").is_in(CURRENCIES).not_()), True),
        "mcc_four_digits": (fail(c("mcc").str.contains(r"^[0-9]{4}$").not_()), True),
        "mcc_not_gambling": (fail(c("mcc").is_in(["7995", "7800", "7801", "7802"])), False),
        "auth_code_length": (fail(c("auth_code").str.len_chars() != 6), True),
        "card_bin_digits": (fail(c("card_bin").str.contains(r"^[0-9]{6,8}$").not_()), True),
        "posting_day_format": (
            fail(c("posting_day").is_not_null() & c("posting_day").str.to_date("%Y%m%d", strict=False).is_null()),
            True,
        ),
        "txn_ts_not_in_future": (fail(c("txn_ts") > pl.lit(ts_limit).dt.cast_time_unit("us")), True),
        "channel_known": (fail(c("channel").str.to_lowercase().is_in(["pos", "ecom", "moto"]).not_()), True),
        "ecommerce_has_email": (fail(ecom & email_ok.fill_null(False).not_()), True),
    }


def main() -> None:
    path, as_of = sys.argv[1], dt.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00"))
    df = pl.read_parquet(path)
    checks = rules(as_of)
    failed = df.select(**{k: e for k, (e, _) in checks.items()})
    counts = {k: int(failed[k].sum()) for k in checks}
    amount = df["amount"].cast(pl.Float64)
    metrics = {
        "amount_p99": amount.quantile(0.99, interpolation="linear"),
        "amount_spread": amount.std(),
        "currency_variety": df["currency"].n_unique() - (1 if df["currency"].null_count() else 0),
        "feed_fresh_max_ts": str(df["txn_ts"].max()),
    }
    batch_ok = metrics["amount_p99"] <= 20000 and metrics["currency_variety"] <= 9
    routing = [k for k, (_, routes) in checks.items() if routes]
    bad = failed.select(pl.any_horizontal(routing) | (not batch_ok)).to_series()
    good, quarantined = df.filter(~bad), df.filter(bad)
    if len(sys.argv) > 3:
        from deltalake import write_deltalake

        write_deltalake(f"{sys.argv[3]}/target", good.to_arrow())
        write_deltalake(f"{sys.argv[3]}/quarantine", quarantined.to_arrow())
    print(json.dumps({"rows": df.height, "failed": counts, "metrics": metrics,
                      "passing_rows": good.height, "failing_rows": quarantined.height}))


if __name__ == "__main__":
    main()
