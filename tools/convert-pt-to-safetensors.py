#!/usr/bin/env python3
"""Convert a PyTorch CLIP checkpoint (.pt) to safetensors for clip-bench (needs PyTorch; numpy).

  python3 tools/convert-pt-to-safetensors.py IN.pt OUT.safetensors [--dtype keep|f32|f16]

Accepts OpenAI's released .pt files (TorchScript archives: torch.jit.load(...).state_dict()), plain state dicts,
and training checkpoints that wrap the state dict under 'state_dict', 'model' or 'module' (DeCLIP saves
{'model': state_dict, ...} with DDP 'module.' prefixes). Names are written unchanged: clip-bench maps the
'module.' and DeCLIP 'encode_text.' prefixes itself (see src/weights/openai-names.ts). Non-tensor entries and
OpenAI's 'input_resolution' / 'context_length' / 'vocab_size' scalars are dropped. bfloat16 becomes float32
(numpy has no bfloat16). The safetensors file is written by hand: 8-byte LE header length + JSON header + data.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {np.dtype('float32'): 'F32', np.dtype('float16'): 'F16', np.dtype('float64'): 'F64',
          np.dtype('int64'): 'I64', np.dtype('int32'): 'I32', np.dtype('uint8'): 'U8', np.dtype('bool'): 'BOOL'}
DROP = {'input_resolution', 'context_length', 'vocab_size'}


def load_state_dict(path):
    try:
        return torch.jit.load(path, map_location='cpu').state_dict()
    except Exception:
        pass
    obj = torch.load(path, map_location='cpu')
    for key in ('state_dict', 'model', 'module'):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise SystemExit(f'{path}: not a state dict (got {type(obj).__name__})')
    return obj


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
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('input')
    ap.add_argument('output')
    ap.add_argument('--dtype', choices=['keep', 'f32', 'f16'], default='keep', help='floating-point storage type')
    args = ap.parse_args()
    sd = load_state_dict(args.input)
    out = {}
    for name, t in sd.items():
        if not torch.is_tensor(t) or name.split('.')[-1] in DROP and name.count('.') <= 1:
            continue
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        if t.is_floating_point() and args.dtype != 'keep':
            t = t.float() if args.dtype == 'f32' else t.half()
        out[name] = t.numpy()
    if not out:
        raise SystemExit(f'{args.input}: no tensors found')
    write_safetensors(args.output, out, {'format': 'pt', 'converted_from': args.input.split('/')[-1]})
    print(f'wrote {len(out)} tensors to {args.output}', file=sys.stderr)


if __name__ == '__main__':
    main()
