/**
 * The Node client payment services use to ask the riskpdp sidecar for a
 * decision before they authorize an operation, and to report what follows:
 * verification results, account events, payment outcomes, appeals; and to
 * read what the app may show of an account.
 *
 * Requests and answers are typed from the decision API's OpenAPI document
 * (pdp/internal/openapi/decision.json, generated into ./openapi.ts by
 * openapi-typescript). Every call is bounded by a timeout; connections are
 * kept alive (Node's fetch keeps them open by default). A call either
 * resolves with the answer, or rejects with an {@link ApiError} (the sidecar
 * refused the request: fix it) or a {@link TransportError} (no answer, a
 * {@link TimeoutError} when it came too late: apply {@link FALLBACK}, never
 * allow).
 *
 * @module
 */

import { randomUUID } from "node:crypto";

import type { components } from "./openapi.js";

type Schemas = components["schemas"];

/** The operation decided: login, order, payment, withdrawal or repayment. */
export type Stage = Schemas["Stage"];
/** A decision's outcome: allow, step_up or deny. */
export type Outcome = Schemas["Outcome"];
/** The machine-readable code of an error answer. */
export type ErrorCode = Schemas["ErrorCode"];
/** Where the operation comes from. */
export type Device = Schemas["Device"];
/** The operation's money movement or order. */
export type Txn = Schemas["Txn"];
/** The caller's profile of the account. */
export type Account = Schemas["Account"];
/**
 * Free-form context handed to the policy as is; the keys the reference
 * policy reads are typed (the schema's Context is open, so are these).
 */
export type Context = Schemas["Context"] & { [key: string]: unknown };
/** A decide request (README "POST /v1/decide"). */
export type DecideRequest = Omit<Schemas["DecideRequest"], "context"> & { context?: Context };
/** The sidecar's decision. */
export type Decision = Schemas["Decision"];
/** How to verify before deciding the same operation again. */
export type StepUp = Schemas["StepUp"];
/** A notice to show the user. */
export type Warning = Schemas["Warning"];
/** A cap that comes with a conditional release. */
export type DecisionLimit = Schemas["DecisionLimit"];
/** One verification method's result for a step-up challenge. */
export type VerificationRequest = Schemas["VerificationRequest"];
/** The operation's verification as stored after a result. */
export type VerificationStatus = Schemas["VerificationStatus"];
/** The kinds of account events. */
export type EventKind = Schemas["EventKind"];
/** An account event (password reset, phone change, failed login…). */
export type EventRequest = Schemas["EventRequest"];
/** The event as recorded. */
export type EventRecorded = Schemas["EventRecorded"];
/** What became of a money movement. */
export type OutcomeStatus = Schemas["OutcomeStatus"];
/** A payment outcome report. */
export type OutcomeRequest = Schemas["OutcomeRequest"];
/** The payment's outcomes after a report. */
export type OutcomeRecorded = Schemas["OutcomeRecorded"];
/** A user's appeal: their words and references, never documents. */
export type AppealRequest = Schemas["AppealRequest"];
/** An appeal as the app may show it. */
export type Appeal = Schemas["Appeal"];
/** The appeal lodged (or, for a request_id sent before, the one it lodged). */
export type AppealLodged = Schemas["AppealLodged"];
/** What the app may show of an account. */
export type AccountStatus = Schemas["AccountStatus"];
/** The answer of GET /health/live. */
export type Live = Schemas["Live"];
/** The answer of GET /health/ready. */
export type Ready = Schemas["Ready"];

/**
 * The outcome to apply when the sidecar cannot answer: verify first,
 * release after; never allow.
 */
export const FALLBACK: Outcome = "step_up";

/** The default bound of a decision and a health check, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 100;
/**
 * The default bound of a call the sidecar writes durably before it answers
 * (verifications, events, outcomes, appeals) and of an account status, in
 * milliseconds: an fsync on a busy disk can take hundreds.
 */
export const DEFAULT_WRITE_TIMEOUT_MS = 2000;

