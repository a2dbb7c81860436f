/**
 * The policy engine: holds the current compiled policy and evaluates the `decision` and `visible` entrypoints.
 * A new bundle is compiled and checked completely before one reference assignment swaps it in; evaluation is
 * synchronous, so every decision sees exactly one whole revision. Every failure — no policy, an evaluation
 * that throws, a result that does not match the schema — is a deny with the cause in the reasons and the log.
 *
 * @module
 */
import type { ComponentState } from '../lifecycle.js';
import type { Bundle } from './bundle.js';
import {
  cachedDecision,
  type Decision,
  denyDecision,
  PolicyResultSchema,
  resultIssue,
  unknownObligations,
} from './decision.js';
import { cacheKey, cachePlan, DecisionCache, deepFreeze, probeInput, sameResult } from './decision-cache.js';
import type { PolicyEngineOptions, PolicyStatus } from './engine-options.js';
import {
  errorText,
  firstResult,
  undefinedResult,
  type VisibleFailure,
  visibleResult,
} from './eval-errors.js';
import type { PolicyInput } from './input.js';
import { inputJson } from './input-json.js';
import { instantiate } from './instantiate.js';
import { WarnOnce } from './warn-once.js';
import type { WasmCall } from './wasm-call.js';

export type { PolicyEngineOptions, PolicyStatus } from './engine-options.js';

interface Loaded {
  /** Evaluates an entrypoint of the loaded policy on input JSON (wasm-call.ts). */
  readonly call: WasmCall;
  readonly revision: string;
  readonly source: string;
  readonly decisionId: number;
  readonly visibleId: number;
  readonly loadedAt: Date;
  /** Set to null for good when a result turns out to depend on what the key leaves out. */
  decisions: DecisionCache<Decision> | null;
  /** Time, request id and the clock fields the policy never names: left out of cache keys. */
  readonly unused: ReadonlySet<string>;
  visibility: DecisionCache<boolean> | null;
  /** Unknown obligations and `visible` failures, said once each per revision. */
  readonly warned: WarnOnce;
}

export class PolicyEngine {
  #current: Loaded | undefined;
  #lastError: string | null = null;
  #reloads = { ok: 0, failed: 0 };
  #cacheHits = 0;
  #cacheMisses = 0;
  readonly #opts: PolicyEngineOptions;

  constructor(opts: PolicyEngineOptions) {
    this.#opts = opts;
  }

  /** The loaded revision, or null. */
  get revision(): string | null {
    return this.#current?.revision ?? null;
  }

