#!/usr/bin/python3
"""Python reference for bench/read-shards.ts: iterate webdataset shards the way webdataset 1.0.2 does
(tarfile.open(mode="r|*") streaming, regular files only, base_plus_ext key split, group_by_keys, lowercased
extensions, member bytes read into memory) without decoding. The webdataset package itself is not installable
here (no PyPI), so this is its tariterators logic inlined. Prints one JSON line:
{samples, bytes, seconds, samples_per_s, mb_per_s}.
Usage: /usr/bin/python3 reference/read_shards_bench.py [--repeats N] SHARD...
"""
import argparse, json, os, re, tarfile, time

def base_plus_ext(path):
    match = re.match(r"^((?:.*/|)[^.]+)[.]([^/]*)$", path)
    if not match:
        return None, None
    return match.group(1), match.group(2)

def tar_file_iterator(fileobj, skip_meta=r"__[^/]*__($|/)"):
    stream = tarfile.open(fileobj=fileobj, mode="r|*")
    for tarinfo in stream:
        fname = tarinfo.name
        if not tarinfo.isreg():
            continue
        if "/" not in fname and fname.startswith("__") and fname.endswith("__"):
            continue
        if skip_meta is not None and re.match(skip_meta, fname):
            continue
        data = stream.extractfile(tarinfo).read()
        yield dict(fname=fname, data=data)
    del stream

def group_by_keys(data, url):
    current = None
    for filesample in data:
        prefix, suffix = base_plus_ext(filesample["fname"])
        if prefix is None:
            continue
        suffix = suffix.lower()
        if current is None or prefix != current["__key__"] or suffix in current:
            if current is not None:
                yield current
            current = dict(__key__=prefix, __url__=url)
        current[suffix] = filesample["data"]
    if current is not None:
        yield current

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("shards", nargs="+")
    args = ap.parse_args()
    best = None
    for _ in range(args.repeats):
        start = time.perf_counter()
        samples = 0
        for url in args.shards:
            with open(url, "rb") as f:
                for _sample in group_by_keys(tar_file_iterator(f), url):
                    samples += 1
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    total = sum(os.path.getsize(u) for u in args.shards)
    print(json.dumps({"samples": samples, "bytes": total, "seconds": best,
                      "samples_per_s": samples / best, "mb_per_s": total / best / 1e6}))

if __name__ == "__main__":
    main()
