#!/usr/bin/python3
"""PyTorch reference of the supervisions (CLIP, DeCLIP, SLIP, FILIP, DeFILIP), written from the seed's code as
docs/methods.md describes it (losses, heads, logit-scale control, NN queue), for parity tests of src/supervision.

Run with Debian's interpreter (PyTorch 1.13 CPU):  /usr/bin/python3 reference/supervision_reference.py
Writes fixtures/parity/supervision/<case>.json. Each case holds
  inputs:  encoder outputs the supervision consumes (image{v}.embedding/feature/tokens, text.{view}.embedding/wordFeatures),
           token ids (ids.{view}, ids.mlmLabels), head weights (seed state-dict names, torch layouts: Linear weight [out, in]),
           logit scales, NN-queue contents and pointer;
  options: supervision options used;
  steps:   per step the loss parts, the total, and d(total)/d(every input tensor that carries gradient),
           plus NN indices / queue state after the step (DeCLIP, DeFILIP) and FILIP's selected token indices.
All inputs are float32 values; the reference computes in float64, so it is the exact answer for those inputs.
The seed's quirks are reproduced: the forward clamp exp(theta) <= 100 is applied to `.data` of the exp output, so the
logits use 100 but exp's backward still multiplies by the unclamped exp(theta) (checked on torch 1.13: theta 4.8 ->
s 100, ds/dtheta 121.5); the gradient is never zeroed above the cap.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'parity', 'supervision')
RNG = np.random.default_rng(20261122)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def param(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def enc(a):
    a = np.asarray(a)
    return {'shape': list(a.shape), 'data': [float('%.9g' % v) for v in a.ravel().tolist()]}


def enc_int(a):
    a = np.asarray(a)
    return {'shape': list(a.shape), 'data': [int(v) for v in a.ravel().tolist()]}


# ---------------------------------------------------------------------------------------------------------------- losses

def norm_image(x):
    return x / x.norm(dim=-1, keepdim=True)


def norm_text(x):
    return x / (x.norm(dim=-1, keepdim=True) + 1e-10)


def logit_scale(theta, cap=100.0):
    s = theta.exp()
    if cap is not None:
        s.data = torch.clamp(s.data, max=cap)  # the seed's clamp on .data: value capped, gradient still exp(theta)
    return s


def ce_diag(logits):
    return F.cross_entropy(logits, torch.arange(logits.shape[0]))


def info_nce(first, second):
    return (ce_diag(first) + ce_diag(second)) / 2


def clip_nce(u, v, s):
    return info_nce(s * u @ v.t(), s * v @ u.t())


def simsiam_d(p, z):
    z = z.detach()
    p = p / p.norm(dim=-1, keepdim=True)
    z = z / z.norm(dim=-1, keepdim=True)
    return (p * z).sum(dim=1).mean()


def simsiam_loss(p1, z1, p2, z2):
    return -0.5 * (simsiam_d(p1, z2) + simsiam_d(p2, z1))


def nt_xent(z_i, z_j, temperature):
    """nt_xent.py::NT_Xent_gather on a single process (gathered == local)."""
    bs = z_i.shape[0]
    p0 = torch.cat((z_i, z_j), dim=0)
    sim = F.cosine_similarity(p0.unsqueeze(1), p0.unsqueeze(0), dim=2) / temperature
    ids = torch.arange(bs)
    pos = torch.zeros(2 * bs, 2 * bs, dtype=torch.bool)
    pos[ids + bs, ids] = True
    pos[ids, ids + bs] = True
    neg = torch.ones(2 * bs, 2 * bs, dtype=torch.bool)
    neg[ids, ids] = False
    neg[ids + bs, ids] = False
    neg[ids, ids + bs] = False
    neg[ids + bs, ids + bs] = False
    logits = torch.cat((sim[pos].reshape(2 * bs, -1), sim[neg].reshape(2 * bs, -1)), dim=1)
    return F.cross_entropy(logits, torch.zeros(2 * bs, dtype=torch.long), reduction='sum') / (2 * bs)


def linear(x, p, name):
    return x @ p[name + '.weight'].t() + p[name + '.bias']


def batch_norm(x, p, name, ghost):
    """Training-mode BN1d (biased batch variance, eps 1e-5); with ghost > 0 the statistics are per chunk of `ghost` rows."""
    chunks = [x] if not ghost else torch.split(x, ghost, dim=0)
    out = [F.batch_norm(c, None, None, p[name + '.weight'], p[name + '.bias'], training=True, eps=1e-5) for c in chunks]
    return torch.cat(out, dim=0)


def simsiam_projector(x, p, ghost):
    x = F.relu(batch_norm(linear(x, p, 'projector.linear1'), p, 'projector.bn1', ghost))
    x = F.relu(batch_norm(linear(x, p, 'projector.linear2'), p, 'projector.bn2', ghost))
    return batch_norm(linear(x, p, 'projector.linear3'), p, 'projector.bn3', ghost)


def simsiam_predictor(x, p, ghost):
    x = F.relu(batch_norm(linear(x, p, 'predictor.linear1'), p, 'predictor.bn1', ghost))
    return linear(x, p, 'predictor.layer2')


def simclr_mlp(x, p, ghost):
    x = F.relu(batch_norm(linear(x, p, 'predictor_sim.linear1'), p, 'predictor_sim.bn1', ghost))
    x = F.relu(batch_norm(linear(x, p, 'predictor_sim.linear2'), p, 'predictor_sim.bn2', ghost))
    return linear(x, p, 'predictor_sim.linear3')


def mlm_loss(word_features, labels, p):
    logits = linear(word_features, p, 'text_label_predictor')
    sel = labels != -100
    if int(sel.sum()) == 0:
        return torch.zeros(())
    return F.cross_entropy(logits[sel], labels[sel])


class NNQueue:
    """nnclr_modules NNMemoryBankModule over the CUDA MemoryBankModule (wrap-around enqueue), float64, rows = entries."""

    def __init__(self, bank, pointer):
        self.bank = torch.tensor(np.asarray(bank, dtype=np.float64))
        self.pointer = pointer

    def lookup(self, x):
        x = x.detach()
        bank = self.bank.clone()
        sim = torch.einsum('nd,md->nm', F.normalize(x, dim=1), F.normalize(bank, dim=1))
        idx = torch.topk(sim, k=1, dim=1).indices[:, 0]
        return torch.index_select(bank, 0, idx), idx

    def enqueue(self, batch):
        batch = batch.detach()
        size = self.bank.shape[0]
        while self.pointer + batch.shape[0] >= size:
            self.bank[self.pointer:] = batch[:size - self.pointer]
            batch = batch[size - self.pointer:]
            self.pointer = 0
        if batch.shape[0]:
            self.bank[self.pointer:self.pointer + batch.shape[0]] = batch
            self.pointer += batch.shape[0]


def text_valid_mask(ids):
    """1 for positions up to and including EOT (the largest id in the row), 0 for the padding after it."""
    eot = ids.argmax(dim=1, keepdim=True)
    return (torch.arange(ids.shape[1])[None, :] <= eot).double()


def filip_logits(x, y, s_dense, top_k, text_mask=None):
    """filip.py::get_weighted_dense_logits (select_topk=True) on normalised tokens x [B,P,d], y [B,T,d].
    With text_mask, the FILIP paper's variant: padding excluded from the text mean and from text selection."""
    cross = torch.matmul(x, y.permute(0, 2, 1))
    text_scores = cross.sum(dim=1)
    if text_mask is not None:
        text_scores = text_scores.masked_fill(text_mask == 0, float('-inf'))
    id_img = torch.topk(cross.sum(dim=2), dim=1, k=min(top_k, x.shape[1])).indices
    id_txt = torch.topk(text_scores, dim=1, k=min(top_k, y.shape[1])).indices
    b = x.shape[0]
    sel_x = torch.stack([x[i, id_img[i]] for i in range(b)])
    sel_y = torch.stack([y[i, id_txt[i]] for i in range(b)])
    # image->text: [i, p, j, q]
    s1 = torch.einsum('ipd,jqd->ijpq', x, sel_y)
    if text_mask is not None:
        sel_valid = torch.stack([text_mask[i, id_txt[i]] for i in range(b)])  # [j, q]
        s1 = s1.masked_fill(sel_valid[None, :, None, :] == 0, float('-inf'))
    per_image = s_dense * s1.max(dim=-1)[0].mean(dim=-1)
    s2 = torch.einsum('jqd,ipd->jiqp', y, sel_x).max(dim=-1)[0]  # [j, i, q]
    if text_mask is None:
        per_text = s_dense * s2.mean(dim=-1)
    else:
        per_text = s_dense * (s2 * text_mask[:, None, :]).sum(-1) / text_mask.sum(-1)[:, None]
    return per_image, per_text, id_img, id_txt


