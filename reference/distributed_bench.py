#!/usr/bin/python3
"""PyTorch reference for bench/distributed.ts: the same collectives with torch.distributed (gloo backend, 2 processes on
loopback, as DDP on CPU uses), timed on this machine: all-reduce (sum) of 1/16/64 MiB float32 and an all-gather of
128 x 1024 float32 per rank (one ViT-B/32 CLIP rank's image + text features at the seed's local batch).
Median and best of 10 timed repetitions after one warm-up, with a barrier before each.

Usage: /usr/bin/python3 reference/distributed_bench.py [--json]
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def timed(fn, reps):
    out = []
    for i in range(reps + 1):
        dist.barrier()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return {"median": statistics.median(out[1:]), "best": min(out[1:])}


def worker(rank, size, port, queue):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    results = {}
    for mib in (1, 16, 64):
        t = torch.full(((mib * 1024 * 1024) // 4,), float(rank + 1))
        results[f"allreduce {mib} MiB"] = timed(lambda: dist.all_reduce(t), 10)
    feats = torch.ones(128 * 1024)
    outs = [torch.empty_like(feats) for _ in range(size)]
    results["allgather 128x1024 f32 per rank"] = timed(lambda: dist.all_gather(outs, feats), 10)
    if rank == 0:
        queue.put(results)
    dist.barrier()
    dist.destroy_process_group()


def main():
    size = 2
    port = 29500 + os.getpid() % 1000
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, size, port, queue)) for r in range(size)]
    for p in procs:
        p.start()
    results = queue.get(timeout=600)
    for p in procs:
        p.join()
    if "--json" in sys.argv:
        print(json.dumps(results))
    else:
        for k, v in results.items():
            print(f"{k:36s} median {v['median']:9.2f} ms  best {v['best']:9.2f} ms")


if __name__ == "__main__":
    main()
