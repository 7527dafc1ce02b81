/**
 * {@linkcode serveMetrics}: the HTTP endpoint Prometheus scrapes.
 *
 * @module
 */

import type { Metrics } from "./metrics.ts";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus.ts";

/** Options of {@linkcode serveMetrics}. */
export interface ServeMetricsOptions {
  /** The address to listen on (default `"127.0.0.1"`). */
  hostname?: string;
  /** The port to listen on (default 9100; 0 picks a free one). */
  port?: number;
  /** Stops the endpoint when aborted. */
  signal?: AbortSignal;
  /** Called once listening, with the address (default: nothing is printed). */
  onListen?: (addr: Deno.NetAddr) => void;
}

/**
 * Serves `metrics` at `GET /metrics` in Prometheus's text format (404 for any
 * other path, 405 for any other method) until the returned server is shut down
 * (`await using`, or `shutdown()`) or `signal` aborts.
 */
export function serveMetrics(metrics: Metrics, options: ServeMetricsOptions = {}): Deno.HttpServer {
  return Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 9100,
    signal: options.signal,
    onListen: (addr) => options.onListen?.(addr as Deno.NetAddr),
  }, (request) => {
    if (new URL(request.url).pathname !== "/metrics") {
      return new Response("Not found: the metrics are at /metrics.\n", { status: 404 });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed.\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    return new Response(metrics.render(), { headers: { "content-type": EXPOSITION_CONTENT_TYPE } });
  });
}