  /**
   * Compiles `bundle`, sets its data, checks both entrypoints, then swaps it in. On failure the previous
   * policy stays, the error is recorded for `status()`, and the error is rethrown.
   */
  async load(bundle: Bundle): Promise<void> {
    try {
      const { call, decisionId, visibleId } = await instantiate(
        bundle,
        this.#opts.decisionEntrypoint,
        this.#opts.visibleEntrypoint,
      );
      const previous = this.#current?.revision ?? null;
      const cache = cachePlan(bundle, this.#opts.cache);
      this.#current = {
        call,
        revision: bundle.revision,
        source: bundle.source,
        decisionId,
        visibleId,
        loadedAt: new Date(),
        decisions: cache.on ? new DecisionCache(cache.maxEntries) : null,
        visibility: cache.on ? new DecisionCache(cache.maxEntries) : null,
        unused: cache.unused,
        warned: new WarnOnce(this.#opts.logger, bundle.revision),
      };
      this.#lastError = null;
      this.#reloads.ok++;
      this.#opts.logger.info(
        { revision: bundle.revision, previous, source: bundle.source, decisionCache: cache.state },
        'policy loaded',
      );
      this.#opts.onLoad?.('success', bundle);
    } catch (err) {
      this.#reloads.failed++;
      this.#lastError = errorText(err);
      const { source, revision } = bundle;
      const kept = this.#current?.revision ?? null;
      this.#opts.logger.error(
        { source, revision, kept, err: this.#lastError },
        kept
          ? 'policy bundle rejected; keeping the last good policy'
          : 'policy bundle rejected; no policy is loaded, every request is denied',
      );
      this.#opts.onLoad?.('failure', bundle);
      throw err instanceof Error ? err : new Error(this.#lastError);
    }
  }

  /**
   * Records a failure that happened before a bundle could be read (missing file, bad tarball); `warn` for one
   * the caller has already made up for (a kept copy of the bundle loaded instead).
   */
  recordFailure(err: unknown, source: string, level: 'error' | 'warn' = 'error'): void {
    this.#reloads.failed++;
    this.#lastError = errorText(err);
    this.#opts.logger[level](
      { source, kept: this.#current?.revision ?? null, err: this.#lastError },
      this.#current
        ? 'policy bundle could not be read; keeping the last good policy'
        : 'policy bundle could not be read; no policy is loaded, every request is denied',
    );
    this.#opts.onLoad?.('failure', null);
  }

  /**
   * Shows in `status()` again a failure already recorded (and logged, and counted) that a later load hid:
   * the bundle URL's failure at start, once its kept copy is loaded. Nothing happens while no policy is loaded.
   */
  showFailure(text: string): void {
    if (this.#current) this.#lastError = text;
  }

  /** Decides one action. Never throws: every failure is a deny. */
  decide(input: PolicyInput): Decision {
    const cur = this.#current;
    if (!cur) return denyDecision('no policy is loaded; all requests are denied', 'no_policy', null);
    const t0 = process.hrtime.bigint();
    const key = cur.decisions ? cacheKey(input, cur.unused) : undefined;
    if (key !== undefined) {
      const hit = cur.decisions?.get(key);
      if (hit) {
        this.#cacheHits++;
        return cachedDecision(hit, Number(process.hrtime.bigint() - t0));
      }
      this.#cacheMisses++;
    }
    const decision = this.#evaluate(cur, input, t0);
    // Kept only if the fields the key leaves out make no difference to this input's result.
    if (key !== undefined && decision.failure === undefined) {
      const probe = probeInput(input, cur.unused);
      const again = probe && this.#evaluate(cur, probe, t0);
      if (again && sameResult(decision, again)) cur.decisions?.keep(input, key, deepFreeze({ ...decision }));
      else this.#stopCaching(cur);
    }
    return decision;
  }

  /** Whether a list item is visible to the caller; false on any failure. */
  visible(input: PolicyInput): boolean {
    const cur = this.#current;
    if (!cur) return false;
    const key = cur.visibility ? cacheKey(input, cur.unused) : undefined;
    if (key !== undefined) {
      const hit = cur.visibility?.get(key);
      if (hit !== undefined) {
        this.#cacheHits++;
        return hit;
      }
      this.#cacheMisses++;
    }
    const visible = this.#evaluateVisible(cur, input);
    if (key !== undefined && visible !== undefined) {
      const probe = probeInput(input, cur.unused);
      if (probe && this.#evaluateVisible(cur, probe) === visible) cur.visibility?.keep(input, key, visible);
      else this.#stopCaching(cur);
    }
    return visible ?? false;
  }

  /** `visible` evaluated without the cache, with what failed (`policy eval --visible`). */
  visibleExplained(input: PolicyInput): { visible: boolean; failure?: VisibleFailure } {
    const cur = this.#current;
    if (!cur) return { visible: false, failure: { kind: 'no_policy', detail: 'no policy loaded' } };
    const r = tryVisible(cur, input, this.#opts.visibleEntrypoint);
    return typeof r === 'boolean' ? { visible: r } : { visible: false, failure: r };
  }

  /** One evaluation of `decision`, checked against the schema; every failure is a deny. */
  #evaluate(cur: Loaded, input: PolicyInput, t0: bigint): Decision {
    let raw: unknown;
    try {
      raw = cur.call(inputJson(input), cur.decisionId);
    } catch (err) {
      const evalNs = Number(process.hrtime.bigint() - t0);
      const detail = errorText(err);
      // Once per revision and detail: a policy that throws on crafted input must not let callers flood the log.
      cur.warned.say('evaluation', detail, { err: detail });
      return denyDecision('policy evaluation failed', 'evaluation_error', cur.revision, evalNs, detail);
    }
    const result = firstResult(raw);
    const parsed = PolicyResultSchema.safeParse(result);
    const evalNs = Number(process.hrtime.bigint() - t0);
    if (!parsed.success) {
      const issue =
        result === undefined
          ? undefinedResult(this.#opts.decisionEntrypoint)
          : resultIssue(parsed.error.issues);
      this.#opts.logger.error({ revision: cur.revision, issue }, 'policy returned a malformed decision');
      return denyDecision(
        'policy returned a malformed decision',
        'invalid_result',
        cur.revision,
        evalNs,
        issue,
      );
    }
    const r = parsed.data;
    for (const w of unknownObligations(r.obligations)) cur.warned.say('obligation', w);
    const reasons = r.allow ? r.reasons : r.reasons.length ? r.reasons : ['denied by policy'];
    return {
      allow: r.allow,
      reasons,
      obligations: r.obligations,
      sensitivity: r.sensitivity,
      ...(r.required_scopes?.length ? { requiredScopes: r.required_scopes } : {}),
      revision: cur.revision,
      evalNs,
    };
  }

  /** One evaluation of `visible`; undefined when it failed (logged). */
  #evaluateVisible(cur: Loaded, input: PolicyInput): boolean | undefined {
    const r = tryVisible(cur, input, this.#opts.visibleEntrypoint);
    if (typeof r === 'boolean') return r;
    // A broken contract (no default) or a throw fails alike for every item: said once per revision and reason.
    cur.warned.say('visible', `${r.kind}: ${r.detail}`, { err: r.detail });
    return r.kind === 'invalid_result' ? false : undefined;
  }

  /** A result changed with context.time or context.request_id: this revision is evaluated every time. */
  #stopCaching(cur: Loaded): void {
    if (!cur.decisions && !cur.visibility) return;
    cur.decisions = null;
    cur.visibility = null;
    this.#opts.logger.warn(
      { revision: cur.revision },
      'policy results depend on context.time or context.request_id; decision cache off for this revision',
    );
  }

  #cacheStatus(entries: number) {
    return { entries, hits: this.#cacheHits, misses: this.#cacheMisses };
  }

  status(): PolicyStatus {
    const cur = this.#current;
    const failing = this.#lastError !== null;
    const state: ComponentState = cur ? (failing ? 'warn' : 'ok') : failing ? 'error' : 'not_ready';
    return {
      state,
      revision: cur?.revision ?? null,
      source: cur?.source ?? null,
      loadedAt: cur?.loadedAt.toISOString() ?? null,
      lastError: this.#lastError,
      reloads: { ...this.#reloads },
      decisionCache: cur?.decisions
        ? this.#cacheStatus(cur.decisions.size + (cur.visibility?.size ?? 0))
        : null,
    };
  }
}

/** One evaluation of `visible`: its boolean, or what failed (it threw, or broke the contract). */
function tryVisible(cur: Loaded, input: PolicyInput, entrypoint: string): boolean | VisibleFailure {
  try {
    return visibleResult(firstResult(cur.call(inputJson(input), cur.visibleId)), entrypoint);
  } catch (err) {
    return { kind: 'evaluation_error', detail: errorText(err) };
  }
}
