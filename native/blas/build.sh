#!/bin/sh
# Build the optional BLAS addon (native/blas/build/blas.node) at install time: the wasm backend's matrix products then
# run through a native sgemm (OpenBLAS on Linux, Accelerate on macOS) instead of XNNPACK. Optional: without a C
# compiler, Node headers or a BLAS, clip-bench installs and runs the wasm kernels unchanged.
# Always exits 0 so `npm ci` never fails because of it. CLIP_BENCH_BLAS=off at run time disables a built addon.
cd "$(dirname "$0")" || exit 0
mkdir -p build 2>/dev/null || exit 0
rm -f build/blas.node
note() { echo "clip-bench: $*"; }

cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  if command -v gcc >/dev/null 2>&1; then cc=gcc; elif command -v clang >/dev/null 2>&1; then cc=clang; else
    note "no C compiler found; native BLAS matrix products disabled (wasm/XNNPACK products are used)"
    exit 0
  fi
fi

inc=""
for d in "${npm_config_nodedir:-}/include/node" /usr/include/node /usr/local/include/node \
  "$(dirname "$(dirname "$(command -v node)")")/include/node"; do
  if [ -f "$d/node_api.h" ]; then inc="$d"; break; fi
done
if [ -z "$inc" ]; then
  note "Node headers (node_api.h) not found; native BLAS matrix products disabled"
  exit 0
fi

flags="-O3 -fno-trapping-math -fno-math-errno -ffp-contract=off -shared -fPIC -std=c11 -D_GNU_SOURCE -DNODE_GYP_MODULE_NAME=blas -DNAPI_VERSION=8 -I$inc"
case "$(uname -s)" in
  Darwin)
    blas="-framework Accelerate"
    flags="$flags -undefined dynamic_lookup"
    what="Accelerate"
    ;;
  *)
    # OpenBLAS: pkg-config when it knows it, else the usual names (Debian's cblas.h is on the default include path)
    blas=""
    if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas 2>/dev/null; then
      flags="$flags $(pkg-config --cflags openblas)"
      blas="$(pkg-config --libs openblas)"
    else
      for d in /usr/include/openblas /usr/local/include/openblas /opt/OpenBLAS/include; do
        if [ -f "$d/cblas.h" ]; then flags="$flags -I$d"; break; fi
      done
      for d in /opt/OpenBLAS/lib; do
        if [ -d "$d" ]; then blas="-L$d -Wl,-rpath,$d"; fi
      done
      blas="$blas -lopenblas"
    fi
    what="OpenBLAS"
    ;;
esac

# shellcheck disable=SC2086
if $cc $flags blas_addon.c -o build/blas.node $blas -lpthread -lm 2>build/error.log; then
  note "built BLAS addon native/blas/build/blas.node ($what): matrix products run through native sgemm"
else
  rm -f build/blas.node
  note "BLAS addon not built ($what not found or compile error, see native/blas/build/error.log); wasm/XNNPACK products are used (Debian: apt-get install libopenblas-dev)"
fi
exit 0
