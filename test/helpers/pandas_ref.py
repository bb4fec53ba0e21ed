"""Independent pandas reference for klinecast's features (test/features/*.test.ts run it through /usr/bin/python3).

stdin: JSON {"columns": {"open": [...], "high", "low", "close", "vol", "amount", "turnover_rate"}, "features": [names]}
stdout: JSON {name: [value or null]} with null for NaN. Formulas follow docs/FEATURES.md, written the pandas way.
"""
import json
import sys

import numpy as np
import pandas as pd


def main():
    req = json.load(sys.stdin)
    d = pd.DataFrame({k: pd.Series(v, dtype="float64") for k, v in req["columns"].items()})
    o, h, l, c, v, a = d["open"], d["high"], d["low"], d["close"], d["vol"], d["amount"]
    t = d["turnover_rate"]
    prev = c.shift(1)

    def ema(x, n):
        return x.ewm(alpha=2 / (n + 1), adjust=False).mean()

    def sma1(x, n):  # Tongdaxin SMA(X,N,1): Wilder smoothing
        return x.ewm(alpha=1 / n, adjust=False).mean()

    dif = ema(c, 12) - ema(c, 26)
    dea = ema(dif, 9)
    bar = 2 * (dif - dea)
    mid = c.rolling(20).mean()
    sd = c.rolling(20).std(ddof=0)
    up, lo = mid + 2 * sd, mid - 2 * sd

    def rsi(n):
        delta = c.diff()
        su = sma1(delta.clip(lower=0), n)
        sdn = sma1((-delta).clip(lower=0), n)
        total = su + sdn
        return (100 * su / total).where(total > 0, 50.0).where(delta.notna())

    llv, hhv = l.rolling(9).min(), h.rolling(9).max()
    rng = hhv - llv
    rsv = (100 * (c - llv) / rng).where(rng != 0, 50.0).where(rng.notna())

    def seeded50(x):  # SMA(x,3,1) whose previous value on the day before the first one is 50
        valid = x.dropna()
        s = pd.concat([pd.Series([50.0]), valid.reset_index(drop=True)]).ewm(alpha=1 / 3, adjust=False).mean().iloc[1:]
        s.index = valid.index
        return s.reindex(x.index)

    k = seeded50(rsv)
    dd = seeded50(k)
    lr = np.log(c / prev)
    rng1 = h - l
    avg = (a * 1000 / (v * 100)).where(v > 0, c)

    def logchg(x, n):
        return np.log((x + 1) / (x.shift(n) + 1))

    def ratio(x, m):
        return (x / m).where(~((x == 0) & (m == 0)), 1.0)

    f = {
        "open": o, "high": h, "low": l, "close": c, "vol": v, "amount": a, "turnover_rate": t,
        "ema12": ema(c, 12), "ema26": ema(c, 26),
        "ema12_rel": ema(c, 12) / c - 1, "ema26_rel": ema(c, 26) / c - 1,
        "macd_dif": dif, "macd_dea": dea, "macd_bar": bar,
        "macd_dif_rel": dif / c, "macd_dea_rel": dea / c, "macd_bar_rel": bar / c,
        "rsi6": rsi(6), "rsi12": rsi(12), "rsi24": rsi(24),
        "boll_mid": mid, "boll_upper": up, "boll_lower": lo,
        "boll_upper_rel": up / c - 1, "boll_lower_rel": lo / c - 1,
        "boll_width": (up - lo) / mid,
        "boll_position": ((c - lo) / (up - lo)).where(up - lo > 0, 0.5).where(mid.notna()),
        "kdj_k": k, "kdj_d": dd, "kdj_j": 3 * k - 2 * dd,
        "amplitude": (h - l) / prev,
        "log_return": lr,
        "open_gap": o / prev - 1,
        "body": (c - o) / prev,
        "close_position": ((c - l) / rng1).where(rng1 > 0, 0.5),
        "upper_shadow": ((h - np.maximum(o, c)) / rng1).where(rng1 > 0, 0.0),
        "lower_shadow": ((np.minimum(o, c) - l) / rng1).where(rng1 > 0, 0.0),
        "volatility_5": lr.rolling(5).std(ddof=0), "volatility_20": lr.rolling(20).std(ddof=0),
        "ma5_ma20": c.rolling(5).mean() / c.rolling(20).mean() - 1,
        "ma20_ma60": c.rolling(20).mean() / c.rolling(60).mean() - 1,
        "vol_ma5_ma20": ratio(v.rolling(5).mean(), v.rolling(20).mean()),
        "amount_ratio_5": ratio(a, a.rolling(5).mean()),
        "avg_price": avg, "avg_price_rel": avg / c - 1,
    }
    for n in (5, 10, 20, 60):
        f[f"ma{n}"] = c.rolling(n).mean()
        f[f"ma{n}_rel"] = c.rolling(n).mean() / c - 1
    for n in (1, 3, 5, 10):
        f[f"price_change_{n}"] = c.pct_change(n)
        f[f"vol_change_{n}"] = logchg(v, n)
    for n in (1, 5):
        f[f"amount_change_{n}"] = logchg(a, n)
    for n in (5, 10, 20):
        f[f"vol_ratio_{n}"] = ratio(v, v.rolling(n).mean())
    for n in (20, 60):
        f[f"close_to_high_{n}"] = c / h.rolling(n).max() - 1
        f[f"close_to_low_{n}"] = c / l.rolling(n).min() - 1
    for n in (5, 20):
        f[f"turnover_ma{n}"] = t.rolling(n, min_periods=1).mean().where(pd.Series(np.arange(len(t))) >= n - 1)
    # covariates: the board one-hot from the code prefix (SSE/SZSE/BSE listing rules)
    code = req.get("symbol", "")
    boards = {
        "board_main": code[:3] in ("600", "601", "603", "605", "000", "001", "002", "003"),
        "board_chinext": code[:3] in ("300", "301"),
        "board_star": code[:3] in ("688", "689"),
        "board_bse": code[:2] in ("43", "83", "87", "88", "92"),
    }
    for name, on in boards.items():
        f[name] = pd.Series(np.full(len(c), 1.0 if on else 0.0))

    out = {}
    for name in req["features"]:
        col = f[name].astype("float64")
        out[name] = [None if not np.isfinite(x) else float(x) for x in col.to_numpy()]
    json.dump(out, sys.stdout)


main()
