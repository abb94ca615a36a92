#!/usr/bin/python3
"""Parity fixtures for clip-bench's image views, made with torchvision 0.14 / Pillow 9.4 (Debian /usr/bin/python3).

Writes fixtures/parity/image/augment.json:
  input      a 64x48 RGB image (a Flickr8k photo resized with PIL), the input of every op case
  ops        one case per op with FIXED parameters (crop box, jitter factor, sigma, flip...), each with the
             torchvision output bytes (uint8 HWC) or, for normalize, float32 HWC
  pipelines  whole MoCo-v2 chains with fixed parameters in torchvision's order -> normalised float32
  photo      crops of a full-size Flickr8k JPEG (decoded by PIL) resized by F.resized_crop, to measure
             libvips-vs-PIL resampling on a real photo at realistic scale factors
  decode     PIL's decode of Flickr8k JPEGs (size, byte sum, 32x32 corner) to compare decoders
  rrc        RandomResizedCrop.get_params with torch's own draws recorded, so the TS sampler can replay them
Run: /usr/bin/python3 reference/augment_reference.py  (reads ../shared/data/flickr8k-1k)
"""
import base64, json, os, sys
import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
import torchvision.transforms.transforms as T
from torchvision.transforms import InterpolationMode
from PIL import Image, ImageFilter
import PIL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, '..', 'shared', 'data', 'flickr8k-1k', 'images')
OUT = os.path.join(ROOT, 'fixtures', 'parity', 'image', 'augment.json')
PHOTOS = ['1000268201_693b08cb0e.jpg', '1001773457_577c3a7d70.jpg']
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode('ascii')

def u8(img):
    a = np.asarray(img.convert('RGB'), dtype=np.uint8)
    return {'width': a.shape[1], 'height': a.shape[0], 'dtype': 'uint8', 'data': b64(a)}

def f32(t):  # CHW tensor -> HWC float32
    a = t.permute(1, 2, 0).contiguous().numpy().astype(np.float32)
    return {'width': a.shape[1], 'height': a.shape[0], 'dtype': 'float32', 'data': b64(a)}

def apply_step(img, s):
    k = s['kind']
    if k == 'resizedCrop':
        b = s['box']
        return F.resized_crop(img, b['top'], b['left'], b['height'], b['width'], [s['outHeight'], s['outWidth']], InterpolationMode.BILINEAR)
    if k == 'crop':
        b = s['box']
        return F.crop(img, b['top'], b['left'], b['height'], b['width'])
    if k == 'flip': return F.hflip(img)
    if k == 'brightness': return F.adjust_brightness(img, s['factor'])
    if k == 'contrast': return F.adjust_contrast(img, s['factor'])
    if k == 'saturation': return F.adjust_saturation(img, s['factor'])
    if k == 'hue': return F.adjust_hue(img, s['factor'])
    if k == 'grayscale': return F.rgb_to_grayscale(img, num_output_channels=3)
    if k == 'blur': return img.filter(ImageFilter.GaussianBlur(radius=s['sigma']))  # MoCo v2's GaussianBlur
    raise ValueError(k)

def run_steps(img, steps):
    norm = None
    for s in steps:
        if s['kind'] == 'normalize':
            norm = s
        else:
            img = apply_step(img, s)
    if norm is None:
        return u8(img)
    return f32(F.normalize(F.to_tensor(img), norm['mean'], norm['std']))

