/**
 * A pino destination for tests that keeps each log line as one string. Audit lines arrive several to a
 * write (the audit sink writes a batch at once), so writes are split into their lines here.
 *
 * @module
 */
export function lineCollector(lines: string[]): { write(s: string): void } {
  return {
    write(s: string) {
      for (const line of s.split('\n')) if (line !== '') lines.push(`${line}\n`);
    },
  };
}
