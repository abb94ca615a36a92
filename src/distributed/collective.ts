// The collective layer for data-parallel training: rank/size from the launcher (mpirun, srun) and the
// operations DDP-style training needs (all-reduce, all-gather, broadcast, barrier), over MPI through the
// thin N-API addon in native/mpi (built at install time when an MPI compiler exists). A process started
// without a launcher gets the single-process collective, whose operations are identities.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

export type Reducible = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface Collective {
  readonly rank: number;
  readonly size: number;
  /** 'mpi' when running under an MPI launcher, 'single' otherwise. */
  readonly kind: 'mpi' | 'single';
  /** In-place element-wise sum over ranks; returns the same array. */
  allreduceSum<T extends Reducible>(data: T): T;
  /** In-place element-wise mean over ranks (Float32Array/Float64Array). */
  allreduceMean<T extends Float32Array | Float64Array>(data: T): T;
  allreduceMax<T extends Reducible>(data: T): T;
  /** Concatenation of every rank's equally sized array, in rank order. */
  allgather<T extends Reducible>(local: T): T;
  /** In place: every rank receives root's data. */
  broadcast<T extends Reducible>(data: T, root?: number): T;
  barrier(): void;
  /** Stop every rank of the job (a fatal error on one rank must not leave the others waiting). */
  abort(code?: number): never;
  finalize(): void;
}

interface MpiAddon {
  init(): { rank: number; size: number };
  finalize(): void;
  allreduce(data: Reducible, op: number): Reducible;
  allgather(local: Reducible, out: Reducible): Reducible;
  broadcast(data: Reducible, root: number): Reducible;
  barrier(): void;
  abort(code: number): void;
  version(): string;
}

const addonPath = new URL('../../native/mpi/build/mpi.node', import.meta.url).pathname;

/** True when this process was started by an MPI launcher (even with -np 1). */
export function underMpiLauncher(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OMPI_COMM_WORLD_RANK !== undefined || env.PMI_RANK !== undefined || env.PMIX_RANK !== undefined;
}

export function mpiAddonAvailable(): boolean {
  return existsSync(addonPath);
}

function loadAddon(): MpiAddon {
  if (!existsSync(addonPath)) {
    throw new Error(
      `MPI launcher detected but the MPI addon is not built (${addonPath}); install libopenmpi-dev ` +
        `openmpi-bin and run \`npm rebuild\` or \`sh native/mpi/build.sh\``,
    );
  }
  return createRequire(import.meta.url)(addonPath) as MpiAddon;
}

class SingleProcess implements Collective {
  readonly rank = 0;
  readonly size = 1;
  readonly kind = 'single' as const;
  allreduceSum<T extends Reducible>(data: T): T {
    return data;
  }
  allreduceMean<T extends Float32Array | Float64Array>(data: T): T {
    return data;
  }
  allreduceMax<T extends Reducible>(data: T): T {
    return data;
  }
  allgather<T extends Reducible>(local: T): T {
    return local.slice() as T;
  }
  broadcast<T extends Reducible>(data: T): T {
    return data;
  }
  barrier(): void {}
  abort(code = 1): never {
    process.exit(code);
  }
  finalize(): void {}
}

class MpiCollective implements Collective {
  readonly rank: number;
  readonly size: number;
  readonly kind = 'mpi' as const;
  private readonly addon: MpiAddon;
  constructor(addon: MpiAddon) {
    this.addon = addon;
    const { rank, size } = addon.init();
    this.rank = rank;
    this.size = size;
  }
  allreduceSum<T extends Reducible>(data: T): T {
    return this.addon.allreduce(data, 0) as T;
  }
  allreduceMax<T extends Reducible>(data: T): T {
    return this.addon.allreduce(data, 1) as T;
  }
  allreduceMean<T extends Float32Array | Float64Array>(data: T): T {
    this.addon.allreduce(data, 0);
    for (let i = 0; i < data.length; i++) data[i] /= this.size;
    return data;
  }
  allgather<T extends Reducible>(local: T): T {
    const Ctor = local.constructor as new (n: number) => T;
    return this.addon.allgather(local, new Ctor(local.length * this.size)) as T;
  }
  broadcast<T extends Reducible>(data: T, root = 0): T {
    return this.addon.broadcast(data, root) as T;
  }
  barrier(): void {
    this.addon.barrier();
  }
  abort(code = 1): never {
    this.addon.abort(code);
    process.exit(code);
  }
  finalize(): void {
    this.addon.finalize();
  }
}

let world: Collective | undefined;

/** The process-wide collective: MPI under a launcher, single-process otherwise. */
export function getCollective(): Collective {
  if (world) return world;
  world = underMpiLauncher() ? new MpiCollective(loadAddon()) : new SingleProcess();
  return world;
}