def filip_loss(tokens, word_features, p, s_dense, top_k, text_mask):
    x = linear(tokens, p, 'image_mapping')
    y = linear(word_features, p, 'text_mapping')
    x = x / x.norm(dim=-1, keepdim=True)
    y = y / y.norm(dim=-1, keepdim=True)
    per_image, per_text, id_img, id_txt = filip_logits(x, y, s_dense, top_k, text_mask)
    return info_nce(per_image, per_text), id_img, id_txt


# ------------------------------------------------------------------------------------------------------------ inputs

B, E, FEAT, W, CTX, V, PATCH, VW, DENSE = 8, 8, 10, 12, 10, 30, 9, 10, 6


def linear_params(p, name, fan_in, fan_out):
    p[name + '.weight'] = rand(fan_out, fan_in, scale=1 / math.sqrt(fan_in))
    p[name + '.bias'] = rand(fan_out, scale=0.1)


def bn_params(p, name, dim):
    p[name + '.weight'] = (1 + rand(dim, scale=0.1)).astype(np.float32)
    p[name + '.bias'] = rand(dim, scale=0.1)


def declip_head_params(hidden, pred_hidden):
    p = {}
    linear_params(p, 'projector.linear1', E, hidden); bn_params(p, 'projector.bn1', hidden)
    linear_params(p, 'projector.linear2', hidden, hidden); bn_params(p, 'projector.bn2', hidden)
    linear_params(p, 'projector.linear3', hidden, hidden); bn_params(p, 'projector.bn3', hidden)
    linear_params(p, 'predictor.linear1', hidden, pred_hidden); bn_params(p, 'predictor.bn1', pred_hidden)
    linear_params(p, 'predictor.layer2', pred_hidden, hidden)
    linear_params(p, 'text_label_predictor', W, V)
    return p


