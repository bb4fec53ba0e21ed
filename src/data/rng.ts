/**
 * A small seeded generator (sfc32, seeded through splitmix32) for the demo market: the same seed gives
 * the same numbers on every machine, because it uses 32-bit integer arithmetic only.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  constructor(seed: number, stream = 0) {
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** uniform in [0, 1) */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  int(lo: number, hiInclusive: number): number {
    return lo + Math.floor(this.uniform() * (hiInclusive - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.uniform() * items.length)];
  }

  /** standard normal (Box–Muller, both values used) */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /**
   * Student-t with 6 degrees of freedom scaled to unit variance: the fat tails of daily returns.
   * χ²(6) = −2·ln(u₁u₂u₃), so one normal and three uniforms suffice.
   */
  studentT6(): number {
    let u = this.uniform() * this.uniform() * this.uniform();
    while (u === 0) u = this.uniform();
    const chi2 = -2 * Math.log(u);
    return (this.normal() / Math.sqrt(chi2 / 6)) * Math.sqrt(4 / 6);
  }
}
