/**
 * The policy engine's options and the status it reports (`engine.ts`).
 *
 * @module
 */
import type { ComponentState } from '../lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import type { Bundle } from './bundle.js';
import type { DecisionCacheOptions } from './decision-cache.js';

export interface PolicyStatus {
  readonly state: ComponentState;
  readonly revision: string | null;
  readonly source: string | null;
  readonly loadedAt: string | null;
  readonly lastError: string | null;
  readonly reloads: { readonly ok: number; readonly failed: number };
  /** Null when the loaded revision is evaluated on every request (cache off, or not cacheable). */
  readonly decisionCache: { readonly entries: number; readonly hits: number; readonly misses: number } | null;
}

export interface PolicyEngineOptions {
  readonly decisionEntrypoint: string;
  readonly visibleEntrypoint: string;
  readonly logger: Logger;
  /** Told about every load attempt (metrics: reloads by result, the loaded revision, catalog tool names). */
  readonly onLoad?: (result: 'success' | 'failure', bundle: Bundle | null) => void;
  /** Results cached per revision (decision-cache.ts); off when absent. */
  readonly cache?: DecisionCacheOptions;
}
