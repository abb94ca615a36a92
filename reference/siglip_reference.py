#!/usr/bin/python3
"""PyTorch reference of the SigLIP supervision (src/supervision/siglip.ts), for its parity test.

The loss is open_clip's SigLipLoss on one process: embeddings normalised with F.normalize, logits
t * x_i . y_j + b with t = exp(logit_scale) (no forward cap) and a learnable bias b, labels +1 on the diagonal and
-1 elsewhere, loss = -sum(log sigmoid(labels * logits)) / n. open_clip initialises logit_scale to ln 10 and the bias
to -10 for SigLIP training.

Run with Debian's interpreter (PyTorch 1.13 CPU):  /usr/bin/python3 reference/siglip_reference.py
Writes fixtures/parity/supervision/siglip*.json in the format of reference/supervision_reference.py (inputs: encoder
outputs and scalars as float32 values; steps: loss parts, total and the gradient of the total with respect to every
input), computed in float64 from those float32 inputs.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'parity', 'supervision')
RNG = np.random.default_rng(20260314)


def enc(a):
    a = np.asarray(a)
    return {'shape': list(a.shape), 'data': [float('%.9g' % v) for v in a.ravel().tolist()]}


def siglip_loss(image_features, text_features, logit_scale, logit_bias):
    """open_clip SigLipLoss._loss with world_size 1 (logit_scale here is already exp'ed)."""
    logits = logit_scale * image_features @ text_features.t() + logit_bias
    n = image_features.shape[0]
    labels = 2 * torch.eye(n) - torch.ones(n, n)
    return -F.logsigmoid(labels * logits).sum() / n


def case(batch, dim, theta, bias, aligned):
    """aligned: text embeddings = image embeddings + noise, so positives score higher than negatives."""
    image = RNG.standard_normal((batch, dim)).astype(np.float32)
    noise = RNG.standard_normal((batch, dim)).astype(np.float32)
    text = (image + 0.5 * noise).astype(np.float32) if aligned else noise
    inputs = {
        'image0.embedding': image,
        'text.raw.embedding': text,
        'logit_scale': np.float32(theta).reshape(()),
        'logit_bias': np.float32(bias).reshape(()),
    }
    t = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in inputs.items()}
    u = F.normalize(t['image0.embedding'], dim=-1)
    v = F.normalize(t['text.raw.embedding'], dim=-1)
    loss = siglip_loss(u, v, t['logit_scale'].exp(), t['logit_bias'])
    names = list(t)
    grads = torch.autograd.grad(loss, [t[k] for k in names])
    step = {
        'parts': {'siglip': float(loss)},
        'total': float(loss),
        'grads': {k: enc(g.numpy()) for k, g in zip(names, grads)},
    }
    return {'supervision': 'siglip', 'options': {}, 'inputs': {k: enc(v) for k, v in inputs.items()},
            'steps': [step]}


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        # open_clip's initial temperature and bias on unrelated pairs (the first step of a run)
        'siglip': case(8, 8, math.log(10), -10.0, aligned=False),
        # a trained-looking state: larger scale, bias near zero, pairs that agree, another batch size
        'siglip-aligned': case(12, 6, 2.9, -1.7, aligned=True),
    }
    for name, c in cases.items():
        path = os.path.join(OUT, name + '.json')
        with open(path, 'w') as f:
            json.dump(c, f, separators=(',', ':'))
        print(f'{path}: {os.path.getsize(path)} bytes; loss {c["steps"][0]["total"]:.6f}')


if __name__ == '__main__':
    main()