/** Every error a {@link Client} call rejects with. */
export class PdpError extends Error {
  override name = "PdpError";
}

/**
 * The sidecar answered with an error (4xx/5xx): the request was refused.
 * `code` is the API's error code ("unexpected_response" when the body was
 * not the API's error envelope), `field` the offending field as a JSON path
 * (`txn.amount`, `documents[0]`) when one field is at fault.
 */
export class ApiError extends PdpError {
  override name = "ApiError";
  /** The HTTP status. */
  readonly status: number;
  /** The API's error code. */
  readonly code: ErrorCode | "unexpected_response";
  /** The offending field, when one is at fault. */
  readonly field: string | undefined;
  /** The sidecar's message (safe to log; never echoes a card number). */
  readonly detail: string;

  constructor(status: number, code: ErrorCode | "unexpected_response", detail: string, field?: string) {
    super(`pdp: ${status} ${code}: ${field ? `${field}: ` : ""}${detail}`);
    this.status = status;
    this.code = code;
    this.field = field;
    this.detail = detail;
  }
}

/**
 * No usable answer: the sidecar could not be reached, the connection
 * failed, the caller's signal aborted the call, or the answer could not be
 * read. Apply {@link FALLBACK}.
 */
export class TransportError extends PdpError {
  override name = "TransportError";
  /** The method and path of the call. */
  readonly call: string;

  constructor(call: string, message: string, cause?: unknown) {
    super(`pdp: ${call}: ${message}`, cause === undefined ? undefined : { cause });
    this.call = call;
  }
}

/** No answer within the call's timeout (or the caller's deadline signal). */
export class TimeoutError extends TransportError {
  override name = "TimeoutError";
  /** The bound that ran out, in milliseconds (undefined: the caller's signal). */
  readonly timeoutMs: number | undefined;

  constructor(call: string, timeoutMs: number | undefined, cause?: unknown) {
    super(call, timeoutMs === undefined ? "the caller's deadline passed" : `no answer within ${timeoutMs} ms`, cause);
    this.timeoutMs = timeoutMs;
  }
}

/** Options of a {@link Client}. */
export interface ClientOptions {
  /** Bound of decide, live and ready, in ms (default {@link DEFAULT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Bound of the calls written durably and of status, in ms (default {@link DEFAULT_WRITE_TIMEOUT_MS}). */
  writeTimeoutMs?: number;
  /**
   * How many more times an idempotent call is sent after a connection
   * failure, within its one timeout (default 1). Decide and events are never
   * sent again.
   */
  retries?: number;
  /** The fetch to use (default: Node's global fetch, which keeps connections alive). */
  fetch?: typeof fetch;
}

/** Options of one call. */
export interface CallOptions {
  /** Aborts the call; a signal from AbortSignal.timeout() rejects with a {@link TimeoutError}. */
  signal?: AbortSignal;
  /** This call's bound in ms, instead of the client's. */
  timeoutMs?: number;
}

/** Options of {@link Client.status}. */
export interface StatusOptions extends CallOptions {
  /** The language of the message ("zh", "en-SG"); default the sidecar's messages.locale. */
  locale?: string;
}

interface Call {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  timeoutMs: number;
  idempotent: boolean;
  opts: CallOptions | undefined;
}

/**
 * A client of one sidecar. It is safe to share: make one per process and
 * use it from every request handler.
 *
 * @example
 * const pdp = new Client("127.0.0.1:9191");
 * const d = await pdp.decide({ stage: "payment", uid: "u-1", txn: { id: "t-1", amount: 120, currency: "CNY" } });
 */
export class Client {
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #writeTimeoutMs: number;
  readonly #retries: number;
  readonly #fetch: typeof fetch;

