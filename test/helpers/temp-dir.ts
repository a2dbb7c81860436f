/**
 * Test helper: fresh folders under the OS temp dir that are removed when the test file is done, so a
 * test run leaves nothing behind (a CI runner or a developer machine runs the suite many times).
 *
 * The removal is an `afterAll` registered when this module is first imported, which happens while the
 * test file is collected; with vitest's default hook order (a stack) it runs after the file's own
 * `afterAll` hooks, so processes those hooks stop have let go of the folders by then.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder named `mcp-authz-<prefix>-XXXXXX`, removed after the test file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mcp-authz-${prefix}-`));
  made.push(dir);
  return dir;
}
