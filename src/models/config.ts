import { z } from 'zod';

/**
 * The architecture of a forecaster, as saved in model/config.json. Defaults follow the seed:
 * hidden 128, 2 layers, dropout 0.2, and an MLP head Linear(hidden→64)–ReLU–Dropout–Linear(64→horizon).
 */
export const ModelConfigSchema = z.object({
  modelType: z.enum(['lstm', 'gru', 'transformer']),
  inputSize: z.number().int().positive(),
  /** LSTM/GRU hidden size, or the Transformer's d_model. */
  hiddenSize: z.number().int().positive().default(128),
  numLayers: z.number().int().positive().default(2),
  dropout: z.number().min(0).max(0.9).default(0.2),
  /** Equals the forecast horizon: one output per future day, predicted directly. */
  outputSize: z.number().int().positive().default(1),
  headHiddenSize: z.number().int().positive().default(64),
  /** Transformer only. */
  numHeads: z.number().int().positive().default(4),
  /** Transformer only. */
  dimFeedforward: z.number().int().positive().default(512),
  /**
   * Universal runs only: D > 0 adds nn.Embedding(numStocks + 1, D) whose row for the window's stock is concatenated
   * to every time step's features (row 0 is the unknown stock); 0 = off, the model is symbol-agnostic.
   */
  stockEmbeddingDim: z.number().int().min(0).default(0),
  /** The stocks the embedding knows (the universe trained on); its table has numStocks + 1 rows. */
  numStocks: z.number().int().min(0).default(0),
});

export type ModelConfig = z.infer<typeof ModelConfigSchema>;
export type ModelType = ModelConfig['modelType'];
