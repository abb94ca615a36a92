"""PyTorch reference for clip-bench's model zoo (OpenAI CLIP architecture, as in openai/CLIP clip/model.py).

Builds two tiny CLIP models with fixed seeds - a ViT one and a ModifiedResNet one, each with a text transformer -
and writes, per model, into fixtures/parity/models/:
  <name>.safetensors      the state dict with OpenAI names and PyTorch layouts (float params as F16, whose values
                          are exactly representable, so the fixture is small and nothing is lost; BN
                          num_batches_tracked as I64). clip-bench must import it with no architecture flags.
  <name>-io.safetensors   inputs (NHWC images, int32 ids) and expected outputs:
                          eval mode: image_embedding, image_feature, image_tokens, text_embedding, word_features
                          declip.text_embedding: the text embedding with DeCLIP's nn.Linear projection
                            (weight = text_projection^T, bias = declip.text_projection.bias)
                          train mode: loss and grad.<param> (PyTorch layout) of
                            loss = CLIP loss(exp(logit_scale)) + mean(image_tokens * R) + mean(word_features * R)
                            with R[i] = sin(0.1 i) over the flattened tensor,
                          and after.<bn buffer> = BN running statistics after that one training forward.
Run: /usr/bin/python3 reference/models_reference.py   (torch 1.13, CPU)
"""
import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'parity', 'models')


# ---------------- OpenAI CLIP architecture (clip/model.py) ----------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(OrderedDict([
                ('-1', nn.AvgPool2d(stride)),
                ('0', nn.Conv2d(inplanes, planes * 4, 1, stride=1, bias=False)),
                ('1', nn.BatchNorm2d(planes * 4))]))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.avgpool(out)
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x, before_c_proj=False):
        x = x.flatten(start_dim=2).permute(2, 0, 1)
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
        x = x + self.positional_embedding[:, None, :]
        c = x.shape[-1]
        out_w = torch.eye(c) if before_c_proj else self.c_proj.weight
        out_b = torch.zeros(c) if before_c_proj else self.c_proj.bias
        x, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x, embed_dim_to_check=c, num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
            in_proj_weight=None, in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0, out_proj_weight=out_w, out_proj_bias=out_b,
            use_separate_proj_weight=True, training=self.training, need_weights=False)
        return x.squeeze(0)


class ModifiedResNet(nn.Module):
    def __init__(self, layers, output_dim, heads, input_resolution, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * 4
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        tokens = x.flatten(start_dim=2).permute(0, 2, 1)
        return self.attnpool(x), self.attnpool(x, before_c_proj=True), tokens


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ('c_fc', nn.Linear(d_model, d_model * 4)), ('gelu', QuickGELU()), ('c_proj', nn.Linear(d_model * 4, d_model))]))
        self.ln_2 = nn.LayerNorm(d_model)
        self.attn_mask = attn_mask

    def forward(self, x):
        x = x + self.attn(self.ln_1(x), self.ln_1(x), self.ln_1(x), need_weights=False, attn_mask=self.attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.width = width
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1])
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        tokens = x[:, 1:, :]
        feature = self.ln_post(x[:, 0, :])
        return feature @ self.proj, feature, tokens


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                 context_length, vocab_size, transformer_width, transformer_heads, transformer_layers):
        super().__init__()
        if isinstance(vision_layers, (tuple, list)):
            self.visual = ModifiedResNet(vision_layers, embed_dim, vision_width * 32 // 64, image_resolution, vision_width)
        else:
            self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width, vision_layers,
                                            vision_width // 64, embed_dim)
        mask = torch.empty(context_length, context_length).fill_(float('-inf')).triu_(1)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads, mask)
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = nn.LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))

    def encode_text(self, text):
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        words = self.ln_final(x)
        return words[torch.arange(words.shape[0]), text.argmax(dim=-1)] @ self.text_projection, words


# ---------------- safetensors, written by hand (8-byte LE header length + JSON header + raw LE data) ----------------
DTYPES = {np.dtype('float32'): 'F32', np.dtype('float16'): 'F16', np.dtype('int64'): 'I64', np.dtype('int32'): 'I32'}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        raw = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DTYPES[arr.dtype], 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)  # pad so the data starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def sine(shape):
    n = int(np.prod(shape))
    return torch.sin(0.1 * torch.arange(n, dtype=torch.float64)).float().reshape(shape)


