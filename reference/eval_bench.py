#!/usr/bin/python3
"""PyTorch reference for bench/eval.ts: images/s of CLIP evaluation on this machine, same weights, same images.

bench/eval.ts writes the model (safetensors, OpenAI names, the exact config in the `clip_bench.config` metadata) and
the image list, runs its own measurements, then this script. Per run, after one untimed
warm-up forward, two timed passes over the same images:
  data     decode (PIL) + eval transform only, batches collated, no model
  full     the whole evaluation: data loading feeding the model (DataLoader, `--workers` processes or in-process),
           split into classifier build (zero-shot), time waiting for the next batch, and model (+ scoring) time
The eval transform equals clip-bench's (src/eval/eval-image.ts): an image already at size x size is only normalised;
otherwise Resize(round(size*256/224), bilinear, PIL) + CenterCrop(size); then ToTensor + Normalize (OpenAI stats).

  --mode zero-shot     zero-shot classification on a class-folder set (--root): prompt-ensemble classifier built at
                       the start of the full pass (timed), cosine scores, argmax; predictions are
                       written to --predictions-out so the bench can count agreement with clip-bench's.
  --mode image-tower   L2-normalised image embeddings of the files listed in --files (one path a line).
  --mode data          the data pass alone (no model, no weights) over --files at --size: the eval view's throughput.

Usage: /usr/bin/python3 reference/eval_bench.py --weights W.safetensors --mode zero-shot --root DIR --prompts P.json
         --dataset cifar10 --vocab fixtures/demo/vocab.txt.gz [--batch-size 256] [--workers 2] [--threads 2] [--json]
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_reference import CLIP, VisionTransformer  # noqa: E402
from clip_tokenizer_reference import SimpleTokenizer  # noqa: E402

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
ST_DTYPES = {'F32': np.float32, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32}


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {}) or {}
    base = 8 + n
    tensors = {}
    for name, h in header.items():
        a, b = h['data_offsets']
        arr = np.frombuffer(raw, dtype=np.dtype(ST_DTYPES[h['dtype']]).newbyteorder('<'), count=(b - a) // np.dtype(ST_DTYPES[h['dtype']]).itemsize, offset=base + a)
        tensors[name] = torch.from_numpy(arr.reshape(h['shape']).astype(ST_DTYPES[h['dtype']]))
    return tensors, meta


def build_model(weights):
    state, meta = read_safetensors(weights)
    cfg = json.loads(meta['clip_bench.config'])
    v, t = cfg['vision'], cfg['text']
    if v['type'] != 'vit':
        raise SystemExit('eval_bench.py: only ViT image towers are benchmarked')
    model = CLIP(embed_dim=cfg['embedDim'], image_resolution=v['imageSize'], vision_layers=v['layers'], vision_width=v['width'],
                 vision_patch_size=v['patchSize'], context_length=t['contextLength'], vocab_size=t['vocabSize'],
                 transformer_width=t['width'], transformer_heads=t['heads'], transformer_layers=t['layers'])
    # OpenAI's CLIP class derives the vision heads as width // 64; the config states them (tiny-vit: 2 heads of 32).
    model.visual = VisionTransformer(v['imageSize'], v['patchSize'], v['width'], v['layers'], v['heads'], cfg['embedDim'])
    model.load_state_dict(state, strict=True)
    return model.eval(), cfg


class EvalImages(Dataset):
    """(path, label) pairs -> normalised CHW tensors with clip-bench's eval transform."""

    def __init__(self, items, size):
        self.items, self.size = items, size
        norm = [transforms.ToTensor(), transforms.Normalize(OPENAI_MEAN, OPENAI_STD)]
        self.native = transforms.Compose(norm)
        self.resized = transforms.Compose([transforms.Resize(round(size * 256 / 224), interpolation=transforms.InterpolationMode.BILINEAR),
                                           transforms.CenterCrop(size)] + norm)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        img = Image.open(path).convert('RGB')
        t = self.native if img.size == (self.size, self.size) else self.resized
        return t(img), label


def class_folder(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    items = []
    for label, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(root, c))):
            if f.lower().endswith(('.jpg', '.jpeg', '.png', '.webp')):
                items.append((os.path.join(root, c, f), label))
    return classes, items


