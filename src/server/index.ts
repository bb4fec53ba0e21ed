/** The HTTP API and dashboard server (`klinecast serve`). */
export { DEFAULT_RATE_LIMIT, DEFAULT_WEB_DIR, createServer, type RateLimitOptions, type ServerOptions } from './app.js';
export { MemoryPredictionCache, RedisPredictionCache, cacheKey, createPredictionCache, type ForecastKey, type PredictionCache } from './cache.js';
export { HttpError, type ErrorBody } from './errors.js';
export { LocalTrainingJobs, type LocalTrainingJobsOptions } from './jobs.js';
export type { Forecast, ForecastDay, PredictOptions, Predictor, TrainingJob, TrainingJobProgress, TrainingJobState, TrainingJobs } from './ports.js';
export { createPredictor, toApiForecast } from './predictor.js';
