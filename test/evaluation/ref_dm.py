# Reference Diebold-Mariano (1995) with the Harvey-Leybourne-Newbold (1997) correction, written from the papers'
# formulas with numpy and scipy: d_t = L(e1_t) - L(e2_t), long-run variance from h-1 autocovariances (1/n), DM* =
# DM * sqrt((n + 1 - 2h + h(h-1)/n) / n), two-sided p from Student t with n-1 df. argv: json {e1, e2, loss, h}.
import json, sys
import numpy as np
from scipy import stats

spec = json.loads(sys.argv[1])
e1, e2 = np.array(spec['e1'], dtype=float), np.array(spec['e2'], dtype=float)
L = (lambda e: e * e) if spec['loss'] == 'squared' else np.abs
d = L(e1) - L(e2)
n, h = len(d), spec['h']
m = d.mean()
gamma = [np.sum((d[k:] - m) * (d[:n - k] - m)) / n for k in range(h)]
v = gamma[0] + 2 * sum(gamma[1:])
dm = m / np.sqrt(v / n)
hln = dm * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
p = 2 * stats.t.sf(abs(hln), n - 1)
k, trials = spec.get('k', 0), spec.get('trials', 0)
binom = float(stats.binomtest(k, trials, 0.5).pvalue) if trials else None
print(json.dumps({'statistic': float(hln), 'p_value': float(p), 'mean_difference': float(m), 'binomial': binom}))
