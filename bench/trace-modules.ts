// Preload (`node --import ./bench/trace-modules.ts …`) that records every file module the process loads, ESM and
// CommonJS alike, and writes their paths (one a line) to $CLIP_BENCH_TRACE_OUT at exit. bench/gpu-bundle.sh runs
// bench/gpu.ts under it to learn which node_modules files the GPU bench needs.
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const out = process.env.CLIP_BENCH_TRACE_OUT;
if (!out) throw new Error('trace-modules: set CLIP_BENCH_TRACE_OUT to the output file');
const seen = new Set<string>();
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    if (r.url.startsWith('file:')) seen.add(fileURLToPath(r.url));
    return r;
  },
});
process.on('exit', () => writeFileSync(out, [...seen].sort().join('\n') + '\n'));
