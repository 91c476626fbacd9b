"""A card-payments table for expectations/card_payments.yaml, seeded by row number (no randomness):
usage: payments_gen.py ROWS OUT.parquet (polars from benches/peers/requirements.txt)."""
import polars as pl, sys
n = int(sys.argv[1]); out = sys.argv[2]
i = pl.int_range(n, dtype=pl.Int64)
h = lambda a, m: ((i * a + 12345) % 2147483647) % m
df = pl.select(
    txn_id=pl.format("{}{}", (i * 2654435761 % (1 << 40)).cast(pl.String).str.zfill(16), (i * 40503 % 1000003).cast(pl.String).str.zfill(16)),
    merchant_id=h(7919, 20000),
    merchant_ref=pl.format("R{}", h(104729, 100000000)),
    card_bin=h(15485863, 900000).add(100000).cast(pl.String),
    cardholder_email=pl.format("c{}@example.org", h(32452843, 3000000)),
    amount=(h(49979687, 2000000).cast(pl.Float64) / 100 + 0.01).cast(pl.Decimal(12, 2)),
    refund_amount=pl.when(h(3, 10) == 0).then((h(86028121, 1000).cast(pl.Float64) / 100).cast(pl.Decimal(12, 2))).otherwise(None),
    currency=pl.lit(["EUR", "USD", "GBP", "CHF", "SEK"]).list.get(h(17, 5)),
    mcc=h(97, 9000).add(1000).cast(pl.String),
    auth_code=h(193, 900000).add(100000).cast(pl.String),
    posting_day=pl.format("2026{}{}", h(11, 9).add(1).cast(pl.String).str.zfill(2), h(13, 28).add(1).cast(pl.String).str.zfill(2)),
    txn_ts=(pl.lit(1_767_225_600_000_000) + h(7, 20_000_000_000_000)).cast(pl.Datetime("us", "UTC")),
    channel=pl.lit(["pos", "ecom", "moto"]).list.get(h(5, 3)),
)
df.write_parquet(out)
print(df.head(3)); print(df.height)
