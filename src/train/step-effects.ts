// State changes a training step makes outside the parameters (the NN queue's enqueue) whose fate is known only when the
// step's verdict comes back: the trainer decides on the device whether the update is applied (a gate) and learns it
// on the host with the step's one read. Such a change registers here while the step runs; the trainer then settles
// every open effect with the verdict (applied or not) in the same turn as its read.
export interface StepEffect {
  /** Keep the change (applied = true) or undo it. May wait for reads issued during the step. */
  settle(applied: boolean): void | Promise<void>;
}

const open: StepEffect[] = [];
let depth = 0;

/** True while a trainer step is running (effects registered now are settled by it). */
export function insideStep(): boolean {
  return depth > 0;
}

/**
 * Register an effect of the running step; returns false outside a step. An effect registered outside a step is final
 * (it will be settled as applied by the next settleStepEffects, e.g. flushStepEffects()); callers that can apply it
 * at once do so instead of registering.
 */
export function recordStepEffect(effect: StepEffect): boolean {
  open.push(effect);
  return depth > 0;
}

/** Settle, as applied, effects registered outside a training step (state read back from the device, for getState). */
export async function flushStepEffects(): Promise<void> {
  if (depth > 0) throw new Error('flushStepEffects: inside a training step (the trainer settles its effects)');
  await settleStepEffects(true);
}

/** Run `fn` as a step's update phase: effects it registers stay open until settleStepEffects. */
export function withinStep<T>(fn: () => T): T {
  depth++;
  try {
    return fn();
  } finally {
    depth--;
  }
}

/** Settle (and forget) every open effect. */
export async function settleStepEffects(applied: boolean): Promise<void> {
  const list = open.splice(0);
  await Promise.all(list.map((e) => e.settle(applied)));
}
