/** The trading simulation under A-share rules (docs/TRADING.md): rules, costs, strategies, the day loop and its figures. */
export {
  CHINEXT_REFORM_DATE,
  MAIN_REGISTRATION_DATE,
  atLimitDown,
  atLimitUp,
  isSpecialTreatment,
  limitPrices,
  lotRule,
  priceLimit,
  roundBuyShares,
  roundSellShares,
  roundToFen,
  tradingBoardOf,
  unlimitedListingDays,
  type TradingBoard,
} from './rules.js';
export { DEFAULT_COSTS, ZERO_COSTS, fillCosts, stampDutyRateOn, type CostModel, type FillCosts } from './costs.js';
export {
  LIMIT_UNKNOWN,
  buildMarket,
  buildSignals,
  type Market,
  type MarketBarInput,
  type MarketStock,
  type MarketStockInput,
  type SignalInput,
  type Signals,
} from './market.js';
export {
  DEFAULT_RULES,
  DEFAULT_SIMULATION,
  benchmarkReturns,
  runSimulation,
  simulationDays,
  type DailyRow,
  type DayContext,
  type DealPrice,
  type PositionRow,
  type RejectReason,
  type RejectedOrder,
  type RuleToggles,
  type SimulationRecord,
  type SimulationSettings,
  type Strategy,
  type Trade,
} from './simulator.js';
export { LONG_FLAT_DEFAULTS, TOPK_DEFAULTS, longFlat, topkDropout, type LongFlatOptions, type TopkOptions } from './strategy.js';
export {
  PERIODS_PER_YEAR,
  compoundAnnualised,
  maxDrawdown,
  maxDrawdownOfSum,
  meanOf,
  sampleStd,
  summariseExcess,
  summariseReturns,
  summariseSimulation,
  type ExcessSummary,
  type ReturnSummary,
  type SimulationSummary,
} from './metrics.js';
export { STRATEGY_KINDS, checkStrategy, simulate, strategyFor, type BenchmarkSpec, type SimulationOutcome, type StrategySpec } from './simulate.js';
export { ForecastsFileSchema, parseForecasts, type ParsedForecasts } from './forecasts.js';