  /**
   * @param addr the sidecar's decision listener: "127.0.0.1:9191" or
   * "http://localhost:9191". The sidecar answers only to a loopback Host
   * (localhost, 127.0.0.0/8, [::1]) or a name of its server.allowed_hosts.
   */
  constructor(addr: string, options: ClientOptions = {}) {
    if (addr === "") {
      throw new TypeError("pdp: empty sidecar address");
    }
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(addr) ? addr : `http://${addr}`);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`pdp: sidecar address ${addr}: not http`);
    }
    this.#base = url.origin;
    this.#timeoutMs = positive(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, "timeoutMs");
    this.#writeTimeoutMs = positive(options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, "writeTimeoutMs");
    const retries = options.retries ?? 1;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new TypeError(`pdp: retries ${retries}: not a whole number ≥ 0`);
    }
    this.#retries = retries;
    this.#fetch = options.fetch ?? globalThis.fetch;
    if (typeof this.#fetch !== "function") {
      throw new TypeError("pdp: no fetch (Node 18 or later has one)");
    }
  }

  /** The sidecar's origin ("http://127.0.0.1:9191"). */
  get base(): string {
    return this.#base;
  }

  /**
   * Asks for a decision (POST /v1/decide). Never sent twice: every money
   * call counts in the account's attempt velocity, so a blind retry would
   * count as card testing; on a {@link TransportError} apply
   * {@link FALLBACK} (or decide again yourself, knowing it counts).
   */
  decide(request: DecideRequest, opts?: CallOptions): Promise<Decision> {
    return this.#call<Decision>({ method: "POST", path: "/v1/decide", body: request, timeoutMs: this.#timeoutMs, idempotent: false, opts });
  }

  /**
   * Reports one method's result for a step-up challenge (POST
   * /v1/verifications) and returns the operation's verification as stored.
   * Sent again after a connection failure: the same result twice stores the
   * same verification (a failure stays failed).
   */
  verify(request: VerificationRequest, opts?: CallOptions): Promise<VerificationStatus> {
    return this.#call<VerificationStatus>({ method: "POST", path: "/v1/verifications", body: request, timeoutMs: this.#writeTimeoutMs, idempotent: true, opts });
  }

  /**
   * Records an account event (POST /v1/events). Never sent twice: the
   * sidecar keeps each event it is sent, so a repeat counts a failed login
   * twice.
   */
  event(request: EventRequest, opts?: CallOptions): Promise<EventRecorded> {
    return this.#call<EventRecorded>({ method: "POST", path: "/v1/events", body: request, timeoutMs: this.#writeTimeoutMs, idempotent: false, opts });
  }

  /**
   * Reports what became of a payment the sidecar allowed (POST
   * /v1/outcomes). Idempotent per (txn_id, status): a repeat answers
   * `recorded: false`, so it is sent again after a connection failure. A
   * contradicting status is an {@link ApiError} 409 `conflict`, an unknown
   * payment 404 `not_found` (but for labels).
   */
  outcome(request: OutcomeRequest, opts?: CallOptions): Promise<OutcomeRecorded> {
    return this.#call<OutcomeRecorded>({ method: "POST", path: "/v1/outcomes", body: request, timeoutMs: this.#writeTimeoutMs, idempotent: true, opts });
  }

  /**
   * Lodges a user's appeal (POST /v1/appeals). Without a `request_id` the
   * client sets a random one, so sending it again after a connection
   * failure answers the appeal the first send lodged instead of lodging a
   * second. {@link ApiError} 409 `nothing_to_appeal` or `too_many_appeals`
   * when it cannot be lodged.
   */
  appeal(request: AppealRequest, opts?: CallOptions): Promise<AppealLodged> {
    const body: AppealRequest = request.request_id ? request : { ...request, request_id: randomUUID() };
    return this.#call<AppealLodged>({ method: "POST", path: "/v1/appeals", body, timeoutMs: this.#writeTimeoutMs, idempotent: true, opts });
  }

  /** Reads what the app may show of uid's account (GET /v1/accounts/{uid}/status). */
  status(uid: string, opts?: StatusOptions): Promise<AccountStatus> {
    let path = `/v1/accounts/${encodeURIComponent(uid)}/status`;
    if (opts?.locale) {
      path += `?locale=${encodeURIComponent(opts.locale)}`;
    }
    return this.#call<AccountStatus>({ method: "GET", path, timeoutMs: this.#writeTimeoutMs, idempotent: true, opts });
  }

  /** GET /health/live: the process is up. */
  live(opts?: CallOptions): Promise<Live> {
    return this.#call<Live>({ method: "GET", path: "/health/live", timeoutMs: this.#timeoutMs, idempotent: true, opts });
  }

  /**
   * GET /health/ready: a policy is loaded; `degraded` names what works in a
   * reduced way. Not ready is an {@link ApiError} 503 `not_ready`.
   */
  ready(opts?: CallOptions): Promise<Ready> {
    return this.#call<Ready>({ method: "GET", path: "/health/ready", timeoutMs: this.#timeoutMs, idempotent: true, opts });
  }

  async #call<T>(c: Call): Promise<T> {
    const name = `${c.method} ${c.path.replace(/\?.*/, "")}`;
    const timeoutMs = c.opts?.timeoutMs === undefined ? c.timeoutMs : positive(c.opts.timeoutMs, "timeoutMs");
    const caller = c.opts?.signal;
    if (caller?.aborted) {
      throw aborted(name, caller.reason);
    }
    // One bound for the whole call, retries and reading the answer included.
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, timeoutMs);
    const onAbort = () => ctl.abort();
    caller?.addEventListener("abort", onAbort, { once: true });
    const init: RequestInit = {
      method: c.method,
      headers: c.method === "POST" ? { "content-type": "application/json", accept: "application/json" } : { accept: "application/json" },
      signal: ctl.signal,
    };
    if (c.body !== undefined) {
      init.body = JSON.stringify(c.body);
    }
    try {
      for (let attempt = 0; ; attempt++) {
        let status: number;
        let text: string;
        try {
          const res = await this.#fetch(this.#base + c.path, init);
          status = res.status;
          text = await res.text();
        } catch (err) {
          if (timedOut) {
            throw new TimeoutError(name, timeoutMs, err);
          }
          if (caller?.aborted) {
            throw aborted(name, caller.reason);
          }
          if (c.idempotent && attempt < this.#retries) {
            continue;
          }
          throw new TransportError(name, describe(err), err);
        }
        return decode<T>(name, status, text);
      }
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onAbort);
    }
  }
}