def build(name, seed, image_resolution, vision_layers, vision_width, vision_patch_size, text, batch, grads_for=('',)):
    torch.manual_seed(seed)
    model = CLIP(embed_dim=64, image_resolution=image_resolution, vision_layers=vision_layers, vision_width=vision_width,
                 vision_patch_size=vision_patch_size, **text)
    # Randomise every float tensor (including LN/BN affine and BN running stats) so nothing is trivially 0/1, then
    # round to float16-representable values: the F16 file then holds exactly the weights used here.
    with torch.no_grad():
        for pname, p in list(model.named_parameters()) + list(model.named_buffers()):
            if pname.endswith('num_batches_tracked'):
                p.fill_(7)
                continue
            if p.dtype != torch.float32 or pname.startswith('transformer.resblocks.0.attn_mask'):
                continue
            if pname.endswith('running_var') or (pname.endswith('.weight') and ('ln_' in pname or '.bn' in pname or 'downsample.1' in pname)):
                p.copy_(1 + 0.2 * torch.rand_like(p))
            elif pname.endswith('running_mean') or pname.endswith('.bias'):
                p.copy_(0.1 * torch.randn_like(p))
            elif pname == 'logit_scale':
                p.fill_(math.log(1 / 0.07))
            else:
                fan = p.shape[-1] if p.dim() == 2 else (p[0].numel() if p.dim() == 4 else p.shape[-1])
                p.copy_(torch.randn_like(p) * fan ** -0.5)
            p.copy_(p.half().float())
    state = model.state_dict()
    weights = OrderedDict()
    for k, v in state.items():
        if k.endswith('attn_mask'):
            continue
        weights[k] = v.numpy().astype(np.int64) if k.endswith('num_batches_tracked') else v.numpy().astype(np.float16)
    write_safetensors(os.path.join(OUT, f'{name}.safetensors'), weights)

    g = torch.Generator().manual_seed(seed + 1)
    images = (torch.randn(batch, 3, image_resolution, image_resolution, generator=g)).half().float()
    ctx, vocab = text['context_length'], text['vocab_size']
    ids = torch.zeros(batch, ctx, dtype=torch.long)
    for i in range(batch):
        n = 2 + i % (ctx - 2)
        ids[i, 0] = vocab - 2  # SOT
        ids[i, 1:n] = torch.randint(1, vocab - 2, (n - 1,), generator=g)
        ids[i, n] = vocab - 1  # EOT = the largest id
    io = OrderedDict()
    io['images'] = images.permute(0, 2, 3, 1).numpy().astype(np.float16)
    io['ids'] = ids.numpy().astype(np.int32)

    model.eval()
    with torch.no_grad():
        emb, feat, tok = model.visual(images)
        temb, words = model.encode_text(ids)
    io['image_embedding'], io['image_feature'], io['image_tokens'] = emb.numpy(), feat.numpy(), tok.numpy()
    io['text_embedding'], io['word_features'] = temb.numpy(), words.numpy()
    # DeCLIP's text projection is nn.Linear(width, embed) with bias: same matrix (transposed) plus a bias
    declip_bias = (0.1 * torch.randn(temb.shape[1], generator=g)).half().float()
    pooled = words[torch.arange(batch), ids.argmax(dim=-1)]
    io['declip.text_projection.bias'] = declip_bias.numpy().astype(np.float16)
    io['declip.text_embedding'] = F.linear(pooled, model.text_projection.detach().t(), declip_bias).numpy()

    model.train()
    emb, _, tok = model.visual(images)
    temb, words = model.encode_text(ids)
    u = emb / emb.norm(dim=-1, keepdim=True)
    v = temb / temb.norm(dim=-1, keepdim=True)
    logits = model.logit_scale.exp() * u @ v.t()
    labels = torch.arange(batch)
    loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
    loss = loss + (tok * sine(tok.shape)).mean() + (words * sine(words.shape)).mean()
    loss.backward()
    io['loss'] = np.array(loss.item(), dtype=np.float32).reshape([])
    for pname, p in model.named_parameters():
        if pname.startswith(grads_for):
            io[f'grad.{pname}'] = p.grad.numpy().astype(np.float32)
    for bname, b in model.named_buffers():
        if bname.endswith('running_mean') or bname.endswith('running_var'):
            io[f'after.{bname}'] = b.numpy().astype(np.float32)
    write_safetensors(os.path.join(OUT, f'{name}-io.safetensors'), io)
    print(name, 'params', sum(p.numel() for p in model.parameters()), 'loss', loss.item())


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    # ViT: 32 px, patch 8, width 64 (OpenAI head rule: width / 64 = 1), 2 layers; text: 1 layer, width 64, ctx 16
    build('vit', 11, 32, 2, 64, 8,
          dict(context_length=16, vocab_size=128, transformer_width=64, transformer_heads=1, transformer_layers=1), batch=4)
    # ModifiedResNet: 64 px, one bottleneck per stage, width 4 (attention pool 128-d with 4*32/64 = 2 heads)
    build('rn', 12, 64, (1, 1, 1, 1), 4, None,
          dict(context_length=8, vocab_size=64, transformer_width=64, transformer_heads=1, transformer_layers=1), batch=4,
          grads_for=('visual.', 'logit_scale'))  # the text tower's gradients are covered by the ViT model (keeps < 2 MB)
