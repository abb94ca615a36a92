// How a training run ends early: TrainingHalt (a non-finite or diverging loss under policy 'stop', or a failure that
// names the step), RollbackRequest (policy 'rollback': the runner reloads the last checkpoint with a lower lr) and
// NoDataError (no usable sample).
export class TrainingHalt extends Error {
  readonly step: number;
  constructor(step: number, reason: string) {
    super(`training stopped: ${reason}`);
    this.name = 'TrainingHalt';
    this.step = step;
  }
}
export class RollbackRequest extends Error {
  readonly step: number;
  constructor(step: number, reason: string) {
    super(`rollback requested: ${reason}`);
    this.name = 'RollbackRequest';
    this.step = step;
  }
}
/** No usable training data: none given, none found, or none left after skipping unusable samples (exit code 3). */
export class NoDataError extends Error {
  readonly exitCode = 3;
  constructor(message: string) {
    super(message);
    this.name = 'NoDataError';
  }
}
