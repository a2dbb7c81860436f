/**
 * The 2026-07-28 `subscriptions/listen` request: one long-lived POST whose reply is a stream of the
 * notifications the client opts in to (`params.notifications`). It replaces the Streamable HTTP GET stream
 * and `resources/subscribe`: a resource subscription (`notifications.resourceSubscriptions`, URIs) is
 * decided as a `resources/subscribe` of each URI would be, so nobody is told of changes to a resource the
 * policy keeps from them.
 *
 * @module
 */
import { isRecord } from './action.js';

export const LISTEN_METHOD = 'subscriptions/listen';

/** Resource URIs one `subscriptions/listen` may name: each costs a decision (as a batch's messages do). */
export const MAX_RESOURCE_SUBSCRIPTIONS = 100;

/**
 * One list of a `subscriptions/listen`'s `params.notifications` (`resourceSubscriptions`, `taskIds`): none
 * when it is absent, null when it is not a list of at most `max` non-empty strings. Undefined for any
 * other method.
 */
export function listenList(
  method: string,
  params: unknown,
  field: string,
  max = Number.POSITIVE_INFINITY,
): readonly string[] | null | undefined {
  if (method !== LISTEN_METHOD) return undefined;
  const filter = isRecord(params) && isRecord(params.notifications) ? params.notifications : undefined;
  const list = filter?.[field];
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.length > max) return null;
  return list.every((u) => typeof u === 'string' && u !== '') ? (list as string[]) : null;
}

/**
 * The resource URIs a `subscriptions/listen` subscribes to: none when it names no
 * `notifications.resourceSubscriptions`, null when they are not a list of at most
 * {@link MAX_RESOURCE_SUBSCRIPTIONS} URIs. Undefined for any other method.
 */
export function resourceSubscriptions(method: string, params: unknown): readonly string[] | null | undefined {
  return listenList(method, params, 'resourceSubscriptions', MAX_RESOURCE_SUBSCRIPTIONS);
}

/** Whether a parsed body holds a `subscriptions/listen` request: its reply is a long-lived event stream. */
export function opensListenStream(messages: readonly { kind: string; method?: string }[]): boolean {
  return messages.some((m) => m.kind === 'request' && m.method === LISTEN_METHOD);
}
