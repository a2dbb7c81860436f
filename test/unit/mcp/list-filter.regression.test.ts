/**
 * Regression tests: a `tools/list` result whose list is not an array, or that is not an object at all, is
 * emptied rather than passed through unfiltered; and a tool is judged on the annotations a call to it would
 * be decided on, so the list never shows a tool every call to which is denied.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/mcp/action.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { filterListResult, toolAnnotations } from '../../../src/mcp/list-filter.js';
import { readBundle } from '../../../src/policy/bundle.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { buildDecisionInput, buildVisibleInput } from '../../../src/policy/input.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { defaultPolicyBundle, TRUSTED_FACTS } from '../../helpers/policy.js';
import { principal } from '../../helpers/principal.js';

const nothingVisible = () => false;

describe('filterListResult (regressions)', () => {
  it('a tools/list result whose tools field is not an array is emptied, not passed through', () => {
    const result = { tools: { secret_admin: { description: 'drop all tables' } } };
    const out = filterListResult('tools/list', result, nothingVisible);
    expect(JSON.stringify(out.result)).not.toContain('secret_admin');
  });

  it('a non-object tools/list result is emptied, not passed through', () => {
    const out = filterListResult('tools/list', ['secret_admin'], nothingVisible);
    expect(JSON.stringify(out.result)).not.toContain('secret_admin');
  });
});

describe('tools/list with the default policy (regressions)', () => {
  it('hides an unannotated tool outside the catalog from a role whose every call to it is denied', async () => {
    const engine = new PolicyEngine({
      decisionEntrypoint: 'mcp/authz/decision',
      visibleEntrypoint: 'mcp/authz/visible',
      logger: silentLogger(),
    });
    await engine.load(await readBundle(await defaultPolicyBundle()));
    const user = principal({ roles: ['user'] });
    const listed = {
      tools: [
        { name: 'wipe_all' },
        { name: 'peek', annotations: { readOnlyHint: true, destructiveHint: false } },
      ],
    };
    const annotations = new AnnotationCache();
    annotations.learn(toolAnnotations(listed));
    const out = filterListResult('tools/list', listed, (item) =>
      engine.visible(
        buildVisibleInput(user, 'tools/list', item.kind, item.name, item.annotations, TRUSTED_FACTS),
      ),
    );
    expect((out.result as { tools: { name: string }[] }).tools.map((t) => t.name)).toEqual(['peek']);
    // What the list shows agrees with what a call is decided on.
    const call = (name: string) =>
      engine.decide(
        buildDecisionInput(
          user,
          classify('tools/call', 1, { name, arguments: {} }),
          annotations.get(name),
          TRUSTED_FACTS,
        ),
      ).allow;
    expect([call('wipe_all'), call('peek')]).toEqual([false, true]);
  });
});
