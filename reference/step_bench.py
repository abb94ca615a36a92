#!/usr/bin/python3
"""PyTorch reference for bench/step.ts: the same models and shapes, timed on this machine.

(1) one training step (forward + backward of the symmetric CLIP loss, all trainable parameters) of the tiny CLIP
    preset at batch 64; (2) a ViT-B/32 image-tower forward at batch 32 (no grad).
Architectures follow OpenAI CLIP's model.py (pre-LN residual blocks with nn.MultiheadAttention, QuickGELU, frozen
patch-embedding conv as in the seed, causal text mask, EOT pooling). bench/step.ts passes its configs as JSON
(--config) so both sides build the same shapes; the defaults equal src/models/presets.ts (tiny-vit, tiny-text, vit-b32).

Usage: /usr/bin/python3 reference/step_bench.py [--reps 7] [--vit-reps 3] [--threads 2] [--no-vit] [--json]
"""
import argparse
import json
import statistics
import sys
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = {
    "tiny": {
        "embedDim": 64,
        "vision": {"type": "vit", "imageSize": 32, "patchSize": 8, "width": 64, "layers": 2, "heads": 2,
                   "freezePatchEmbedding": True},
        "text": {"vocabSize": 49408, "contextLength": 77, "width": 64, "layers": 2, "heads": 2,
                 "projectionBias": False},
    },
    "vit": {"type": "vit", "imageSize": 224, "patchSize": 32, "width": 768, "layers": 12, "heads": 12,
            "freezePatchEmbedding": True},
    "vitEmbedDim": 512,
    "tinyBatch": 64,
    "vitBatch": 32,
}
EOT = 49407


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)
        self.attn_mask = attn_mask

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):  # x: [L, N, D] as in OpenAI CLIP
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, cfg, embed_dim):
        super().__init__()
        w, p = cfg["width"], cfg["patchSize"]
        grid = cfg["imageSize"] // p
        self.conv1 = nn.Conv2d(3, w, kernel_size=p, stride=p, bias=False)
        if cfg["freezePatchEmbedding"]:
            self.conv1.weight.requires_grad_(False)
        scale = w ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(w))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = Transformer(w, cfg["layers"], cfg["heads"])
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(scale * torch.randn(w, embed_dim))

    def forward(self, x):  # x: NCHW
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class TextTransformer(nn.Module):
    def __init__(self, cfg, embed_dim):
        super().__init__()
        w, ctx = cfg["width"], cfg["contextLength"]
        mask = torch.empty(ctx, ctx).fill_(float("-inf")).triu_(1)
        self.token_embedding = nn.Embedding(cfg["vocabSize"], w)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(ctx, w))
        self.transformer = Transformer(w, cfg["layers"], cfg["heads"], mask)
        self.ln_final = nn.LayerNorm(w)
        if cfg["projectionBias"]:
            self.text_projection = nn.Linear(w, embed_dim)
        else:
            self.text_projection = nn.Parameter(w ** -0.5 * torch.randn(w, embed_dim))

    def forward(self, ids):
        x = self.token_embedding(ids) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        pooled = x[torch.arange(x.shape[0]), ids.argmax(dim=-1)]
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection(pooled)
        return pooled @ self.text_projection


class CLIP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.visual = VisionTransformer(cfg["vision"], cfg["embedDim"])
        self.text = TextTransformer(cfg["text"], cfg["embedDim"])
        self.logit_scale = nn.Parameter(torch.ones([]) * torch.log(torch.tensor(1 / 0.07)))

    def loss(self, images, ids):
        a = F.normalize(self.visual(images), dim=-1)
        b = F.normalize(self.text(ids), dim=-1)
        logits = self.logit_scale.exp() * a @ b.t()
        labels = torch.arange(logits.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def random_ids(gen, batch, context):
    ids = torch.zeros(batch, context, dtype=torch.long)
    for b in range(batch):
        n = 5 + int(torch.randint(15, (1,), generator=gen))
        ids[b, 0] = EOT - 1
        ids[b, 1:n] = torch.randint(1, EOT - 2, (n - 1,), generator=gen)
        ids[b, n] = EOT
    return ids


def timed(n, f):
    """Median and min wall ms and median process CPU ms (all threads) over n runs after one warm-up run."""
    f()
    wall, cpu = [], []
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        f()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--vit-reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-vit", action="store_true")
    ap.add_argument("--config", help="JSON with keys tiny, vit, vitEmbedDim, tinyBatch, vitBatch (default: the presets)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = dict(DEFAULT_CONFIG, **(json.loads(args.config) if args.config else {}))
    gen = torch.Generator().manual_seed(1)

    model = CLIP(cfg["tiny"])
    params = [p for p in model.parameters() if p.requires_grad]
    size = cfg["tiny"]["vision"]["imageSize"]
    images = torch.randn(cfg["tinyBatch"], 3, size, size, generator=gen)
    ids = random_ids(gen, cfg["tinyBatch"], cfg["tiny"]["text"]["contextLength"])

    def step():
        for p in params:
            p.grad = None
        model.loss(images, ids).backward()

    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "tiny_params": sum(p.numel() for p in params)}
    result["tiny_step_ms"], result["tiny_step_min_ms"], result["tiny_step_cpu_ms"] = timed(args.reps, step)
    if not args.no_vit:
        vit = VisionTransformer(cfg["vit"], cfg["vitEmbedDim"]).eval()
        vsize = cfg["vit"]["imageSize"]
        vimages = torch.randn(cfg["vitBatch"], 3, vsize, vsize, generator=gen)
        with torch.no_grad():
            (result["vit_b32_forward_ms"], result["vit_b32_forward_min_ms"],
             result["vit_b32_forward_cpu_ms"]) = timed(args.vit_reps, lambda: vit(vimages))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    sys.exit(main())