function positive(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new TypeError(`pdp: ${what} ${ms}: not a positive number of milliseconds`);
  }
  return ms;
}

// aborted is the error of a call the caller's signal ended: a deadline
// (AbortSignal.timeout) is a TimeoutError, any other reason a TransportError.
function aborted(name: string, reason: unknown): TransportError {
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new TimeoutError(name, undefined, reason);
  }
  return new TransportError(name, "aborted by the caller", reason);
}

// describe names a fetch failure by its cause (undici wraps the socket's
// error: "fetch failed" says nothing).
function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      // Node 18's fetch sends a request answered 421 again by itself, and
      // fails so when the request had a body: the answer is lost.
      const hint = code === "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH" ? " (Node 18's fetch, after a 421 answer: the sidecar does not answer to this Host; see server.allowed_hosts)" : "";
      return `${err.message}: ${typeof code === "string" ? `${code} ` : ""}${cause.message}${hint}`;
    }
    return err.message;
  }
  return String(err);
}

function decode<T>(name: string, status: number, text: string): T {
  if (status < 200 || status > 299) {
    let env: unknown;
    try {
      env = JSON.parse(text);
    } catch {
      // not the API's envelope
    }
    const e = (env as { error?: { code?: unknown; message?: unknown; field?: unknown } } | undefined)?.error;
    if (e && typeof e.code === "string" && e.code !== "") {
      throw new ApiError(status, e.code as ErrorCode, typeof e.message === "string" ? e.message : "", typeof e.field === "string" ? e.field : undefined);
    }
    throw new ApiError(status, "unexpected_response", text.slice(0, 512));
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new TransportError(name, `decode the ${status} answer: ${describe(err)}`, err);
  }
}
