/** The data layer's public surface: connection, migrations, loader, calendar, import, demo market, checks. */
export type { ExRightsEvent, IsoDate, KlineBar, KlineSeries, LimitStatus, SeriesAdjustment, StockInfo, Symbol6 } from './types.js';
export {
  ADJUST_MODES,
  DEFAULT_ADJUST,
  PRE_CLOSE_TOLERANCE,
  adjustSeries,
  deriveFactors,
  rawPrice,
  type AdjustFactors,
  type AdjustMode,
  type PreCloseAnomaly,
} from './adjust.js';
export {
  DEFAULT_DATABASE_URL,
  maskUrl,
  openDatabase,
  parseDatabaseUrl,
  resolveDatabaseUrl,
  urlOfTarget,
  withDatabase,
  type DatabaseHandle,
  type DatabaseTarget,
  type OpenOptions,
} from './db/connection.js';
export type { AiPredictionsTable, DatabaseSchema, Db, Dialect, ModelRegistryTable } from './db/schema.js';
export { infoToRow } from './db/rows.js';
export { MIGRATIONS, migrate, type MigrateOptions, type MigrationResult } from './db/migrations.js';
export {
  CONFIG_FILE,
  SchemaConfigSchema,
  loadSchemaConfig,
  parseSchemaConfig,
  type ResolvedSchema,
  type ResolvedTable,
  type SchemaConfig,
  type SchemaConfigInput,
} from './db/mapping.js';
export { inspectDatabase, type DatabaseInspection, type TableInspection } from './db/inspect.js';
export { DatabaseError, describeDatabaseError, isDatabaseUnreachable } from './db/errors.js';
export {
  DEFAULT_DATABASE_RETRY,
  DatabaseOutageError,
  DatabaseRetry,
  type DatabaseRetryNotice,
  type DatabaseRetryPolicy,
} from './db/retry.js';
export { StockDataLoader, type BulkLoadOptions, type CompletenessReport, type DateRange, type SeriesLoadOptions } from './loader.js';
export { TradingCalendar, nextTradingDays, recordTradingDates } from './calendar.js';
export { EXCHANGE_HOLIDAYS, HOLIDAY_LIST_LAST_YEAR, isRuleTradingDay, nextRuleTradingDays, ruleTradingDays } from './holidays.js';
export { addDays, daysBetween, isIsoDate, parseDateLoose, requireIsoDate, todayInChina } from './dates.js';
export {
  boardOf,
  formatSymbol,
  isSymbol6,
  marketOf,
  normalizeSymbol,
  parseSymbolLoose,
  requireSymbol,
  symbolFormOf,
  SYMBOL_FORMS,
  type Board,
  type BoardInfo,
  type SymbolForm,
} from './symbols.js';
export { importCsvFiles, expandImportPaths, type FileImportResult, type ImportReport } from './import/importer.js';
export type { ImportIssue } from './import/parse.js';
export { CSV_FORMATS } from './import/formats.js';
export { CLOSE_BLOCK_SIZE, barsToSeries, changedCloseRanges, closeBlocks, seriesToBars, sliceSeries, type CloseBlock } from './series.js';
export { DEMO_DEFAULTS, generateDemoMarket, writeDemoMarket, type DemoMarket, type DemoOptions, type DemoWriteResult } from './demo.js';
export { checkData, checkSeries, type CheckReport, type StockCheck } from './check.js';
export { writeAdjFactors, writeBars, type WriteCounts } from './writer.js';
export { SeededRandom } from './rng.js';
export { summariseDatabase, type DatabaseSummary, type StockSummary } from './summary.js';
export { resolveUniverse } from './universe.js';
export {
  LEDGER_SOURCES,
  listForecasts,
  recordForecasts,
  reconcileForecasts,
  type LedgerEntry,
  type LedgerFilter,
  type LedgerForecast,
  type LedgerSource,
  type ReconcileResult,
} from './ledger.js';
