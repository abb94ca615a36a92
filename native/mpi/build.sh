#!/bin/sh
# Build the optional MPI addon (native/mpi/build/mpi.node) at install time. MPI is optional: without an MPI
# compiler (Debian: apt-get install libopenmpi-dev openmpi-bin) clip-bench installs and runs single-process.
# Always exits 0 so `npm ci` never fails because of MPI.
cd "$(dirname "$0")" || exit 0
if ! command -v mpicc >/dev/null 2>&1; then
  echo "clip-bench: mpicc not found; MPI data-parallel training disabled (install libopenmpi-dev openmpi-bin to enable)"
  exit 0
fi
inc=""
for d in "${npm_config_nodedir:-}/include/node" /usr/include/node /usr/local/include/node "$(dirname "$(dirname "$(command -v node)")")/include/node"; do
  if [ -f "$d/node_api.h" ]; then inc="$d"; break; fi
done
if [ -z "$inc" ]; then
  echo "clip-bench: Node headers (node_api.h) not found; MPI addon not built"
  exit 0
fi
mkdir -p build
if mpicc -O2 -shared -fPIC -DNODE_GYP_MODULE_NAME=mpi -DNAPI_VERSION=8 -I"$inc" mpi_addon.c -o build/mpi.node -ldl 2>build/error.log; then
  echo "clip-bench: built MPI addon native/mpi/build/mpi.node ($(mpirun --version 2>/dev/null | head -1))"
else
  echo "clip-bench: MPI addon failed to build (see native/mpi/build/error.log); single-process only"
fi
exit 0
