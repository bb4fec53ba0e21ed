/**
 * cos(x) rounded correctly to float64, for the cosine schedule.
 *
 * V8's Math.cos (an fdlibm port) may be off by one ulp, while Python's math.cos (glibc) is within 0.55 ulp and in
 * practice rounds correctly; torch's CosineAnnealingLR recurses on math.cos, so a one-ulp difference would make our
 * learning rates drift from torch's in the last bit. Evaluating in double-double (about 32 significant digits) and
 * rounding once gives the correctly rounded value. Meant for the moderate arguments a schedule uses (|x| < 2^20).
 */

type DD = [hi: number, lo: number];

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

const SPLITTER = 134217729; // 2^27 + 1 (Dekker's split)

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function add(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  return twoSum(s, e + a[1] + b[1]);
}

function mul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return twoSum(p, e + a[0] * b[1] + a[1] * b[0]);
}

function divByNumber(a: DD, b: number): DD {
  const q1 = a[0] / b;
  const [p, e] = twoProd(q1, b);
  const q2 = (a[0] - p - e + a[1]) / b;
  return twoSum(q1, q2);
}

// π/2 as four pieces (fdlibm's pio2_1, pio2_2, pio2_3, pio2_3t): the first three have 33 significant bits, so k·piece
// is exact for k < 2^20 and x − k·π/2 comes out to about 1e-40 absolute.
const PIO2: readonly number[] = [1.5707963267341256, 6.077100506303966e-11, 2.0222662487111665e-21, 8.4784276603689e-32];
const TWO_OVER_PI = 0.6366197723675814;

/** Σ (−1)^k r^(2k+start)/(2k+start)! by recurrence, until terms fall below 1e-34 of the first. */
function series(r: DD, start: 0 | 1): DD {
  const r2 = mul(r, r);
  let term: DD = start === 0 ? [1, 0] : r;
  let sum: DD = term;
  for (let n = start + 2; n < 40; n += 2) {
    term = divByNumber(mul(term, r2), -(n - 1) * n);
    sum = add(sum, term);
    if (Math.abs(term[0]) < 1e-34 * Math.abs(sum[0])) break;
  }
  return sum;
}

export function cosCorrectlyRounded(x: number): number {
  if (!Number.isFinite(x)) return NaN;
  if (Math.abs(x) >= 2 ** 20) return Math.cos(x);
  const k = Math.round(x * TWO_OVER_PI);
  let r: DD = [x, 0];
  for (const piece of PIO2) r = add(r, twoProd(-k, piece));
  const quadrant = ((k % 4) + 4) % 4;
  const v = quadrant % 2 === 0 ? series(r, 0) : series(r, 1);
  const sign = quadrant === 1 || quadrant === 2 ? -1 : 1;
  return sign * (v[0] + v[1]);
}
