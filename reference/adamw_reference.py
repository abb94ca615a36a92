"""PyTorch 1.13 AdamW parity fixture for src/train/adamw.ts.

Runs torch.optim.AdamW with the seed's settings (betas 0.9/0.98, eps 1e-8) on two small parameters, one in a
weight-decay group and one in a no-decay group (as DeCLIP's param_group_all does for biases/norms/logit scales),
for six steps whose learning rates follow the warm-up/cosine schedule, and writes the initial values, the
gradients of every step, and the final values to fixtures/parity/train/adamw.json.
Run: /usr/bin/python3 reference/adamw_reference.py
"""
import json, math, os
import torch

torch.manual_seed(0)
W, T, base, peak = 3, 8, 1e-4, 1e-3


def lr_at(t):
    if t < W:
        return base + (peak - base) * (t - 1) / (W - 1)
    return 0.5 * peak * (1 + math.cos(math.pi * (t - W) / (T - W)))


weight = torch.nn.Parameter(torch.randn(3, 4))
bias = torch.nn.Parameter(torch.randn(4))
init = {"weight": weight.detach().clone(), "bias": bias.detach().clone()}
opt = torch.optim.AdamW([{"params": [weight], "weight_decay": 0.1}, {"params": [bias], "weight_decay": 0.0}],
                        lr=base, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.1)
grads = {"weight": [], "bias": []}
lrs = []
x = torch.randn(5, 3)
for t in range(1, 7):
    lr = lr_at(t)
    for g in opt.param_groups:
        g["lr"] = lr
    lrs.append(lr)
    opt.zero_grad()
    loss = ((x @ weight + bias).tanh() ** 2).sum() * (t % 3 + 1)
    loss.backward()
    grads["weight"].append(weight.grad.flatten().tolist())
    grads["bias"].append(bias.grad.flatten().tolist())
    opt.step()

out = {
    "torch": torch.__version__, "betas": [0.9, 0.98], "eps": 1e-8, "weight_decay": 0.1, "lrs": lrs,
    "params": [
        {"name": "weight", "decay": True, "shape": [3, 4], "init": init["weight"].flatten().tolist(),
         "grads": grads["weight"], "final": weight.detach().flatten().tolist()},
        {"name": "bias", "decay": False, "shape": [4], "init": init["bias"].flatten().tolist(),
         "grads": grads["bias"], "final": bias.detach().flatten().tolist()},
    ],
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "parity", "train", "adamw.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.normpath(path))
