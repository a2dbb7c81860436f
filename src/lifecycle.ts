/**
 * The contract every long-lived part shares (STYLE R11): the policy, the JWKS cache, the store and the
 * telemetry SDK are started in order by `main.ts`, stopped in reverse, and report a state that the
 * readiness endpoint aggregates.
 *
 * @module
 */

export type ComponentState = 'not_ready' | 'ok' | 'warn' | 'error';

export interface ComponentStatus {
  readonly state: ComponentState;
  /** Human-readable detail for `/readyz` (never secrets). */
  readonly detail?: string;
  readonly [extra: string]: unknown;
}

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ComponentStatus;
}
