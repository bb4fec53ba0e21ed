/** A batch's bookkeeping as `klinecast batch` leaves it, for tests that list or show batches. */

/** batch_progress.json of an lstm batch stamped 2026-01-01 00:00, with the given stocks (symbol → its progress entry). */
export function batchProgress(stocks: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    modelType: 'lstm',
    configHash: '0123456789abcdef',
    config: {},
    stamp: '20260101_000000',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:10:00.000Z',
    stocks,
    ...overrides,
  };
}
