/**
 * The engine's only source of randomness: xoshiro128** (Blackman & Vigna), seeded through splitmix32.
 * Same seed → same stream on every machine, and the 128-bit state round-trips through JSON (rng_state.json),
 * so a resumed run continues exactly where it stopped.
 */
export interface RngState {
  algorithm: 'xoshiro128**';
  state: [number, number, number, number];
}

export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32: spreads any seed (even 0) over a non-zero state
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  /** Restores a saved state in place: layers keep their reference to this Rng, so a resume must not replace it. */
  setState(state: RngState): void {
    if (state?.algorithm !== 'xoshiro128**' || !Array.isArray(state.state) || state.state.length !== 4) {
      throw new Error('rng state: expected {algorithm: "xoshiro128**", state: [4 × uint32]}');
    }
    if (state.state.every((v) => v >>> 0 === 0)) throw new Error('rng state: all-zero state is invalid for xoshiro128**');
    this.s.set(state.state.map((v) => v >>> 0));
  }

  getState(): RngState {
    return { algorithm: 'xoshiro128**', state: [this.s[0], this.s[1], this.s[2], this.s[3]] };
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** In-place Fisher–Yates shuffle (epoch order of training windows). */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
  }

  /** Inverted-dropout mask: each element is 0 with probability p, else 1/(1−p). */
  fillDropoutMask(mask: Float32Array, p: number): void {
    const keep = 1 / (1 - p);
    const threshold = p * 4294967296;
    for (let i = 0; i < mask.length; i++) mask[i] = this.nextU32() < threshold ? 0 : keep;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