def filip_head_params():
    p = {}
    linear_params(p, 'image_mapping', VW, DENSE)
    linear_params(p, 'text_mapping', W, DENSE)
    return p


def token_ids(lengths):
    """Framed ids: SOT (V-2) ... EOT (V-1) then 0 padding; content ids in [1, V-3]."""
    ids = np.zeros((len(lengths), CTX), dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, 0] = V - 2
        ids[i, 1:n + 1] = RNG.integers(1, V - 3, size=n)
        ids[i, n + 1] = V - 1
    return ids


def mlm_labels(ids):
    labels = np.full(ids.shape, -100, dtype=np.int64)
    for i in range(ids.shape[0]):
        eot = int(ids[i].argmax())
        for t in range(1, eot):
            if RNG.random() < 0.4:
                labels[i, t] = RNG.integers(1, V - 3)
    return labels


def encoder_outputs(n_image_views, text_views, with_tokens=False):
    x = {}
    for v in range(n_image_views):
        x[f'image{v}.embedding'] = rand(B, E)
        x[f'image{v}.feature'] = rand(B, FEAT)
        if with_tokens:
            x[f'image{v}.tokens'] = rand(B, PATCH, VW)
    for t in text_views:
        x[f'text.{t}.embedding'] = rand(B, E)
        x[f'text.{t}.wordFeatures'] = rand(B, CTX, W)
    return x


# ------------------------------------------------------------------------------------------------------------- cases

def run_step(inputs, compute):
    """inputs: name -> np array (float tensors get gradient). compute(t) -> (parts dict, total, extra dict)."""
    t = {}
    for k, a in inputs.items():
        t[k] = torch.tensor(np.asarray(a)) if np.asarray(a).dtype.kind == 'i' else param(a)
    parts, total, extra = compute(t)
    grads_for = [k for k, v in t.items() if v.requires_grad]
    grads = torch.autograd.grad(total, [t[k] for k in grads_for], allow_unused=True)
    out_grads = {}
    for k, g in zip(grads_for, grads):
        out_grads[k] = enc(np.zeros(np.asarray(inputs[k]).shape) if g is None else g.numpy())
    return {'parts': {k: float(v) for k, v in parts.items()}, 'total': float(total), 'grads': out_grads, **extra}


