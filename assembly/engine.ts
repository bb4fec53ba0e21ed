// The single WebAssembly module of the engine. Kernel families live in assembly/_*.ts and are re-exported here;
// every kernel takes raw byte offsets into linear memory, which the TypeScript side (src/engine/runtime.ts) owns.

/** First byte the TypeScript allocator may use: everything below belongs to AssemblyScript's static data. */
export function heap_base(): usize {
  return (__heap_base + 63) & ~63;
}
export * from './_transformer';

export * from './_gemm';
export * from './_elementwise';
export * from './_rnn';
export * from './_optim';
export * from './_random';
