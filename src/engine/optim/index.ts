export { Adam, AdamW, type AdamOptions, type Optimizer } from './adam.js';
export { clipGradNorm } from './clip.js';
export {
  CosineAnnealingLR,
  ReduceLROnPlateau,
  StepLR,
  createSchedule,
  type LrSchedule,
  type LrTarget,
  type PlateauOptions,
  type ScheduleSpec,
} from './schedule.js';
