/**
 * An MCP SDK `EventStore` for upstreams in tests that resume streams with `Last-Event-ID`.
 *
 * @module
 */
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * An event store that replays in the order events were stored. The SDK's example store sorts by event id,
 * and its ids end in a millisecond and a random suffix, so a reply stored in the same millisecond as the
 * stream's priming event was, about half the time, sorted before it and never replayed (a flaky test).
 */
export class OrderedEventStore implements EventStore {
  readonly #events: { id: string; streamId: string; message: JSONRPCMessage }[] = [];

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${streamId}_${this.#events.length}`;
    this.#events.push({ id, streamId, message });
    return id;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.#events.find((e) => e.id === eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const at = this.#events.findIndex((e) => e.id === lastEventId);
    if (at < 0) return '';
    const { streamId } = this.#events[at] as { streamId: string };
    for (const e of this.#events.slice(at + 1)) if (e.streamId === streamId) await send(e.id, e.message);
    return streamId;
  }
}
