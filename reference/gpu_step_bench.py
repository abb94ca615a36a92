#!/usr/bin/env python3
"""PyTorch peer of bench/gpu.ts: the same training steps and zero-shot forward, on the GPU when there is one (CUDA),
in float32 and with bf16 autocast (mixed precision as open_clip trains), timed the same way (median over --steps
steps after --warmup, torch.cuda.synchronize around each).

Cases (as bench/gpu.ts):
  tiny         tiny CLIP (ViT 32 px patch 8 width 64 x2, text 64 x2, embed 64), batch 64
  clip128      ViT-B/32 + 12x512-text CLIP, batch 128          (forward, symmetric InfoNCE, backward, AdamW)
  clip256      the same, batch 256
  cache1024    the same, global batch 1024 with the gradient cache (features of all micro-batches of 256 without
               gradient, then per micro-batch recomputed with gradient against the cached rest; open_clip accum_freq)
  declip128    DeCLIP: two image views, EDA and MLM text views, SimSiam projector/predictor with BN, MLM head on the
               selected positions, 65 536-entry NN queue, batch 128
  zeroshot256  ViT-B/32 image tower + 1000-class zero-shot head, batch 256, images/s (no gradient)
The architectures follow OpenAI CLIP's model.py (pre-LN blocks, QuickGELU, frozen patch embedding as in the seed).

Usage: python3 reference/gpu_step_bench.py [--cases tiny,clip128,...] [--steps 10] [--warmup 3] [--dtypes fp32,bf16]
       [--device cuda|cpu] [--json]
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 49408


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, width, heads, causal_ctx=0):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), QuickGELU(), nn.Linear(4 * width, width))
        mask = torch.empty(causal_ctx, causal_ctx).fill_(float('-inf')).triu_(1) if causal_ctx else None
        self.register_buffer('mask', mask, persistent=False)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.mask)[0]
        return x + self.mlp(self.ln_2(x))


class Vision(nn.Module):
    def __init__(self, size, patch, width, layers, heads, embed):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.conv1.weight.requires_grad_(False)
        s = width ** -0.5
        self.class_embedding = nn.Parameter(s * torch.randn(width))
        self.positional_embedding = nn.Parameter(s * torch.randn((size // patch) ** 2 + 1, width))
        self.ln_pre, self.ln_post = nn.LayerNorm(width), nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.proj = nn.Parameter(s * torch.randn(width, embed))

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(x.shape[0], 1, -1).to(x.dtype)
        x = self.ln_pre(torch.cat([cls, x], 1) + self.positional_embedding)
        x = self.blocks(x)
        return self.ln_post(x[:, 0]) @ self.proj


class Text(nn.Module):
    def __init__(self, ctx, width, layers, heads, embed):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(ctx, width))
        self.blocks = nn.Sequential(*[Block(width, heads, ctx) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(width ** -0.5 * torch.randn(width, embed))

    def forward(self, ids):
        words = self.ln_final(self.blocks(self.token_embedding(ids) + self.positional_embedding))
        return words[torch.arange(ids.shape[0], device=ids.device), ids.argmax(-1)] @ self.text_projection, words


CONFIGS = {
    'tiny': dict(vision=(32, 8, 64, 2, 2), text=(77, 64, 2, 2), embed=64),
    'vitb32': dict(vision=(224, 32, 768, 12, 12), text=(77, 512, 12, 8), embed=512),
}


class Clip(nn.Module):
    def __init__(self, name):
        super().__init__()
        c = CONFIGS[name]
        self.visual = Vision(*c['vision'], c['embed'])
        self.text = Text(*c['text'], c['embed'])
        self.logit_scale = nn.Parameter(torch.tensor(2.6593))
        self.size = c['vision'][0]
        self.ctx = c['text'][0]


def info_nce(logits):
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def clip_loss(u, v, scale):
    return info_nce(scale.exp().clamp(max=100) * F.normalize(u, dim=-1) @ F.normalize(v, dim=-1).t())


def random_ids(n, ctx, device, gen):
    ids = torch.zeros(n, ctx, dtype=torch.long)
    for b in range(n):
        k = 5 + int(torch.randint(15, (1,), generator=gen))
        ids[b, 0] = VOCAB - 2
        ids[b, 1:k] = torch.randint(1, VOCAB - 3, (k - 1,), generator=gen)
        ids[b, k] = VOCAB - 1
    return ids.to(device)


class Declip(nn.Module):
    """DeCLIP's heads (seed sizes): SimSiam projector 512-2048-2048-2048 with BN, predictor 2048-512-2048, MLM head."""

    def __init__(self, embed=512, width=512, proj=2048, pred=512, queue=65536):
        super().__init__()
        bn = nn.BatchNorm1d
        self.projector = nn.Sequential(nn.Linear(embed, proj), bn(proj), nn.ReLU(), nn.Linear(proj, proj), bn(proj),
                                       nn.ReLU(), nn.Linear(proj, proj), bn(proj))
        self.predictor = nn.Sequential(nn.Linear(proj, pred), bn(pred), nn.ReLU(), nn.Linear(pred, proj))
        self.mlm = nn.Linear(width, VOCAB)
        self.register_buffer('queue', F.normalize(torch.randn(queue, embed), dim=1))
        self.ptr = 0

    def nn_lookup(self, q):
        with torch.no_grad():
            return self.queue[(F.normalize(q.float(), dim=1) @ F.normalize(self.queue, dim=1).t()).argmax(1)]

    def enqueue(self, rows):
        with torch.no_grad():
            n = rows.shape[0]
            idx = (self.ptr + torch.arange(n, device=rows.device)) % self.queue.shape[0]
            self.queue[idx] = rows.float()
            self.ptr = (self.ptr + n) % self.queue.shape[0]


