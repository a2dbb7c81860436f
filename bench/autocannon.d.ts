/** The part of autocannon 8's programmatic API the proxy benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface AutocannonOptions {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Seconds. */
    timeout?: number;
    expectBody?: string;
    verifyBody?: (body: string) => boolean;
    requests?: Array<{
      setupRequest?: (req: { headers: Record<string, string> }) => { headers: Record<string, string> };
    }>;
  }

  export interface AutocannonResult {
    totalCompletedRequests: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    mismatches: number;
    resets: number;
    duration: number;
    statusCodeStats?: Record<string, { count: number }>;
  }

  export interface Instance extends EventEmitter {
    on(event: 'start', listener: () => void): this;
    on(
      event: 'response',
      listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void,
    ): this;
    on(event: 'reqMismatch', listener: (body: string) => void): this;
    on(event: 'reqError', listener: (err: Error) => void): this;
    stop(): void;
  }

  export default function autocannon(
    opts: AutocannonOptions,
    cb: (err: Error | null, result: AutocannonResult) => void,
  ): Instance;
}