def tokenize(tok, texts, context):
    out = torch.zeros(len(texts), context, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = tok.framed(text, context)
        out[i, :len(ids)] = torch.tensor(ids)
    return out


def zero_shot_classifier(model, tok, classes, templates, context):
    cols = []
    for c in classes:
        e = F.normalize(model.encode_text(tokenize(tok, [t.replace('{}', c) for t in templates], context))[0], dim=-1).mean(0)
        cols.append(F.normalize(e, dim=-1))
    return torch.stack(cols, 1)  # [D, C]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights')
    ap.add_argument('--mode', choices=['zero-shot', 'image-tower', 'data'], required=True)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--root')
    ap.add_argument('--files')
    ap.add_argument('--prompts')
    ap.add_argument('--dataset', default='cifar10')
    ap.add_argument('--vocab')
    ap.add_argument('--batch-size', type=int, default=256)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--predictions-out')
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if args.mode == 'data':
        items = [(line.strip(), 0) for line in open(args.files) if line.strip()]
        loader = DataLoader(EvalImages(items, args.size), batch_size=args.batch_size, shuffle=False, num_workers=args.workers)
        t0 = time.perf_counter()
        n = 0
        for x, _ in loader:
            n += x.shape[0]
        data_s = time.perf_counter() - t0
        print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'workers': args.workers,
                          'images': n, 'batch_size': args.batch_size, 'data_s': data_s, 'images_per_s': n / data_s}))
        return
    t_load = time.perf_counter()
    model, cfg = build_model(args.weights)
    load_s = time.perf_counter() - t_load
    size = cfg['vision']['imageSize']
    if args.mode == 'zero-shot':
        classes, items = class_folder(args.root)
        prompts = json.load(open(args.prompts))[args.dataset]
        if len(prompts['classes']) != len(classes):
            raise SystemExit(f'eval_bench.py: {len(classes)} class folders but {len(prompts["classes"])} prompt classes')
        tok = SimpleTokenizer(args.vocab)
    else:
        items = [(line.strip(), 0) for line in open(args.files) if line.strip()]
    n = len(items)
    loader = DataLoader(EvalImages(items, size), batch_size=args.batch_size, shuffle=False, num_workers=args.workers)

    with torch.no_grad():
        # warm-up: one image-tower forward on a batch of zeros (allocator, OpenMP/OpenBLAS threads), untimed
        model.visual(torch.zeros(min(args.batch_size, n), 3, size, size))

        t0 = time.perf_counter()
        for _ in loader:
            pass
        data_s = time.perf_counter() - t0

        result = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'workers': args.workers, 'images': n,
                  'batch_size': args.batch_size, 'load_s': load_s, 'data_s': data_s}
        # the full pass, split into classifier build, waiting for the loader, and model (+ scoring) time; CPU time of
        # this process and of its DataLoader workers (reaped when the pass ends)
        cpu0 = os.times()
        t0 = time.perf_counter()
        if args.mode == 'zero-shot':
            classifier = zero_shot_classifier(model, tok, prompts['classes'], prompts['templates'], cfg['text']['contextLength'])
            result['classifier_s'] = time.perf_counter() - t0
        wait_s = model_s = 0.0
        preds, labels, dim = [], [], 0
        batches = iter(loader)
        while True:
            tw = time.perf_counter()
            try:
                x, y = next(batches)
            except StopIteration:
                wait_s += time.perf_counter() - tw
                break
            tm = time.perf_counter()
            wait_s += tm - tw
            e = F.normalize(model.visual(x)[0], dim=-1)
            if args.mode == 'zero-shot':
                preds.append((e @ classifier).argmax(1))
                labels.append(y)
            dim = e.shape[1]
            model_s += time.perf_counter() - tm
        result.update(full_s=time.perf_counter() - t0, wait_s=wait_s, model_s=model_s, dim=dim)
        del batches  # shuts the workers down so their CPU time is counted
        cpu1 = os.times()
        result['cpu_s'] = sum(cpu1[i] - cpu0[i] for i in range(4))
        if args.mode == 'zero-shot':
            p, l = torch.cat(preds), torch.cat(labels)
            result['acc1'] = (p == l).float().mean().item()
            if args.predictions_out:
                with open(args.predictions_out, 'w') as f:
                    json.dump(p.tolist(), f)
    result['images_per_s'] = n / result['full_s']
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f'{k:>14}: {v}')


if __name__ == '__main__':
    main()