def simsiam(p, z):
    return -(F.normalize(p, dim=1) * F.normalize(z.detach(), dim=1)).sum(1).mean()


def run_case(case, dtype, device, steps, warmup, batch_div=1):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    cfg = 'tiny' if case == 'tiny' else 'vitb32'
    batch = {'tiny': 64, 'clip128': 128, 'clip256': 256, 'cache1024': 1024, 'declip128': 128, 'zeroshot256': 256}[case]
    batch //= batch_div
    micro = 256 // batch_div if case == 'cache1024' else batch
    model = Clip(cfg).to(device)
    heads = Declip().to(device) if case == 'declip128' else None
    views = 2 if heads else 1
    images = [torch.randn(batch, 3, model.size, model.size, generator=gen).to(device) for _ in range(views)]
    ids = random_ids(batch, model.ctx, device, gen)
    eda = random_ids(batch, model.ctx, device, gen) if heads else None
    labels = torch.where(torch.rand(batch, model.ctx, generator=gen).to(device) < 0.15, ids, torch.full_like(ids, -100))
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=dtype == 'bf16')
    params = [p for p in model.parameters() if p.requires_grad] + (list(heads.parameters()) if heads else [])
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.1)

    if case == 'zeroshot256':
        classes = F.normalize(torch.randn(1000, 512, device=device), dim=1)

        def step():
            with torch.no_grad(), autocast:
                return (F.normalize(model.visual(images[0]), dim=1) @ classes.t().to(images[0].dtype)).argmax(1)
    elif heads:
        def step():
            opt.zero_grad(set_to_none=True)
            with autocast:
                u1, u2 = model.visual(images[0]), model.visual(images[1])
                vm, words = model.text(ids)
                ve, _ = model.text(eda)
                s = model.logit_scale
                mv = (clip_loss(u1, vm, s) + clip_loss(u2, vm, s) + clip_loss(u1, ve, s) + clip_loss(u2, ve, s)) / 4
                z1, z2 = heads.projector(u1), heads.projector(u2)
                ss = (simsiam(heads.predictor(z1), z2) + simsiam(heads.predictor(z2), z1)) / 2
                sel = labels != -100
                mlm = F.cross_entropy(heads.mlm(words[sel]), labels[sel])
                nm, ne = heads.nn_lookup(vm), heads.nn_lookup(ve)
                un1, un2 = F.normalize(u1, dim=1), F.normalize(u2, dim=1)
                sc = s.exp().clamp(max=100)
                nn_ = sum(info_nce(sc * a @ F.normalize(b.to(a.dtype), dim=1).t()) for a in (un1, un2) for b in (nm, ne)) / 4
                loss = 0.4 * mv + 0.2 * ss + 0.2 * mlm + 0.2 * nn_
            loss.backward()
            opt.step()
            heads.enqueue(F.normalize(ve.detach(), dim=1))
            heads.enqueue(F.normalize(vm.detach(), dim=1))
            return loss
    elif micro < batch:
        def step():
            opt.zero_grad(set_to_none=True)
            chunks = batch // micro
            with torch.no_grad(), autocast:
                u = torch.cat([model.visual(images[0][j * micro:(j + 1) * micro]) for j in range(chunks)])
                v = torch.cat([model.text(ids[j * micro:(j + 1) * micro])[0] for j in range(chunks)])
            for j in range(chunks):
                with autocast:
                    uj = model.visual(images[0][j * micro:(j + 1) * micro])
                    vj = model.text(ids[j * micro:(j + 1) * micro])[0]
                    uu = torch.cat([u[:j * micro], uj, u[(j + 1) * micro:]])
                    vv = torch.cat([v[:j * micro], vj, v[(j + 1) * micro:]])
                    loss = clip_loss(uu, vv, model.logit_scale)
                loss.backward()
            opt.step()
            return loss
    else:
        def step():
            opt.zero_grad(set_to_none=True)
            with autocast:
                loss = clip_loss(model.visual(images[0]), model.text(ids)[0], model.logit_scale)
            loss.backward()
            opt.step()
            return loss

    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    times = []
    for s in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        if s >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    return {'case': case, 'dtype': dtype, 'batch': batch, 'ms': ms, 'min_ms': min(times), 'per_s': batch * 1000 / ms}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cases', default='tiny,clip128,clip256,cache1024,declip128,zeroshot256')
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--dtypes', default='fp32,bf16')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--batch-div', type=int, default=1, help='divide every batch (smoke tests on a CPU)')
    a = ap.parse_args()
    device = torch.device(a.device)
    if device.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 (as WebGPU's f32)
        torch.backends.cudnn.allow_tf32 = False
    rows = []
    for case in a.cases.split(','):
        for dtype in a.dtypes.split(','):
            try:
                rows.append(run_case(case, dtype, device, a.steps, a.warmup, a.batch_div))
            except Exception as e:  # e.g. out of memory: report and go on
                print(f'{case} {dtype}: failed: {str(e).splitlines()[0]}', file=sys.stderr)
            if device.type == 'cuda':
                torch.cuda.empty_cache()
            if not a.json:
                print(rows[-1] if rows else '', file=sys.stderr)
    out = {'torch': torch.__version__, 'device': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu',
           'rows': rows}
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        out['memory'] = f'{props.total_memory / 2**30:.0f} GiB, peak allocated {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB'
    print(json.dumps(out) if a.json else json.dumps(out, indent=1))


if __name__ == '__main__':
    sys.exit(main())
