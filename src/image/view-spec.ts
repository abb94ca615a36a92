// Image views as data: a view spec is a JSON-serialisable list of torchvision-style ops applied in order
// to an RGB image, ending in a float32 HWC array (ToTensor semantics: value/255, then normalize if present).
// The meaning of every op is torchvision 0.14 on PIL images (see reference/augment_reference.py).

export type Triple = [number, number, number];

export type ViewOp =
  /** torchvision RandomResizedCrop(size, scale, ratio), bilinear. */
  | { op: 'randomResizedCrop'; size: number; scale: [number, number]; ratio: [number, number] }
  /**
   * torchvision Resize(size) with an int: the shorter side becomes `size`, the longer int(size*long/short), bilinear.
   */
  | { op: 'resizeShorter'; size: number }
  /** torchvision CenterCrop(size) (zero-padded when the image is smaller). */
  | { op: 'centerCrop'; size: number }
  /** RandomHorizontalFlip(p). */
  | { op: 'horizontalFlip'; p: number }
  /** RandomApply([ColorJitter(brightness, contrast, saturation, hue)], p): factors and order drawn like torchvision. */
  | { op: 'colorJitter'; brightness: number; contrast: number; saturation: number; hue: number; p: number }
  /** RandomGrayscale(p), three output channels. */
  | { op: 'grayscale'; p: number }
  /** MoCo v2's RandomApply([GaussianBlur(sigma ~ U[sigmaMin, sigmaMax])], p): PIL's GaussianBlur(radius=sigma). */
  | { op: 'gaussianBlur'; sigmaMin: number; sigmaMax: number; p: number }
  /** ToTensor + Normalize(mean, std); must be the last op. */
  | { op: 'normalize'; mean: Triple; std: Triple };

export interface ViewSpec {
  /** Output side length in pixels (views are square). */
  size: number;
  ops: ViewOp[];
}

/** One decoded, augmented view: float32 HWC (RGB), normalised when the spec ends in `normalize`. */
export interface ImageView {
  data: Float32Array;
  height: number;
  width: number;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isProb = (x: unknown) => isNum(x) && x >= 0 && x <= 1;
const isSize = (x: unknown) => isNum(x) && Number.isInteger(x) && x >= 1 && x <= 16384;
const isPair = (x: unknown): x is [number, number] =>
  Array.isArray(x) && x.length === 2 && isNum(x[0]) && isNum(x[1]) && x[0] <= x[1];
const isTriple = (x: unknown): x is Triple => Array.isArray(x) && x.length === 3 && x.every(isNum);

/** Throw a one-line error naming the first problem in `spec`; returns the spec typed. */
export function validateViewSpec(spec: unknown): ViewSpec {
  const fail = (msg: string): never => {
    throw new Error(`invalid view spec: ${msg}`);
  };
  if (typeof spec !== 'object' || spec === null) fail('expected an object { size, ops }');
  const s = spec as { size?: unknown; ops?: unknown };
  if (!isSize(s.size)) fail(`size must be an integer in [1, 16384], got ${JSON.stringify(s.size)}`);
  if (!Array.isArray(s.ops)) fail('ops must be an array');
  const ops = s.ops as Array<Record<string, unknown>>;
  let outputSize: number | undefined;
  ops.forEach((op, i) => {
    const where = `ops[${i}] (${JSON.stringify(op?.op)})`;
    if (typeof op !== 'object' || op === null) fail(`${where} is not an object`);
    switch (op.op) {
      case 'randomResizedCrop':
        if (!isSize(op.size)) fail(`${where}: size must be a positive integer`);
        if (!isPair(op.scale) || op.scale[0] <= 0 || op.scale[1] > 1)
          fail(`${where}: scale must be [lo, hi] with 0 < lo <= hi <= 1`);
        if (!isPair(op.ratio) || op.ratio[0] <= 0) fail(`${where}: ratio must be [lo, hi] with 0 < lo <= hi`);
        outputSize = op.size as number;
        break;
      case 'resizeShorter':
        if (!isSize(op.size)) fail(`${where}: size must be a positive integer`);
        outputSize = undefined;
        break;
      case 'centerCrop':
        if (!isSize(op.size)) fail(`${where}: size must be a positive integer`);
        outputSize = op.size as number;
        break;
      case 'horizontalFlip':
      case 'grayscale':
        if (!isProb(op.p)) fail(`${where}: p must be in [0, 1]`);
        break;
      case 'colorJitter':
        for (const k of ['brightness', 'contrast', 'saturation'] as const)
          if (!(isNum(op[k]) && op[k] >= 0)) fail(`${where}: ${k} must be >= 0`);
        if (!(isNum(op.hue) && op.hue >= 0 && op.hue <= 0.5)) fail(`${where}: hue must be in [0, 0.5]`);
        if (!isProb(op.p)) fail(`${where}: p must be in [0, 1]`);
        break;
      case 'gaussianBlur':
        if (!(isNum(op.sigmaMin) && isNum(op.sigmaMax) && op.sigmaMin > 0 && op.sigmaMin <= op.sigmaMax))
          fail(`${where}: need 0 < sigmaMin <= sigmaMax`);
        if (!isProb(op.p)) fail(`${where}: p must be in [0, 1]`);
        break;
      case 'normalize':
        if (i !== ops.length - 1) fail(`${where}: normalize must be the last op`);
        if (!isTriple(op.mean) || !isTriple(op.std) || !(op.std as Triple).every((x) => x > 0))
          fail(`${where}: mean and std must be 3 numbers, std > 0`);
        break;
      default:
        fail(`${where}: unknown op`);
    }
  });
  if (outputSize !== s.size)
    fail(
      `the ops produce ${outputSize ?? 'a non-square / unsized'} image but size is ${s.size as number} (end ` +
        `with randomResizedCrop or centerCrop of that size)`,
    );
  return spec as ViewSpec;
}