def case_clip(theta):
    inputs = {**encoder_outputs(1, ['raw']), 'logit_scale': np.float32(theta).reshape(())}

    def compute(t):
        s = logit_scale(t['logit_scale'])
        clip = clip_nce(norm_image(t['image0.embedding']), norm_text(t['text.raw.embedding']), s)
        return {'clip': clip}, clip, {}
    return {'supervision': 'clip', 'options': {}, 'inputs': {k: enc(v) for k, v in inputs.items()},
            'steps': [run_step(inputs, compute)]}


def declip_terms(t, queue, opts):
    s = logit_scale(t['logit_scale'])
    u1, u2 = norm_image(t['image0.embedding']), norm_image(t['image1.embedding'])
    vm, ve = norm_text(t['text.mlm.embedding']), norm_text(t['text.eda.embedding'])
    mv = (clip_nce(u1, vm, s) + clip_nce(u2, vm, s) + clip_nce(u1, ve, s) + clip_nce(u2, ve, s)) / 4
    z1 = simsiam_projector(t['image0.embedding'], t, opts['ghostSize'])
    z2 = simsiam_projector(t['image1.embedding'], t, opts['ghostSize'])
    p1, p2 = simsiam_predictor(z1, t, opts['ghostSize']), simsiam_predictor(z2, t, opts['ghostSize'])
    ss = simsiam_loss(p1, z1, p2, z2)
    mlm = mlm_loss(t['text.mlm.wordFeatures'], t['ids.mlmLabels'], t)
    nm_raw, idx_m = queue.lookup(vm)
    ne_raw, idx_e = queue.lookup(ve)
    nm, ne = norm_text(nm_raw), norm_text(ne_raw)
    nn = (ce_diag(s * u1 @ nm.t()) + ce_diag(s * u1 @ ne.t()) + ce_diag(s * u2 @ nm.t()) + ce_diag(s * u2 @ ne.t())) / 4
    queue.enqueue(ve)
    queue.enqueue(vm)
    parts = {'mv': mv, 'simsiam': ss, 'mlm': mlm, 'nn': nn}
    total = opts['mvWeight'] * mv + opts['simsiamWeight'] * ss + opts['mlmWeight'] * mlm + opts['nnWeight'] * nn
    return parts, total, {'nnIndices': {'mlm': [int(i) for i in idx_m], 'eda': [int(i) for i in idx_e]}}


def case_declip(name, n_steps, with_filip):
    opts = {'mvWeight': 0.4, 'simsiamWeight': 0.2, 'mlmWeight': 0.2, 'nnWeight': 0.2, 'ghostSize': 4,
            'projectorHidden': 16, 'predictorHidden': 8, 'queueSize': 20}
    if with_filip:
        opts.update({'filipWeight': 0.2, 'topK': 4, 'denseDim': DENSE})
    heads = declip_head_params(16, 8)
    if with_filip:
        heads.update(filip_head_params())
    queue0 = rand(opts['queueSize'], E)
    queue0 = (queue0 / (np.linalg.norm(queue0.astype(np.float64), axis=1, keepdims=True) + 1e-10)).astype(np.float32)
    pointer0 = 7
    queue = NNQueue(queue0, pointer0)
    scalars = {'logit_scale': np.float32(3.3).reshape(())}
    if with_filip:
        scalars['logit_scale_dense'] = np.float32(3.9).reshape(())
    steps, step_inputs = [], []
    for _ in range(n_steps):
        ids = token_ids(RNG.integers(2, CTX - 2, size=B))
        x = {**encoder_outputs(2, ['mlm', 'eda'], with_tokens=with_filip), 'ids.mlm': ids, 'ids.mlmLabels': mlm_labels(ids)}
        inputs = {**x, **heads, **scalars}

        def compute(t):
            parts, total, extra = declip_terms(t, queue, opts)
            if with_filip:
                s_dense = logit_scale(t['logit_scale_dense'], None)
                filip, id_img, id_txt = filip_loss(t['image0.tokens'], t['text.mlm.wordFeatures'], t, s_dense,
                                                   opts['topK'], None)
                parts['filip'] = filip
                total = total + opts['filipWeight'] * filip
                extra['selected'] = {'image': id_img.tolist(), 'text': id_txt.tolist()}
            return parts, total, extra
        step = run_step(inputs, compute)
        step['queueAfter'] = {'pointer': queue.pointer, 'bank': enc(queue.bank.numpy().astype(np.float32))}
        steps.append(step)
        step_inputs.append({k: (enc_int(v) if np.asarray(v).dtype.kind == 'i' else enc(v)) for k, v in x.items()})
    return {'supervision': 'defilip' if with_filip else 'declip', 'options': opts,
            'inputs': {k: enc(v) for k, v in {**heads, **scalars}.items()},
            'queue': {'pointer': pointer0, 'bank': enc(queue0)},
            'stepInputs': step_inputs, 'steps': steps}


