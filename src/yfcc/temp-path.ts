// Temporary files of the YFCC jobs: `<final path>.tmp-<pid>`, renamed into place when complete. The writer's process
// id in the name lets a later start tell a dead writer's leftovers (removed) from a live writer's file (kept).

export function tempPath(path: string, pid: number = process.pid): string {
  return `${path}.tmp-${pid}`;
}

/** The writer's process id of a temporary file name, or undefined when the name is not one. */
export function tempFileWriter(name: string): number | undefined {
  const m = /\.tmp-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
