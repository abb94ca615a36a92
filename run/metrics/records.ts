// The records of a run's metrics, in the order a run writes them: `run` when a session starts, `step` after every
// step, `eval` after every evaluation, `rollback` when a non-finite loss rolled the run back, `end` when a session
// ends. metrics.jsonl holds one per line; pipelines/report.ts reads them back.

export interface RunStartRecord {
  type: 'run';
  time: string;
  name: string;
  /** The step this session starts after (0 = a fresh run). */
  startStep: number;
  /** The checkpoint this session resumed from. */
  resumedFrom?: string;
  backend: string;
  threads: number;
  model: string;
  supervision: string;
  batchSize: number;
  microBatchSize: number;
  ranks: number;
  /** optim.steps: the step this session stops at. */
  lastStep: number;
  parameters: number;
  shards: number;
}

export interface StepMetricsRecord {
  type: 'step';
  step: number;
  time: string;
  loss: number;
  parts: Record<string, number>;
  lr: number;
  gradNorm: number;
  logitScales: Record<string, number>;
  /** Samples of this step (all ranks). */
  samples: number;
  samplesPerSec: number;
  /** ms between the end of the previous step and this batch being ready. */
  dataWaitMs: number;
  computeMs: number;
  wallMs: number;
}

export interface EvalRecord {
  type: 'eval';
  /** The step evaluated (0 = the untrained model). */
  step: number;
  time: string;
  results: Record<string, number>;
}

export interface RollbackRecord {
  type: 'rollback';
  time: string;
  /** The step whose loss was not finite. */
  atStep: number;
  /** The checkpoint step the run went back to. */
  toStep: number;
  lrScale: number;
  reason: string;
}

export interface RunEndRecord {
  type: 'end';
  time: string;
  /** finished: optim.steps reached or the data ended; stopped: SIGINT/SIGTERM; failed: an error. */
  status: 'finished' | 'stopped' | 'failed';
  stoppedBy?: 'steps' | 'data' | 'signal';
  lastStep: number;
  error?: string;
  [key: string]: unknown;
}

export type MetricsRecord = RunStartRecord | StepMetricsRecord | EvalRecord | RollbackRecord | RunEndRecord;
