/**
 * Bucket keys by scope: `subject` (`subject:<tenant>/<subject>`), `subject_tool`
 * (`subject_tool:<tenant>/<subject>/<tool>`) or `tenant` (`tenant:<tenant>`). Every part is
 * percent-encoded (`encodePart`), so `/` inside a tenant, subject or tool cannot make two callers share a
 * bucket. A missing tenant and an anonymous caller encode as the empty part: all anonymous callers of a
 * tenant share one bucket. {@link limitedKey} adds the bucket's limit to a key.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import { encodePart } from '../store/key-parts.js';
import type { BucketSpec } from './types.js';

export type BucketScope = 'subject' | 'subject_tool' | 'tenant';

export const BUCKET_SCOPES: readonly BucketScope[] = ['subject', 'subject_tool', 'tenant'];

export function bucketKey(scope: BucketScope, p: Principal, tool: string): string {
  const tenant = encodePart(p.tenant);
  switch (scope) {
    case 'tenant':
      return `tenant:${tenant}`;
    case 'subject':
      return `subject:${tenant}/${encodePart(p.id)}`;
    case 'subject_tool':
      return `subject_tool:${tenant}/${encodePart(p.id)}/${encodePart(tool)}`;
  }
}

/**
 * A bucket is one key and one limit: a bucket refills at the rate of the call taking from it, so calls with
 * different limits sharing one (a generous tier's notifications, a policy's strict limit for one URI under
 * the `resources/read` group or for one tool under the `subject` scope) would refill it at the generous
 * rate for the strict ones: the limit is part of the key.
 */
export function limitedKey(key: string, spec: BucketSpec): string {
  return `${key}#${spec.capacity}/${spec.refillPerSecond}`;
}
