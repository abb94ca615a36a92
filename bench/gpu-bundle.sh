#!/usr/bin/env bash
# Pack what the GPU benchmark needs on a bare Linux x86-64 GPU machine with no Node and no package registry:
#   bin/node          the Node 24 binary of node_modules/node (the project runs .ts files directly)
#   lib/libvulkan.so.1  this machine's Vulkan loader, used only where the target has none
#   node_modules/...  exactly the files bench/gpu.ts loads (found by running it once under bench/trace-modules.ts),
#                     with Dawn's linux-x64 dawn.node only, plus the wasm binaries (the fallback backend)
#   src/ bench/ reference/gpu_step_bench.py package.json
# compressed with xz into one file that must stay under 64 MiB. Run it there with bench/gpu-run.sh.
# Usage: bench/gpu-bundle.sh [OUT]   (default dist/clip-bench-gpu.tar.xz)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/clip-bench-gpu.tar.xz}
node=node_modules/.bin/node
[ -x "$node" ] || { echo "gpu-bundle: $node missing (npm ci first)"; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/clip-bench
mkdir -p "$root/bin" "$root/lib" "$root/bench" "$root/reference"

# 1. the modules the bench loads (tiny case on whatever backend this machine has; no PyTorch)
echo "gpu-bundle: tracing the modules bench/gpu.ts loads…"
CLIP_BENCH_TRACE_OUT=$stage/trace.txt "$node" --import ./bench/trace-modules.ts bench/gpu.ts \
  --backend "${GPU_BUNDLE_TRACE_BACKEND:-auto}" --quick --no-torch --steps 1 --warmup 0 >"$stage/trace.log" 2>&1 \
  || { echo "gpu-bundle: the traced run failed:"; tail -20 "$stage/trace.log"; exit 1; }
modules=$(cd node_modules && pwd -P)
{
  grep "^$modules/" "$stage/trace.txt" | sed "s|^$modules/||"
  # loaded only once a WebGPU device exists, or read with fs rather than imported
  (cd "$modules" && ls @tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js webgpu/index.js \
    webgpu/dist/linux-x64/dawn.node @tensorflow/tfjs-backend-wasm/dist/*.wasm)
} | sort -u >"$stage/files.txt"
# every package.json on the way (module type and entry points)
while read -r f; do
  d=$(dirname "$f")
  while [ "$d" != . ]; do
    if [ -f "$modules/$d/package.json" ]; then echo "$d/package.json"; fi
    d=$(dirname "$d")
  done
done <"$stage/files.txt" | sort -u >>"$stage/files.txt"
sort -u -o "$stage/files.txt" "$stage/files.txt"
(cd "$modules" && tar -cf - -T "$stage/files.txt") | (mkdir -p "$root/node_modules" && cd "$root/node_modules" && tar -xf -)

# 2. Node, the Vulkan loader, the project's files
cp "$(readlink -f "$node")" "$root/bin/node"
libs=$(ldconfig -p 2>/dev/null || true)
loader=$(awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}' <<<"$libs")
if [ -n "$loader" ]; then cp "$(readlink -f "$loader")" "$root/lib/libvulkan.so.1"; else echo "gpu-bundle: no libvulkan.so.1 here to carry"; fi
cp -r src "$root/"
cp package.json "$root/"
cp bench/gpu.ts bench/gpu-run.sh "$root/bench/"
cp reference/gpu_step_bench.py "$root/reference/"
git rev-parse HEAD >"$root/COMMIT" 2>/dev/null || true

mkdir -p "$(dirname "$out")"
tar -C "$stage" -cf - clip-bench | xz -9 -T0 >"$out"
bytes=$(stat -c %s "$out")
echo "gpu-bundle: $out $((bytes / 1048576)) MiB ($bytes bytes; $(wc -l <"$stage/files.txt") node_modules files, $(du -sh "$root" | cut -f1) unpacked)"
if [ "$bytes" -gt $((64 * 1048576)) ]; then echo "gpu-bundle: larger than 64 MiB"; exit 1; fi
