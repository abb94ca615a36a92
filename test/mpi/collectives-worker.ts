// Launched by test/distributed/collective.test.ts under `mpirun -np 2`: exercises every collective and prints one JSON
// line per rank.
import { getCollective } from '../../src/distributed/collective.ts';

const world = getCollective();
const { rank, size } = world;
const sum = world.allreduceSum(new Float32Array([rank + 1, 10 * (rank + 1), 0.5]));
const mean = world.allreduceMean(new Float64Array([rank, 2 * rank]));
const max = world.allreduceMax(new Int32Array([rank * 7, -rank]));
const gathered = world.allgather(new Float32Array([rank, rank + 0.25, rank + 0.5]));
const bcast = world.broadcast(rank === 0 ? new Uint8Array([3, 1, 4, 1, 5]) : new Uint8Array(5), 0);
world.barrier();
console.log(
  JSON.stringify({
    rank,
    size,
    kind: world.kind,
    sum: [...sum],
    mean: [...mean],
    max: [...max],
    gathered: [...gathered],
    bcast: [...bcast],
  }),
);
if (process.argv[2] === 'die' && rank === 1) {
  console.error('rank 1: simulated fatal error');
  process.exit(3);
}
if (process.argv[2] === 'die') world.barrier(); // rank 0 would wait forever here without the launcher's fault handling
world.finalize();
