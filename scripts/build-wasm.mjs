// Compiles every AssemblyScript entry in assembly/ to build/<name>.wasm.
// Kept as a script (not an asc config) so `npm install` needs nothing beyond npm.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = existsSync(join(root, 'assembly')) ? readdirSync(join(root, 'assembly')).filter((f) => f.endsWith('.ts') && !f.startsWith('_')) : [];
mkdirSync(join(root, 'build'), { recursive: true });
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
// Each entry is built twice: baseline SIMD, and with relaxed SIMD (fused multiply-add in the GEMM micro-kernel),
// which src/engine/runtime.ts loads when the running V8 supports it.
const variants = [
  { suffix: '', enable: 'simd' },
  { suffix: '-fma', enable: 'simd,relaxed-simd' },
];
for (const entry of entries) {
  const name = entry.replace(/\.ts$/, '');
  for (const { suffix, enable } of variants) {
    execFileSync(
      process.execPath,
      [
        asc,
        join('assembly', entry),
        '--outFile',
        join('build', `${name}${suffix}.wasm`),
        '--optimizeLevel',
        '3',
        '--shrinkLevel',
        '0',
        '--noAssert',
        '--enable',
        enable,
        '--runtime',
        'stub',
        '--initialMemory',
        '256',
        '--exportRuntime',
      ],
      { cwd: root, stdio: 'inherit' },
    );
    console.log(`built build/${name}${suffix}.wasm`);
  }
}
