/** Small checks and conversions of plain values, each written once. */

/** A finite number as itself; anything else (NaN, Infinity, a string, undefined) as null, as JSON files store "unknown". */
export function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Two digits, zero-padded: the pieces of timestamps like 20250119_160000. */
export function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