def main():
    photo0 = Image.open(os.path.join(SHARED, PHOTOS[0])).convert('RGB')
    base = photo0.resize((64, 48), Image.BILINEAR)
    fixture = {'versions': {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'pillow': PIL.__version__, 'numpy': np.__version__},
               'input': u8(base)}

    op_cases = []
    for f in [0.6, 0.8537, 1.0, 1.3791]: op_cases.append([{'kind': 'brightness', 'factor': f}])
    for f in [0.6, 0.9123, 1.4]: op_cases.append([{'kind': 'contrast', 'factor': f}])
    for f in [0.0, 0.6, 1.35]: op_cases.append([{'kind': 'saturation', 'factor': f}])
    for f in [-0.5, -0.1, -0.0371, 0.0, 0.0457, 0.1, 0.5]: op_cases.append([{'kind': 'hue', 'factor': f}])
    op_cases.append([{'kind': 'grayscale'}])
    for s in [0.1, 0.55, 1.0, 1.7, 2.0]: op_cases.append([{'kind': 'blur', 'sigma': s}])
    op_cases.append([{'kind': 'flip'}])
    op_cases.append([{'kind': 'crop', 'box': {'top': 5, 'left': 7, 'height': 30, 'width': 40}}])
    op_cases.append([{'kind': 'normalize', 'mean': MEAN, 'std': STD}])
    op_cases.append([{'kind': 'resizedCrop', 'box': {'top': 4, 'left': 10, 'height': 20, 'width': 24}, 'outWidth': 32, 'outHeight': 32}])  # upscale
    op_cases.append([{'kind': 'resizedCrop', 'box': {'top': 0, 'left': 3, 'height': 48, 'width': 60}, 'outWidth': 24, 'outHeight': 24}])  # downscale
    fixture['ops'] = [{'steps': st, 'output': run_steps(base, st)} for st in op_cases]

    # every colour op on uniformly random colours too (64x64 = 4096 colours, incl. grays and saturated extremes)
    rs = np.random.RandomState(0)
    noise = rs.randint(0, 256, size=(64, 64, 3), dtype=np.uint8)
    noise[0, :, :] = np.arange(64, dtype=np.uint8)[:, None] * 4  # a gray ramp
    noise[1, :, :] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]] * 16
    noise_img = Image.fromarray(noise, 'RGB')
    noise_cases = [[{'kind': 'hue', 'factor': f}] for f in [-0.5, -0.31, -0.1, -0.0021, 0.0, 0.017, 0.1, 0.25, 0.5]]
    noise_cases += [[{'kind': 'saturation', 'factor': f}] for f in [0.37, 1.9]]
    noise_cases += [[{'kind': 'contrast', 'factor': f}] for f in [0.45, 1.6]]
    noise_cases += [[{'kind': 'brightness', 'factor': 1.17}], [{'kind': 'grayscale'}], [{'kind': 'blur', 'sigma': 0.83}]]
    fixture['noise'] = {'input': u8(noise_img), 'ops': [{'steps': st, 'output': run_steps(noise_img, st)} for st in noise_cases]}

    # deterministic spec ops: Resize(40) + CenterCrop(32), CenterCrop larger than the image (zero padding)
    fixture['specs'] = [
        {'spec': {'size': 32, 'ops': [{'op': 'resizeShorter', 'size': 40}, {'op': 'centerCrop', 'size': 32}]},
         'output': u8(F.center_crop(F.resize(base, 40, InterpolationMode.BILINEAR), 32))},
        {'spec': {'size': 56, 'ops': [{'op': 'centerCrop', 'size': 56}]}, 'output': u8(F.center_crop(base, 56))},
        {'spec': {'size': 32, 'ops': [{'op': 'resizeShorter', 'size': 36}, {'op': 'centerCrop', 'size': 32},
                                       {'op': 'normalize', 'mean': MEAN, 'std': STD}]},
         'output': f32(F.normalize(F.to_tensor(F.center_crop(F.resize(base, 36, InterpolationMode.BILINEAR), 32)), MEAN, STD))},
    ]

    box = {'top': 6, 'left': 8, 'height': 40, 'width': 52}
    norm = {'kind': 'normalize', 'mean': MEAN, 'std': STD}
    pipelines = [
        [{'kind': 'resizedCrop', 'box': box, 'outWidth': 32, 'outHeight': 32}, {'kind': 'saturation', 'factor': 1.21},
         {'kind': 'brightness', 'factor': 0.77}, {'kind': 'hue', 'factor': -0.064}, {'kind': 'contrast', 'factor': 1.18},
         {'kind': 'blur', 'sigma': 1.31}, {'kind': 'flip'}, norm],
        [{'kind': 'resizedCrop', 'box': box, 'outWidth': 32, 'outHeight': 32}, {'kind': 'hue', 'factor': 0.093},
         {'kind': 'contrast', 'factor': 0.66}, {'kind': 'brightness', 'factor': 1.33}, {'kind': 'saturation', 'factor': 0.71},
         {'kind': 'grayscale'}, norm],
    ]
    fixture['pipelines'] = []
    for st in pipelines:
        # the same chain with the crop done by the test (so colour ops see identical pixels): from the crop's bytes
        cropped = apply_step(base, st[0])
        fixture['pipelines'].append({'steps': st, 'output': run_steps(base, st),
                                     'afterCrop': u8(cropped), 'outputFromCrop': run_steps(cropped, st[1:])})

    photo_cases = [
        {'box': {'top': 40, 'left': 90, 'height': 250, 'width': 300}, 'outWidth': 96, 'outHeight': 96},
        {'box': {'top': 100, 'left': 200, 'height': 90, 'width': 120}, 'outWidth': 96, 'outHeight': 96},
        {'box': {'top': 0, 'left': 0, 'height': photo0.height, 'width': photo0.width}, 'outWidth': 128, 'outHeight': 96},
    ]
    fixture['photo'] = {'file': PHOTOS[0], 'cases': [
        {'step': dict(kind='resizedCrop', **c), 'output': u8(apply_step(photo0, dict(kind='resizedCrop', **c)))} for c in photo_cases]}

    fixture['decode'] = []
    for name in PHOTOS:
        a = np.asarray(Image.open(os.path.join(SHARED, name)).convert('RGB'), dtype=np.uint8)
        fixture['decode'].append({'file': name, 'width': a.shape[1], 'height': a.shape[0], 'sum': int(a.astype(np.int64).sum()),
                                  'corner': b64(a[:32, :32])})

    # RandomResizedCrop.get_params with torch's draws recorded
    draws = []
    class Rec:
        def __init__(self, t): self.t = t
        def uniform_(self, a, b):
            self.t.uniform_(a, b); draws.append(['u', float(self.t)]); return self.t
    class TorchProxy:
        def __getattr__(self, name): return getattr(torch, name)
        def empty(self, *a, **k): return Rec(torch.empty(*a, **k))
        def randint(self, *a, **k):
            t = torch.randint(*a, **k); draws.append(['i', int(t)]); return t
    T.torch = TorchProxy()
    torch.manual_seed(0)
    rrc = []
    sizes = [(500, 375), (375, 500), (64, 48), (333, 500), (1000, 40), (40, 1000), (7, 5), (1, 1), (224, 224)]
    scales = [(0.08, 1.0), (0.2, 1.0), (0.5, 1.0), (0.9, 1.0)]
    ratios = [(3 / 4, 4 / 3), (0.5, 2.0)]
    for (w, h) in sizes:
        for scale in scales:
            for ratio in ratios:
                for rep in range(3):
                    draws.clear()
                    img = Image.new('RGB', (w, h))
                    i, j, hh, ww = T.RandomResizedCrop.get_params(img, list(scale), list(ratio))
                    rrc.append({'width': w, 'height': h, 'scale': list(scale), 'ratio': list(ratio), 'draws': list(draws),
                                'box': {'top': i, 'left': j, 'height': hh, 'width': ww}})
    fixture['rrc'] = rrc

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes): {len(fixture["ops"])} op cases, {len(rrc)} crop samplings')

if __name__ == '__main__':
    main()
