#!/usr/bin/env bash
# One command on a GPU machine (Linux x86-64, an NVIDIA driver, no Node, no registry): unpack the bundle made by
# bench/gpu-bundle.sh, make Vulkan find the driver, run bench/gpu.ts (WebGPU through Dawn) and its PyTorch peer
# (reference/gpu_step_bench.py, fp32 and bf16 autocast, with the first python3 that imports torch) and print one table.
# Usage: bash gpu-run.sh clip-bench-gpu.tar.xz [bench/gpu.ts arguments, e.g. --cases tiny,clip128 --steps 5]
# Results: the table on stdout and $CLIP_BENCH_GPU_DIR/results.json (default /tmp/clip-bench-gpu).
set -euo pipefail
bundle=${1:?usage: gpu-run.sh BUNDLE.tar.xz [bench/gpu.ts arguments]}
shift
dir=${CLIP_BENCH_GPU_DIR:-/tmp/clip-bench-gpu}
rm -rf "$dir"
mkdir -p "$dir"
tar -xJf "$bundle" -C "$dir"
root=$dir/clip-bench

libs=$(ldconfig -p 2>/dev/null || true)
# The Vulkan loader: the system's, else the bundled one (Debian bookworm's libvulkan1).
if ! grep -q 'libvulkan\.so\.1 ' <<<"$libs"; then
  export LD_LIBRARY_PATH=$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "gpu-run: no system libvulkan.so.1; using the bundled loader"
fi
# NVIDIA's Vulkan driver is libGLX_nvidia.so.0; containers made for CUDA alone often lack its ICD manifest.
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] \
  && ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  if grep -q 'libGLX_nvidia\.so\.0' <<<"$libs"; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3"}}\n' \
      >"$dir/nvidia_icd.json"
    export VK_ICD_FILENAMES=$dir/nvidia_icd.json VK_DRIVER_FILES=$dir/nvidia_icd.json
    echo "gpu-run: wrote an ICD manifest for libGLX_nvidia.so.0"
  else
    echo "gpu-run: no NVIDIA Vulkan driver found (libGLX_nvidia.so.0); WebGPU will report no adapter"
  fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# PyTorch for the peer
for py in ${PYTHON:-} python3 /usr/bin/python3 python; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' 2>/dev/null; then export PYTHON=$py; break; fi
done
[ -n "${PYTHON:-}" ] && echo "gpu-run: PyTorch peer with $PYTHON ($("$PYTHON" -c 'import torch; print(torch.__version__, torch.cuda.is_available())'))" \
  || echo "gpu-run: no python with torch; the PyTorch columns stay empty"

cd "$root"
echo "gpu-run: clip-bench $(cat COMMIT 2>/dev/null || echo '?'), node $(./bin/node --version)"
exec ./bin/node bench/gpu.ts --steps 6 --warmup 2 --json "$dir/results.json" "$@"
