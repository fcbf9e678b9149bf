/**
 * The `Request` a handler receives. Its `signal` is made on first use: a signal passed to the
 * `Request` constructor makes Deno build a dependent signal that follows it, which costs as much
 * as the rest of the request, and most handlers never look at it.
 *
 * A request without a body is built the way `Deno.serve` builds its own: an empty branded
 * `Request` given an inner request whose URL is already serialised and whose `Headers` are made
 * from the parsed field list on first use. The constructor instead re-parses the URL, converts an
 * init dictionary through WebIDL and appends every field through `Headers`' validation: 10-12 % of
 * the guest's CPU per small GET under TCG, for fields most handlers never read. The keys of Deno's
 * internals are found once, by the shape of a probe request (as static_body.ts does for responses),
 * and the result is checked against the constructor's; when they differ, `BODILESS_SUPPORTED` is
 * false and the server uses the constructor for every request.
 *
 * @module
 */

type Slots = Record<symbol, unknown>;

/** A field list entry, as Deno's `Headers` keeps it: name and value, already validated. */
export type HeaderEntry = [string, string];

/** Deno's inner request (ext/fetch/23_request.js `newInnerRequest`), for a request without a body. */
class InnerRequest {
  methodInner: string;
  headerListInner: HeaderEntry[];
  readonly body = null;
  redirectMode = "follow";
  redirectCount = 0;
  urlList: (() => string)[];
  urlListProcessed: string[];
  clientRid = null;
  blobUrlEntry = null;

  constructor(method: string, href: string, fields: HeaderEntry[]) {
    this.methodInner = method;
    this.headerListInner = fields;
    this.urlList = [() => href];
    this.urlListProcessed = [href];
  }

  get method(): string {
    return this.methodInner;
  }
  set method(value: string) {
    this.methodInner = value;
  }
  get headerList(): HeaderEntry[] {
    return this.headerListInner;
  }
  set headerList(value: HeaderEntry[]) {
    this.headerListInner = value;
  }
  url(): string {
    return this.urlListProcessed[0];
  }
  currentUrl(): string {
    return this.urlListProcessed[this.urlListProcessed.length - 1];
  }
}

interface RequestKeys {
  /** The argument that makes Deno's `Request` constructor return an empty branded request. */
  brand: symbol;
  /** Where a request keeps its inner request. */
  inner: symbol;
  /** Where a request keeps its headers' guard. */
  guard: symbol;
}

function findRequestKeys(): RequestKeys | undefined {
  try {
    const probe = new Request("http://probe.test/") as unknown as Slots;
    const keys = Object.getOwnPropertySymbols(probe);
    // The brand is the one key whose value is itself (webidl.brand).
    const brand = keys.find((key) => probe[key] === key);
    const inner = keys.find((key) => key.description === "request");
    const guard = keys.find((key) => key.description === "headers guard");
    if (brand === undefined || inner === undefined || guard === undefined) return undefined;
    return { brand, inner, guard };
  } catch {
    return undefined;
  }
}

const KEYS: RequestKeys | undefined = findRequestKeys();

/** A `Request` whose `signal` aborts when its connection ends before the response is sent. */
export class ServerRequest extends Request {
  #controller: AbortController | undefined;
  #aborted = false;

  /**
   * A GET-like request without a body, `href` already serialised (as `new URL(…).href` gives it) and
   * `fields` already validated; `Headers` are made from `fields` when first asked for. Use only when
   * `BODILESS_SUPPORTED`.
   */
  static bodiless(href: string, method: string, fields: HeaderEntry[]): ServerRequest {
    const keys = KEYS!;
    const request = new ServerRequest(keys.brand as unknown as string);
    const slots = request as unknown as Slots;
    slots[keys.inner] = new InnerRequest(method, href, fields);
    slots[keys.guard] = "request";
    return request;
  }

  /** Aborts when the connection ends early (`Deno.serve` does the same). */
  override get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** Marks the request abandoned: its signal aborts now, or as soon as someone asks for it. */
  abandon(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
  }
}

/** True when a request built by `ServerRequest.bodiless` behaves as the constructor's would. */
function bodilessWorks(): boolean {
  if (KEYS === undefined) return false;
  try {
    const href = "http://probe.test/a?b=1";
    const fields: HeaderEntry[] = [["x-one", "1"], ["x-two", "a"], ["x-two", "b"]];
    const request = ServerRequest.bodiless(href, "HEAD", fields);
    const copy = new Request(request);
    const clone = request.clone();
    return request instanceof ServerRequest && request.url === href &&
      request.method === "HEAD" && request.body === null && !request.bodyUsed &&
      request.headers.get("x-two") === "a, b" && [...request.headers].length === 2 &&
      copy.url === href && copy.method === "HEAD" && copy.headers.get("x-one") === "1" &&
      clone.url === href && clone.headers.get("x-two") === "a, b" &&
      request.signal.aborted === false;
  } catch {
    return false;
  }
}

/** True when this runtime's `Request` internals were recognised (see the module comment). */
export const BODILESS_SUPPORTED: boolean = bodilessWorks();
