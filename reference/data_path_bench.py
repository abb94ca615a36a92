#!/usr/bin/python3
"""Python reference for bench/data-path.ts: webdataset tar shards -> PIL decode -> torchvision views -> batches,
with a torch DataLoader (2 workers by default) as the DeCLIP code base does it.

  --views mocov2  two independent MoCo-v2 views per sample (RandomResizedCrop(size, scale 0.2-1), RandomApply(
                  ColorJitter(0.4,0.4,0.4,0.1), 0.8), RandomGrayscale(0.2), RandomApply(GaussianBlur(sigma 0.1-2), 0.5),
                  RandomHorizontalFlip, ToTensor, Normalize(ImageNet))
  --views eval    Resize(round(size*256/224)) -> CenterCrop(size) -> ToTensor -> Normalize (one view)
Shards are read with python's tarfile, split across DataLoader workers by shard. Prints one JSON line:
{samples, seconds, samples_per_s, cpu_seconds, cores}.
Usage: /usr/bin/python3 reference/data_path_bench.py --views mocov2 --size 224 --workers 2 --batch 32 SHARD...
"""
import argparse, io, json, random, resource, tarfile, time
import torch
from PIL import Image, ImageFilter
import torchvision.transforms as T

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

class GaussianBlur:  # MoCo v2's blur: PIL radius = sigma ~ U[sigma]
    def __init__(self, sigma=(0.1, 2.0)): self.sigma = sigma
    def __call__(self, x): return x.filter(ImageFilter.GaussianBlur(radius=random.uniform(self.sigma[0], self.sigma[1])))

def mocov2(size):
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([GaussianBlur([0.1, 2.0])], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(), T.Normalize(MEAN, STD)])

def eval_view(size):
    return T.Compose([T.Resize(round(size * 256 / 224)), T.CenterCrop(size), T.ToTensor(), T.Normalize(MEAN, STD)])

IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')

class TarImages(torch.utils.data.IterableDataset):
    def __init__(self, shards, transforms):
        self.shards, self.transforms = shards, transforms
    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        shards = self.shards if info is None else self.shards[info.id::info.num_workers]
        for path in shards:
            with tarfile.open(path, 'r') as tar:
                for m in tar:
                    if not m.isfile(): continue
                    ext = m.name.rsplit('.', 1)[-1].lower()
                    if ext not in IMAGE_EXTS: continue
                    img = Image.open(io.BytesIO(tar.extractfile(m).read())).convert('RGB')
                    views = [t(img) for t in self.transforms]
                    yield views[0] if len(views) == 1 else torch.cat(views, 0)  # DeCLIP's TwoCrops: channel concat

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--views', choices=['mocov2', 'eval'], default='mocov2')
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('shards', nargs='+')
    a = ap.parse_args()
    transforms = [mocov2(a.size), mocov2(a.size)] if a.views == 'mocov2' else [eval_view(a.size)]
    loader = torch.utils.data.DataLoader(TarImages(a.shards, transforms), batch_size=a.batch, num_workers=a.workers)
    cpu_time = lambda: sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))
    cpu0 = cpu_time()
    t0 = time.perf_counter()
    n = 0
    it = iter(loader)
    for batch in it:
        n += batch.shape[0]
    del it  # join the workers so their CPU time is in RUSAGE_CHILDREN
    seconds = time.perf_counter() - t0
    cpu = cpu_time() - cpu0
    print(json.dumps({'samples': n, 'seconds': seconds, 'samples_per_s': n / seconds, 'cpu_seconds': cpu, 'cores': cpu / seconds}))

if __name__ == '__main__':
    main()
