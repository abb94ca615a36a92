"""PyTorch reference for zero-shot evaluation (parity of the zero-shot pipeline).

Trains a tiny OpenAI-architecture CLIP (reference/models_reference.py: ViT 32px/patch 8, width 64, 2 layers;
text width 64, 2 layers, context 32) with the symmetric InfoNCE loss on the first 200 CIFAR-10 test images of
each class, captioned with the CIFAR-10 prompt templates, then evaluates zero-shot on all 10,000 CIFAR-10 test
images exactly as clip-bench's zero-shot pipeline does: prompt ensemble (encode each template, L2-normalise,
mean, L2-normalise), images at their native 32x32 (no resampling) -> ToTensor -> OpenAI-CLIP normalisation,
cosine logits, argmax with ties to the lower index.

Writes fixtures/parity/zero-shot/tiny-clip-cifar10.safetensors (OpenAI state-dict names, float32) and
expected.json (acc1/acc5/mean per-class recall, every prediction, and the top-1/top-2 margin per image so a
test can tell exact-tie cases apart).

Run with Debian's python3 (torch 1.13):
  /usr/bin/python3 reference/zero_shot_reference.py --shared ../shared --vocab fixtures/demo/vocab.txt.gz
"""
import argparse
import json
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_reference import CLIP, write_safetensors  # noqa: E402
from clip_tokenizer_reference import SimpleTokenizer  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'parity', 'zero-shot')
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
CONTEXT = 32


def load_images(paths):
    arr = np.stack([np.asarray(Image.open(p).convert('RGB'), dtype=np.float32) / 255.0 for p in paths])
    x = torch.from_numpy(arr).permute(0, 3, 1, 2)
    return (x - MEAN) / STD


def tokenize(tok, texts):
    out = torch.zeros(len(texts), CONTEXT, dtype=torch.long)
    for i, t in enumerate(texts):
        ids = tok.framed(t, CONTEXT)
        out[i, :len(ids)] = torch.tensor(ids)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', default=os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))
    ap.add_argument('--vocab', required=True)
    ap.add_argument('--steps', type=int, default=400)
    args = ap.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(2)
    root = os.path.join(args.shared, 'data', 'cifar10-test')
    prompts = json.load(open(os.path.join(args.shared, 'data', 'zero-shot', 'classnames-and-templates.json')))['cifar10']
    classes, templates = prompts['classes'], prompts['templates']
    folders = sorted(os.listdir(root))
    assert [f for f in folders] == sorted(classes), folders
    files = [(os.path.join(root, c, f), label) for label, c in enumerate(folders) for f in sorted(os.listdir(os.path.join(root, c)))]
    tok = SimpleTokenizer(args.vocab)
    vocab_size = len(tok.encoder)

    model = CLIP(embed_dim=64, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=8,
                 context_length=CONTEXT, vocab_size=vocab_size, transformer_width=64, transformer_heads=1, transformer_layers=2)
    for p in model.parameters():
        if p.dim() >= 2:
            torch.nn.init.normal_(p, std=p.shape[-1] ** -0.5)
    torch.nn.init.normal_(model.token_embedding.weight, std=0.02)

    train = [f for f in files if int(os.path.basename(f[0]).split('.')[0]) < 200]
    train_images = load_images([p for p, _ in train])
    train_labels = torch.tensor([l for _, l in train])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.1)
    batch = 100
    for step in range(args.steps):
        idx = torch.randperm(len(train))[:batch]
        texts = [random.choice(templates).format(classes[int(train_labels[i])]) for i in idx]
        u = F.normalize(model.visual(train_images[idx])[0], dim=-1)
        v = F.normalize(model.encode_text(tokenize(tok, texts))[0], dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * u @ v.t()
        target = torch.arange(batch)
        # Same-class pairs in a batch are true positives; keep plain InfoNCE (it still learns the classes).
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f'step {step} loss {loss.item():.4f}', flush=True)

    model.eval()
    with torch.no_grad():
        weights = []
        for c in classes:
            e = F.normalize(model.encode_text(tokenize(tok, [t.format(c) for t in templates]))[0], dim=-1).mean(0)
            weights.append(F.normalize(e, dim=-1))
        classifier = torch.stack(weights, 1)  # [D, C]
        preds, margins, top5 = [], [], 0
        labels = torch.tensor([l for _, l in files])
        recall = torch.zeros(len(classes))
        for s in range(0, len(files), 500):
            x = load_images([p for p, _ in files[s:s + 500]])
            scores = F.normalize(model.visual(x)[0], dim=-1) @ classifier
            top = scores.topk(5, dim=1)
            preds += top.indices[:, 0].tolist()
            margins += (top.values[:, 0] - top.values[:, 1]).tolist()
            top5 += (top.indices == labels[s:s + 500, None]).any(1).sum().item()
        preds_t = torch.tensor(preds)
        for c in range(len(classes)):
            recall[c] = (preds_t[labels == c] == c).float().mean()
        acc1 = (preds_t == labels).float().mean().item()
    state = {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items() if not k.endswith('attn_mask')}
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, 'tiny-clip-cifar10.safetensors'), state, metadata={'source': 'reference/zero_shot_reference.py'})
    expected = {'dataset': 'cifar10', 'classes': classes, 'normalize': 'openai', 'context': CONTEXT,
                'vocab': 'fixtures/demo/vocab.txt.gz',
                'metrics': {'acc1': acc1, 'acc5': top5 / len(files), 'mean_per_class_recall': recall.mean().item()},
                'count': len(files), 'first_key': f'{folders[files[0][1]]}/{os.path.basename(files[0][0])}',
                'predictions': preds, 'margins': [round(m, 7) for m in margins]}
    json.dump(expected, open(os.path.join(OUT, 'expected.json'), 'w'))
    print(json.dumps(expected['metrics']))


if __name__ == '__main__':
    main()
