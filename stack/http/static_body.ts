/**
 * Taking a `Response` body that is a string or bytes without making a stream of it. Deno keeps such
 * a body as the static source of the response's inner body until something reads `.body`, and
 * `Deno.serve` sends it from there. Reading it through `.body` instead builds a byte stream, reads it
 * twice and encodes the string into a fresh array: about a sixth of a small exchange's CPU
 * (tests/bench/http_bench.ts inproc). The inner body is found once, by the shape of a probe response,
 * like @hono/node-server does for undici's; when Deno's internals look different, `takeStaticBody`
 * answers `undefined` and the server reads the stream as before.
 *
 * @module
 */

/** Deno's static body source: `{ body, consumed }` (ext/fetch/22_body.js `InnerBody`). */
interface StaticSource {
  body: unknown;
  consumed: boolean;
}

type WithInner = Record<symbol, { body?: { streamOrStatic?: unknown } | null } | undefined>;

/** The key under which a `Response` keeps its inner response, or `undefined` when none fits. */
const INNER: symbol | undefined = findInnerKey();

function findInnerKey(): symbol | undefined {
  try {
    // Fields in the init make Deno build the inner body at once (a bare string stays lazy).
    const probe = new Response("probe", { headers: { "x-probe": "1" } });
    for (const key of Object.getOwnPropertySymbols(probe)) {
      const source = staticSource((probe as unknown as WithInner)[key]?.body?.streamOrStatic);
      if (source === undefined || source.body !== "probe" || source.consumed) continue;
      // Marking it consumed must be what makes the body used, as a read would.
      source.consumed = true;
      return probe.bodyUsed ? key : undefined;
    }
  } catch {
    // A runtime without these internals: the stream path serves every body.
  }
  return undefined;
}

function staticSource(value: unknown): StaticSource | undefined {
  if (typeof value !== "object" || value === null || value instanceof ReadableStream) {
    return undefined;
  }
  const source = value as Partial<StaticSource>;
  return typeof source.consumed === "boolean" ? source as StaticSource : undefined;
}

/** True when this runtime's `Response` internals were recognised. */
export const STATIC_BODY_SUPPORTED: boolean = INNER !== undefined;

/**
 * The body of `response` when it is an unread string or `Uint8Array` held without a stream; it is
 * marked used (`bodyUsed` turns true) as reading it would. `undefined` for a null body, a stream,
 * a body already read or turned into a stream, or a body Deno has not built yet (read the response's
 * `headers` first: that builds it).
 */
export function takeStaticBody(response: Response): string | Uint8Array | undefined {
  if (INNER === undefined) return undefined;
  const source = staticSource((response as unknown as WithInner)[INNER]?.body?.streamOrStatic);
  if (source === undefined || source.consumed) return undefined;
  const body = source.body;
  if (typeof body !== "string" && !(body instanceof Uint8Array)) return undefined;
  source.consumed = true;
  return body;
}
