// How a training run ends early: TrainingHalt (a non-finite or diverging loss under policy 'stop', or a failure that
// names the step) and RollbackRequest (policy 'rollback': the runner reloads the last checkpoint with a lower lr).
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
