"""Independent pandas reference for evaluateCrossSection (test/evaluation/cross-section.test.ts runs it with /usr/bin/python3).

argv: CSV path (columns date, symbol, last_close, actual, predicted), min stocks per date, periods per year.
stdout: JSON with the daily IC / Rank IC, their summaries, the quintile spread, per-stock skill and pooled metrics; null for NaN.
Written the Qlib way: groupby date, Series.corr. Spearman uses scipy when present, else pandas rank(method='average') then Pearson.
"""
import json
import math
import sys

import numpy as np
import pandas as pd

try:
    from scipy.stats import spearmanr
except ImportError:  # pandas' own spearman needs scipy
    spearmanr = None


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def spearman(p, a):
    if spearmanr is not None:
        if p.nunique() < 2 or a.nunique() < 2:
            return float("nan")
        return float(spearmanr(p, a).correlation)
    return p.rank(method="average").corr(a.rank(method="average"))


def summary(s):
    s = s.dropna()
    n = len(s)
    m, sd = s.mean(), s.std()  # sample std, ddof=1
    return {
        "mean": num(m), "std": num(sd), "icir": num(m / sd) if n >= 2 else None,
        "t_stat": num(m / (sd / math.sqrt(n))) if n >= 2 else None, "days": n,
        "positive_share": num((s > 0).mean()) if n else None,
    }


def quintiles(g):
    if g["predicted"].nunique() < 2:
        return pd.Series({"top": np.nan, "bottom": np.nan})
    g = g.sort_values(["predicted", "symbol"], kind="mergesort")
    k = max(1, len(g) // 5)
    return pd.Series({"top": g["actual"].iloc[-k:].mean(), "bottom": g["actual"].iloc[:k].mean()})


def main():
    path, min_stocks, periods = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    df = pd.read_csv(path, dtype={"date": str, "symbol": str}, float_precision="round_trip")
    by_date = df.groupby("date", sort=True)
    stocks = by_date.size()
    counted = df[df["date"].map(stocks) >= min_stocks].groupby("date", sort=True)
    varies = counted.apply(lambda g: g["predicted"].nunique() > 1 and g["actual"].nunique() > 1)
    ic = counted.apply(lambda g: g["predicted"].corr(g["actual"])).where(varies)
    rank_ic = counted.apply(lambda g: spearman(g["predicted"], g["actual"])).where(varies)
    q = counted.apply(quintiles)
    q["spread"] = q["top"] - q["bottom"]
    qd = q.dropna()

    daily = []
    for date, n in stocks.items():
        has = date in ic.index
        daily.append({
            "date": date, "stocks": int(n),
            "ic": num(ic[date]) if has else None, "rank_ic": num(rank_ic[date]) if has else None,
            "top_quintile_return": num(q.loc[date, "top"]) if has else None,
            "bottom_quintile_return": num(q.loc[date, "bottom"]) if has else None,
            "spread": num(q.loc[date, "spread"]) if has else None,
        })

    df["actual_price"] = df["last_close"] * np.exp(df["actual"])
    df["predicted_price"] = df["last_close"] * np.exp(df["predicted"])
    df["err"] = (df["predicted_price"] - df["actual_price"]).abs()
    df["pers_err"] = (df["last_close"] - df["actual_price"]).abs()
    per = df.groupby("symbol").agg(model=("err", "mean"), pers=("pers_err", "mean"))
    skill = (1 - per["model"] / per["pers"])[per["pers"] > 0]
    ap, pp = df["actual_price"], df["predicted_price"]
    nz = ap != 0

    print(json.dumps({
        "ic": summary(ic), "rank_ic": summary(rank_ic),
        "quintile_spread": {
            "mean_daily": num(qd["spread"].mean()), "annualised": num(qd["spread"].mean() * periods),
            "mean_top": num(qd["top"].mean()), "mean_bottom": num(qd["bottom"].mean()), "days": len(qd),
        },
        "per_stock": {
            "stocks": len(per), "stocks_scored": len(skill), "median_skill": num(skill.median()),
            "worst_skill": num(skill.min()), "worst_symbol": skill.idxmin(),
            "share_above_zero": num((skill > 0).mean()),
        },
        "pooled": {
            "mae": num(df["err"].mean()), "rmse": num(np.sqrt(((pp - ap) ** 2).mean())),
            "mape": num(((pp - ap).abs() / ap.abs())[nz].mean() * 100),
            "r2": num(1 - ((ap - pp) ** 2).sum() / ((ap - ap.mean()) ** 2).sum()),
            "persistence_mae": num(df["pers_err"].mean()),
            "skill": num(1 - df["err"].mean() / df["pers_err"].mean()),
        },
        "n_dates": len(stocks), "n_stocks": len(per), "scipy": spearmanr is not None,
        "daily": daily,
    }))


if __name__ == "__main__":
    main()
