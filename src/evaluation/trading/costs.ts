/**
 * The cost of one fill: broker commission with its minimum, stamp duty on sells (halved on 2023-08-28) and the
 * exchanges' transfer fee (docs/TRADING.md, "Costs", names the sources). Each fee is rounded to the fen, as brokers bill.
 */
import type { IsoDate } from '../../data/types.js';
import { roundToFen } from './rules.js';

export interface CostModel {
  /** Commission as a fraction of the traded value, on buys and sells (0.00025 = 0.025%). */
  commissionRate: number;
  /** The broker's minimum commission per fill, CNY. */
  minCommission: number;
  /** Stamp duty on sells before stampDutyCutDate. */
  stampDutyRate: number;
  /** Stamp duty on sells from stampDutyCutDate. */
  stampDutyRateAfterCut: number;
  stampDutyCutDate: IsoDate;
  /** Transfer fee (过户费) as a fraction of the traded value, on buys and sells. */
  transferFeeRate: number;
}

export const DEFAULT_COSTS: CostModel = {
  commissionRate: 0.00025,
  minCommission: 5,
  stampDutyRate: 0.001,
  stampDutyRateAfterCut: 0.0005,
  stampDutyCutDate: '2023-08-28',
  transferFeeRate: 0.00001,
};

/** No costs at all: the "without costs" figures are a second simulation under this model. */
export const ZERO_COSTS: CostModel = { ...DEFAULT_COSTS, commissionRate: 0, minCommission: 0, stampDutyRate: 0, stampDutyRateAfterCut: 0, transferFeeRate: 0 };

export interface FillCosts {
  commission: number;
  stampDuty: number;
  transferFee: number;
  total: number;
}

export function stampDutyRateOn(model: CostModel, date: IsoDate): number {
  return date >= model.stampDutyCutDate ? model.stampDutyRateAfterCut : model.stampDutyRate;
}

/** The fees of a fill of `value` CNY on `date`. */
export function fillCosts(model: CostModel, side: 'buy' | 'sell', value: number, date: IsoDate): FillCosts {
  if (value <= 0) return { commission: 0, stampDuty: 0, transferFee: 0, total: 0 };
  const commission = roundToFen(Math.max(model.minCommission, value * model.commissionRate));
  const stampDuty = side === 'sell' ? roundToFen(value * stampDutyRateOn(model, date)) : 0;
  const transferFee = roundToFen(value * model.transferFeeRate);
  return { commission, stampDuty, transferFee, total: roundToFen(commission + stampDuty + transferFee) };
}
