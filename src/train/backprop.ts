// tf.variableGrads with a memory-frugal backward pass. tfjs 4.22's engine keeps EVERY intermediate gradient (dy of
// every activation) and every tensor saved for backward alive until the whole backward pass ends, so its peak is
// params + activations + all activation gradients + parameter gradients. For ViT-B/32 + the 12x512 text tower at batch
// 8 that exceeds the 4 GB wasm32 heap (malloc fails and the process hangs or aborts). Here, as in PyTorch's autograd,
// a node's output gradients and its saved tensors are disposed as soon as that node has been back-propagated.
// Same tape, same gradient functions, same order of operations as tfjs: the results are identical.
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
}

/** The nodes on a path from xs to y, with inputs pruned to those that depend on xs (tfjs getFilteredNodesXToY). */
function filteredTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const input of Object.values(node.inputs)) {
      if (fromX.has(input.id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const input of Object.values(node.inputs)) toY.add(input.id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, input] of Object.entries(node.inputs)) if (fromX.has(input.id)) inputs[name] = input;
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * Like tf.variableGrads(f, varList): the value of f (a scalar) and the gradient of every variable it depends on, by
 * variable name. Must not be nested inside another gradient computation.
 */
export function variableGradsFrugal(
  f: () => tf.Scalar,
  varList: tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const engine = tf.engine() as unknown as EngineInternals;
  const xs = trainableOf(engine, varList);
  const y = taped(engine, null, () => engine.tidy('forward', f));
  return backward(engine, engine.state.activeTape!, y, xs);
}

/**
 * variableGradsFrugal for a loss computed in two taped halves with asynchronous, untaped work between them: the
 * data-parallel step records the forward pass, reads the features and all-gathers them over MPI (awaits), then
 * records the loss on the gathered features. `forward` returns tensors that `finish` uses (kept until the caller
 * disposes them); nothing between the halves is recorded, so tensors other code makes meanwhile are not affected.
 */
export async function variableGradsAcrossAwait<F extends Record<string, tf.Tensor>, X>(
  forward: () => F,
  between: (out: F) => Promise<X>,
  finish: (out: F, x: X) => tf.Scalar,
  varList: tf.Variable[],
): Promise<{ value: tf.Scalar; grads: Record<string, tf.Tensor>; forward: F }> {
  const engine = tf.engine() as unknown as EngineInternals;
  const xs = trainableOf(engine, varList);
  const out = taped(engine, null, () => engine.tidy('forward', forward));
  const tape = engine.state.activeTape!;
  engine.state.activeTape = null;
  let x: X;
  try {
    x = await between(out);
  } catch (err) {
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    throw err;
  }
  if (engine.state.gradientDepth !== 0)
    throw new Error('variableGradsAcrossAwait: another gradient computation started while awaiting');
  const y = taped(engine, tape, () => engine.tidy('forward', () => finish(out, x)));
  return { ...backward(engine, tape, y, xs), forward: out };
}

function trainableOf(engine: EngineInternals, varList: tf.Variable[]): tf.Variable[] {
  if (engine.state.gradientDepth !== 0)
    throw new Error('variableGradsFrugal: nested gradient computations are not supported');
  const xs = varList.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error('variableGradsFrugal: no trainable variables in varList');
  return xs;
}

/** Run f with the tape on: a fresh tape, or (continue) recording onto an existing one. */
function taped<T>(engine: EngineInternals, continueTape: TapeNode[] | null, f: () => T): T {
  return engine.scopedRun(
    () => {
      if (continueTape) {
        engine.state.gradientDepth++;
        engine.state.activeTape = continueTape;
      } else engine.startTape();
    },
    () => engine.endTape(),
    f,
  );
}

function backward(
  engine: EngineInternals,
  tape: TapeNode[],
  y: unknown,
  xs: tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error('variableGradsFrugal: f must return a scalar tensor');
  const nodes = filteredTape(tape, xs, y);
  const xIds = new Set(xs.map((x) => x.id));
  const result = engine.tidy('backward', () => {
    // accumulated gradient by tensor id; `uses` counts how many entries hold each gradient tensor (a gradient function
    // may hand back a tensor it was given), so nothing still referenced is disposed
    const acc = new Map<number, tf.Tensor>();
    const uses = new Map<number, number>();
    const hold = (id: number, g: tf.Tensor) => {
      acc.set(id, g);
      uses.set(g.id, (uses.get(g.id) ?? 0) + 1);
    };
    const release = (id: number): void => {
      const g = acc.get(id);
      if (!g) return;
      acc.delete(id);
      const n = (uses.get(g.id) ?? 1) - 1;
      if (n > 0) uses.set(g.id, n);
      else {
        uses.delete(g.id);
        g.dispose();
      }
    };
    hold(y.id, tf.onesLike(y));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      if (!node.gradient)
        throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const inputGradients = node.gradient(dys);
      for (const [name, x] of Object.entries(node.inputs)) {
        const gradOf = inputGradients[name];
        if (!gradOf)
          throw new Error(
            `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`,
          );
        const dx = engine.tidy(() => gradOf());
        if (dx.dtype !== 'float32')
          throw new Error(
            `Error in gradient for op ${node.kernelName}: the gradient of input ${name} must be float32, got ${dx.dtype}`,
          );
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(
            `Error in gradient for op ${node.kernelName}: gradient of input '${name}' has shape [${dx.shape}], input has [${x.shape}]`,
          );
        }
        if (!acc.has(x.id)) hold(x.id, dx);
        else {
          const sum = tf.add(acc.get(x.id)!, dx);
          release(x.id);
          hold(x.id, sum);
          if (!uses.has(dx.id)) dx.dispose();
        }
      }
      // this node is done: its output gradients and saved tensors are no longer needed
      for (const o of node.outputs) if (!xIds.has(o.id)) release(o.id);
      for (const t of node.saved ?? []) if (!uses.has(t.id)) t.dispose();
    }
    const grads: Record<string, tf.Tensor> = {};
    for (const x of xs) {
      const g = acc.get(x.id);
      if (g) grads[(x as tf.Variable).name] = g;
    }
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
    return { value: y as tf.Scalar, grads };
  });
  if (Object.keys(result.grads).length === 0) {
    result.value.dispose();
    throw new Error('Cannot find a connection between any variable and the result of the loss function y=f(x).');
  }
  return result;
}
