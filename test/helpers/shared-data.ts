// Resolve read-only reference data in ../shared (relative to the repo root) for tests.
// Tests never copy these files into the repo; they read them in place.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the shared data directory: <repo>/../shared. */
export const sharedRoot: string = fileURLToPath(new URL('../../../shared/', import.meta.url));

/**
 * Absolute path of `relPath` inside ../shared (e.g. 'data/cifar10-test'); throws a one-line error naming
 * the missing path when it does not exist.
 */
export function sharedData(relPath: string): string {
  const path = fileURLToPath(new URL(relPath.replace(/^\/+/, ''), new URL('../../../shared/', import.meta.url)));
  if (!existsSync(path)) {
    throw new Error(
      `shared test data missing: ${path} (tests expect the reference data next to the repo in ../shared)`,
    );
  }
  return path;
}

/** Whether `relPath` exists inside ../shared (for tests that skip when optional data is absent). */
export function hasSharedData(relPath: string): boolean {
  return existsSync(fileURLToPath(new URL(relPath.replace(/^\/+/, ''), new URL('../../../shared/', import.meta.url))));
}
