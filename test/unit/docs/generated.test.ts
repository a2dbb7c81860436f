import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  configJsonSchema,
  configurationMarkdown,
  errorsMarkdown,
  policyInputJsonSchema,
} from '../../../scripts/generate-docs.js';
import { ERROR_CODES } from '../../../src/errors/codes.js';
import { ROOT } from '../../helpers/policy.js';

const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const hint = 'run `npm run docs:generate` and commit the result';

describe('generated files are up to date', () => {
  it('schema/config.json matches the zod schema', () => {
    expect(read('schema/config.json'), hint).toBe(configJsonSchema());
  });

  it('schema/policy-input.json matches the zod schema of the policy input', () => {
    expect(read('schema/policy-input.json'), hint).toBe(policyInputJsonSchema());
  });

  it('docs/configuration.md matches the zod schema', () => {
    expect(read('docs/configuration.md'), hint).toBe(configurationMarkdown());
  });

  it('docs/errors.md lists exactly the error codes', () => {
    const doc = read('docs/errors.md');
    expect(doc, hint).toBe(errorsMarkdown(doc));
    const documented = [...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
