#!/usr/bin/python3
"""PyTorch side of bench/supervision.ts: one training step (forward + backward, no optimiser update) of a supervision
on the tiny CLIP preset (tiny-vit 32 px: width 64, 2 layers, patch 8; tiny-text: width 64, 2 layers, context 77;
embed 64; vocabulary 49409), float32, timed on this machine. One method per process so the peak RSS is per method.

The towers are OpenAI-CLIP style (reference/step_bench.py's Transformer blocks); the losses and heads are the ones of
reference/supervision_reference.py (written from the seed's code), FILIP's selection vectorised like the seed's filip.py.

Usage: /usr/bin/python3 reference/supervision_bench.py --method declip [--batch 64] [--reps 5] [--heads tiny|seed]
       [--threads 2] [--json]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_bench import Transformer  # noqa: E402
import supervision_reference as R  # noqa: E402

torch.set_default_dtype(torch.float32)  # supervision_reference switches to float64 for parity fixtures

VOCAB, CONTEXT, EMBED, WIDTH, IMAGE, PATCH = 49409, 77, 64, 64, 32, 8
HEADS = {
    'tiny': {'proj': 128, 'pred': 64, 'mlp': 512, 'mlp_out': 32, 'dense': 32},
    'seed': {'proj': 1024, 'pred': 512, 'mlp': 4096, 'mlp_out': 256, 'dense': 256},
}


class Vision(nn.Module):
    def __init__(self):
        super().__init__()
        grid = IMAGE // PATCH
        self.conv1 = nn.Conv2d(3, WIDTH, PATCH, PATCH, bias=False)
        self.conv1.weight.requires_grad_(False)
        self.class_embedding = nn.Parameter(WIDTH ** -0.5 * torch.randn(WIDTH))
        self.positional_embedding = nn.Parameter(WIDTH ** -0.5 * torch.randn(grid * grid + 1, WIDTH))
        self.ln_pre, self.ln_post = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        self.transformer = Transformer(WIDTH, 2, 2)
        self.proj = nn.Parameter(WIDTH ** -0.5 * torch.randn(WIDTH, EMBED))

    def forward(self, x):
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        x = torch.cat([self.class_embedding + torch.zeros(x.shape[0], 1, WIDTH), x], 1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x).permute(1, 0, 2)).permute(1, 0, 2)
        feature = self.ln_post(x[:, 0])
        return feature @ self.proj, feature, x[:, 1:]


class Text(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, WIDTH)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(CONTEXT, WIDTH))
        self.transformer = Transformer(WIDTH, 2, 2, torch.empty(CONTEXT, CONTEXT).fill_(float('-inf')).triu_(1))
        self.ln_final = nn.LayerNorm(WIDTH)
        self.text_projection = nn.Parameter(WIDTH ** -0.5 * torch.randn(WIDTH, EMBED))

    def forward(self, ids):
        x = self.transformer((self.token_embedding(ids) + self.positional_embedding).permute(1, 0, 2)).permute(1, 0, 2)
        words = self.ln_final(x)
        return words[torch.arange(ids.shape[0]), ids.argmax(-1)] @ self.text_projection, words


def lin(p, name, i, o):
    p[name + '.weight'] = nn.Parameter(torch.empty(o, i).uniform_(-i ** -0.5, i ** -0.5))
    p[name + '.bias'] = nn.Parameter(torch.empty(o).uniform_(-i ** -0.5, i ** -0.5))


def bn(p, name, c):
    p[name + '.weight'] = nn.Parameter(torch.ones(c))
    p[name + '.bias'] = nn.Parameter(torch.zeros(c))


def heads_for(method, h):
    p = {}
    if method in ('declip', 'defilip'):
        lin(p, 'projector.linear1', EMBED, h['proj']); bn(p, 'projector.bn1', h['proj'])
        lin(p, 'projector.linear2', h['proj'], h['proj']); bn(p, 'projector.bn2', h['proj'])
        lin(p, 'projector.linear3', h['proj'], h['proj']); bn(p, 'projector.bn3', h['proj'])
        lin(p, 'predictor.linear1', h['proj'], h['pred']); bn(p, 'predictor.bn1', h['pred'])
        lin(p, 'predictor.layer2', h['pred'], h['proj'])
        lin(p, 'text_label_predictor', WIDTH, VOCAB)
    if method == 'slip':
        lin(p, 'predictor_sim.linear1', WIDTH, h['mlp']); bn(p, 'predictor_sim.bn1', h['mlp'])
        lin(p, 'predictor_sim.linear2', h['mlp'], h['mlp']); bn(p, 'predictor_sim.bn2', h['mlp'])
        lin(p, 'predictor_sim.linear3', h['mlp'], h['mlp_out'])
    if method in ('filip', 'defilip'):
        lin(p, 'image_mapping', WIDTH, h['dense']); lin(p, 'text_mapping', WIDTH, h['dense'])
        p['logit_scale_dense'] = nn.Parameter(torch.tensor(3.0))
    return p


def filip_dense(x, y, s_dense, k=16):
    """filip.py::get_weighted_dense_logits with select_topk (vectorised gather, as the seed)."""
    x = x / x.norm(dim=-1, keepdim=True)
    y = y / y.norm(dim=-1, keepdim=True)
    with torch.no_grad():
        cross = x @ y.transpose(1, 2)
        id_x = torch.topk(cross.sum(2), min(k, x.shape[1]), dim=1).indices
        id_y = torch.topk(cross.sum(1), min(k, y.shape[1]), dim=1).indices
    b = x.shape[0]
    sx = x[torch.arange(b)[:, None], id_x]
    sy = y[torch.arange(b)[:, None], id_y]
    per_image = s_dense * torch.einsum('ipd,jqd->ijpq', x, sy).max(-1)[0].mean(-1)
    per_text = s_dense * torch.einsum('jqd,ipd->jiqp', y, sx).max(-1)[0].mean(-1)
    return R.info_nce(per_image, per_text)


def random_ids(gen, batch):
    ids = torch.zeros(batch, CONTEXT, dtype=torch.long)
    for b in range(batch):
        n = 5 + int(torch.randint(15, (1,), generator=gen))
        ids[b, 0] = VOCAB - 2
        ids[b, 1:n] = torch.randint(0, VOCAB - 3, (n - 1,), generator=gen)
        ids[b, n] = VOCAB - 1
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--method', required=True, choices=['clip', 'declip', 'slip', 'filip', 'defilip'])
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--heads', default='tiny', choices=list(HEADS))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    m, B = a.method, a.batch
    vision, text = Vision(), Text()
    logit_scale = nn.Parameter(torch.tensor(3.0))
    p = heads_for(m, HEADS[a.heads])
    params = [q for q in list(vision.parameters()) + list(text.parameters()) + [logit_scale] + list(p.values()) if q.requires_grad]
    n_views = {'clip': 1, 'declip': 2, 'slip': 3, 'filip': 1, 'defilip': 2}[m]
    images = [torch.randn(B, 3, IMAGE, IMAGE, generator=gen) for _ in range(n_views)]
    raw, eda = random_ids(gen, B), random_ids(gen, B)
    labels = torch.where((torch.rand(B, CONTEXT, generator=gen) < 0.15) & (raw != 0) & (raw < VOCAB - 3), raw, torch.full_like(raw, -100))
    queue = R.NNQueue(F.normalize(torch.randn(65536, EMBED, generator=gen), dim=1).numpy(), 0)
    queue.bank = queue.bank.float()

    def loss():
        s = R.logit_scale(logit_scale)
        if m in ('clip', 'slip', 'filip'):
            emb, feat, tokens = vision(images[0])
            v, words = text(raw)
            if m == 'slip':
                s = R.logit_scale(logit_scale, None)
            total = R.clip_nce(R.norm_image(emb), R.norm_text(v), s)
            if m == 'slip':
                h1 = R.simclr_mlp(vision(images[1])[1], p, 0)
                h2 = R.simclr_mlp(vision(images[2])[1], p, 0)
                total = total + R.nt_xent(h1, h2, 0.1)
            if m == 'filip':
                total = 0 * total + filip_dense(R.linear(tokens, p, 'image_mapping'), R.linear(words, p, 'text_mapping'),
                                                R.logit_scale(p['logit_scale_dense'], None))
            return total
        (e1, _, tok1), (e2, _, _) = vision(images[0]), vision(images[1])
        vm_raw, words = text(raw)
        ve_raw, _ = text(eda)
        u1, u2, vm, ve = R.norm_image(e1), R.norm_image(e2), R.norm_text(vm_raw), R.norm_text(ve_raw)
        mv = (R.clip_nce(u1, vm, s) + R.clip_nce(u2, vm, s) + R.clip_nce(u1, ve, s) + R.clip_nce(u2, ve, s)) / 4
        z1, z2 = R.simsiam_projector(e1, p, 128), R.simsiam_projector(e2, p, 128)
        ss = R.simsiam_loss(R.simsiam_predictor(z1, p, 128), z1, R.simsiam_predictor(z2, p, 128), z2)
        sel = labels != -100  # only the selected positions go through the MLM head (the seed computes all 77)
        mlm = F.cross_entropy(R.linear(words[sel], p, 'text_label_predictor'), labels[sel])
        nm, ne = R.norm_text(queue.lookup(vm)[0]), R.norm_text(queue.lookup(ve)[0])
        nn_ = (R.ce_diag(s * u1 @ nm.t()) + R.ce_diag(s * u1 @ ne.t()) + R.ce_diag(s * u2 @ nm.t()) + R.ce_diag(s * u2 @ ne.t())) / 4
        queue.enqueue(ve)
        queue.enqueue(vm)
        total = 0.4 * mv + 0.2 * ss + 0.2 * mlm + 0.2 * nn_
        if m == 'defilip':
            total = total + 0.2 * filip_dense(R.linear(tok1, p, 'image_mapping'), R.linear(words, p, 'text_mapping'),
                                              R.logit_scale(p['logit_scale_dense'], None))
        return total

    def step():
        for q in params:
            q.grad = None
        loss().backward()

    step()
    ts = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        step()
        ts.append((time.perf_counter() - t0) * 1000)
    out = {'method': m, 'step_ms': statistics.median(ts), 'all_ms': ts,
           'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           'params': sum(q.numel() for q in params), 'torch': torch.__version__, 'threads': torch.get_num_threads()}
    print(json.dumps(out) if a.json else out)


if __name__ == '__main__':
    sys.exit(main())