def case_slip():
    opts = {'clipWeight': 1.0, 'simclrWeight': 1.0, 'temperature': 0.1, 'mlpHidden': 14, 'mlpOut': 5, 'ghostSize': 0}
    p = {}
    linear_params(p, 'predictor_sim.linear1', FEAT, 14); bn_params(p, 'predictor_sim.bn1', 14)
    linear_params(p, 'predictor_sim.linear2', 14, 14); bn_params(p, 'predictor_sim.bn2', 14)
    linear_params(p, 'predictor_sim.linear3', 14, 5)
    # theta 4.8 -> exp = 121.5: SLIP has no forward clamp, so the scale stays above 100.
    inputs = {**encoder_outputs(3, ['raw']), **p, 'logit_scale': np.float32(4.8).reshape(())}

    def compute(t):
        s = logit_scale(t['logit_scale'], None)
        clip = clip_nce(norm_image(t['image0.embedding']), norm_text(t['text.raw.embedding']), s)
        h1 = simclr_mlp(t['image1.feature'], t, opts['ghostSize'])
        h2 = simclr_mlp(t['image2.feature'], t, opts['ghostSize'])
        simclr = nt_xent(h1, h2, opts['temperature'])
        return {'clip': clip, 'simclr': simclr}, opts['clipWeight'] * clip + opts['simclrWeight'] * simclr, {}
    return {'supervision': 'slip', 'options': opts, 'inputs': {k: enc(v) for k, v in inputs.items()},
            'steps': [run_step(inputs, compute)]}


def case_filip(text_padding):
    opts = {'clipWeight': 0.0, 'filipWeight': 1.0, 'topK': 4, 'denseDim': DENSE, 'textPadding': text_padding}
    ids = token_ids([1, 2, 3, 5, 6, 7, 8, 4])  # short captions: fewer real tokens than top-k for the first rows
    inputs = {**encoder_outputs(1, ['mlm'], with_tokens=True), 'ids.mlm': ids, **filip_head_params(),
              'logit_scale': np.float32(3.4).reshape(()), 'logit_scale_dense': np.float32(3.2 if text_padding == 'exclude' else 4.0).reshape(())}

    def compute(t):
        s = logit_scale(t['logit_scale'])
        clip = clip_nce(norm_image(t['image0.embedding']), norm_text(t['text.mlm.embedding']), s)
        mask = text_valid_mask(t['ids.mlm']) if text_padding == 'exclude' else None
        s_dense = logit_scale(t['logit_scale_dense'], None)
        filip, id_img, id_txt = filip_loss(t['image0.tokens'], t['text.mlm.wordFeatures'], t, s_dense, opts['topK'], mask)
        total = opts['clipWeight'] * clip + opts['filipWeight'] * filip
        return {'clip': clip, 'filip': filip}, total, {'selected': {'image': id_img.tolist(), 'text': id_txt.tolist()}}
    return {'supervision': 'filip', 'options': opts,
            'inputs': {k: (enc_int(v) if np.asarray(v).dtype.kind == 'i' else enc(v)) for k, v in inputs.items()},
            'steps': [run_step(inputs, compute)]}


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        'clip': case_clip(3.5),
        'clip-capped': case_clip(4.8),
        'declip': case_declip('declip', 3, False),
        'slip': case_slip(),
        'filip': case_filip('include'),
        'filip-masked': case_filip('exclude'),
        'defilip': case_declip('defilip', 2, True),
    }
    for name, case in cases.items():
        path = os.path.join(OUT, name + '.json')
        with open(path, 'w') as f:
            json.dump(case, f, separators=(',', ':'))
        print(f'{path}: {os.path.getsize(path)} bytes; parts per step:',
              [{k: round(v, 6) for k, v in s['parts'].items()} for s in case['steps']])


if __name__ == '__main__':
    main()
