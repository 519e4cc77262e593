// The client against a live `pdp serve` (bin/pdp, or PDP_BIN): the step-up
// loop, events, outcomes, appeals and status, typed errors, timeouts,
// retries only where idempotent, and connection reuse.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  ApiError,
  Client,
  FALLBACK,
  PdpError,
  TimeoutError,
  TransportError,
  type DecideRequest,
} from "../src/index.js";
import { freePort, startProxy, startSilent, startSidecar, type Sidecar } from "./sidecar.js";

let pdp: Sidecar;
let client: Client;

before(async () => {
  pdp = await startSidecar();
  // Generous bounds: the tests share two cores with the rest of `make test`.
  client = new Client(pdp.addr, { timeoutMs: 5000, writeTimeoutMs: 5000 });
});

after(async () => {
  await pdp?.stop();
});

// A payment of an account opened in 2021 at home in CN, from device d-<uid>
// in country.
function payment(uid: string, txn: string, amount: number, country: string, newDevice: boolean): DecideRequest {
  return {
    request_id: `r-${txn}`,
    stage: "payment",
    uid,
    device: { id: `d-${uid}`, ip: "203.0.113.7", ip_country: country, new: newDevice },
    txn: { id: txn, amount, currency: "CNY", category: "digital" },
    account: { home_country: "CN", created_at: "2021-03-01T00:00:00Z" },
  };
}

// rejection awaits p and returns what it rejected with.
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail("the call resolved; an error was expected");
}

// metric reads one sample of the sidecar's /metrics, labels in the order
// the sidecar writes them (by name); a sample it does not have fails, so a
// misspelt one cannot pass as 0, unless absent (a counter not yet counted)
// may be read as 0.
async function metric(line: string, absent?: 0): Promise<number> {
  const text = await (await fetch(`http://${pdp.addr}/metrics`)).text();
  const hit = text.split("\n").find((l) => l.startsWith(line + " "));
  if (!hit && absent === 0) {
    return 0;
  }
  assert.ok(hit, `no ${line} in /metrics`);
  return Number(hit.slice(line.length + 1));
}

async function admin(method: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(pdp.admin + path, {
    method,
    headers: { authorization: `Bearer ${pdp.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

describe("health", () => {
  test("live and ready", async () => {
    assert.deepEqual(await client.live(), { status: "ok" });
    const ready = await client.ready();
    assert.equal(ready.status, "ready");
  });
});

describe("the step-up loop", () => {
  test("decide → step_up → verify each method → retry → allow, then outcomes", async () => {
    const req = payment("u-ts-1", "t-ts-1", 6000, "SG", true);
    const first = await client.decide(req);
    assert.equal(first.outcome, "step_up", JSON.stringify(first));
    assert.equal(first.request_id, "r-t-ts-1");
    assert.ok(first.step_up, "a step_up answer carries step_up");
    const { methods, challenge_id } = first.step_up;
    assert.ok(methods.length > 0 && challenge_id, JSON.stringify(first.step_up));
    assert.ok(first.message.length > 0, "a step-up tells the user what to do");

    let status;
    for (const [i, method] of methods.entries()) {
      status = await client.verify({ challenge_id, method, result: "passed", uid: "u-ts-1" });
      assert.deepEqual(status.passed, methods.slice(0, i + 1));
      assert.equal(status.status, i === methods.length - 1 ? "passed" : "pending");
    }
    // The same result again is the same verification (verify is retried).
    assert.deepEqual(await client.verify({ challenge_id, method: methods[0]!, result: "passed" }), status);

    const retry = await client.decide({ ...req, challenge_id });
    assert.equal(retry.outcome, "allow", JSON.stringify(retry));
    assert.ok(retry.reasons.includes("step_up_verified"), retry.reasons.join(","));
    assert.equal(retry.fallback, undefined);
    if (retry.limit) {
      assert.ok(retry.limit.daily_amount === undefined || retry.limit.daily_amount >= 6000, JSON.stringify(retry.limit));
    }

    const done = await client.outcome({ uid: "u-ts-1", txn_id: "t-ts-1", status: "completed" });
    assert.equal(done.recorded, true);
    assert.equal(done.known, true);
    assert.deepEqual(done.outcomes.map((o) => o.status), ["completed"]);
    // Idempotent per (txn_id, status): recorded false, nothing changed.
    const again = await client.outcome({ uid: "u-ts-1", txn_id: "t-ts-1", status: "completed" });
    assert.equal(again.recorded, false);
    assert.equal(again.outcomes.length, 1);
    // A contradicting status is a conflict.
    const conflict = await rejection(client.outcome({ uid: "u-ts-1", txn_id: "t-ts-1", status: "failed" }));
    assert.ok(conflict instanceof ApiError, String(conflict));
    assert.equal(conflict.status, 409);
    assert.equal(conflict.code, "conflict");
  });

  test("a failed check wins: the retry is denied", async () => {
    const req = payment("u-ts-2", "t-ts-2", 6000, "SG", true);
    const first = await client.decide(req);
    assert.equal(first.outcome, "step_up", JSON.stringify(first));
    const challenge_id = first.step_up!.challenge_id!;
    const status = await client.verify({ challenge_id, method: first.step_up!.methods[0]!, result: "failed" });
    assert.equal(status.status, "failed");
    const retry = await client.decide({ ...req, challenge_id });
    assert.equal(retry.outcome, "deny", JSON.stringify(retry));
  });

  test("a small payment at home is allowed", async () => {
    const d = await client.decide({
      stage: "payment",
      uid: "u-ts-3",
      locale: "zh",
      device: { id: "d-1", ip: "198.51.100.7", ip_country: "CN" },
      txn: { id: "t-ts-3", amount: 120, currency: "CNY", category: "daily_goods" },
      account: { home_country: "CN", created_at: "2020-01-01T00:00:00Z" },
      context: { third_party_guidance: false, app_screen: "checkout" },
    });
    assert.equal(d.outcome, "allow", JSON.stringify(d));
    assert.match(d.decision_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.ok(d.took_us >= 0);
  });
});

describe("events", () => {
  test("an event is recorded", async () => {
    const e = await client.event({ uid: "u-ts-1", kind: "phone_change", device_id: "d-u-ts-1" });
    assert.equal(e.recorded, true);
    assert.equal(e.kind, "phone_change");
    assert.ok(!Number.isNaN(Date.parse(e.at)), e.at);
  });

  test("an event in the future names the field", async () => {
    const err = await rejection(client.event({ uid: "u-ts-1", kind: "login_failed", at: "2999-01-01T00:00:00Z" }));
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 400);
    assert.equal(err.code, "invalid_value");
    assert.equal(err.field, "at");
  });
});

describe("appeals and account status", () => {
  test("an account in good standing: nothing to appeal; a UID with a slash", async () => {
    const s = await client.status("u/ts 7");
    assert.equal(s.uid, "u/ts 7");
    assert.equal(s.status, "ok");
    assert.equal(s.can_appeal, false);
    assert.deepEqual(s.appeals, []);
    const err = await rejection(client.appeal({ uid: "u/ts 7", reason: "I did nothing wrong." }));
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 409);
    assert.equal(err.code, "nothing_to_appeal");
  });

  test("a frozen account appeals once per request_id and shows it", async () => {
    await admin("POST", "/admin/v1/accounts/u-ts-frozen/freeze", {
      kind: "review", operator: "tester", reason: "client test", ticket: "TS-1",
    });
    const lodged = await client.appeal({ uid: "u-ts-frozen", reason: "I was travelling; the payments were mine.", documents: ["kyc-77"], request_id: "ap-ts-1" });
    assert.equal(lodged.uid, "u-ts-frozen");
    assert.equal(lodged.status, "open");
    assert.ok(Date.parse(lodged.answer_due_at) > Date.parse(lodged.lodged_at));
    const same = await client.appeal({ uid: "u-ts-frozen", reason: "I was travelling; the payments were mine.", request_id: "ap-ts-1" });
    assert.equal(same.appeal_id, lodged.appeal_id);

    const s = await client.status("u-ts-frozen", { locale: "zh" });
    assert.equal(s.status, "frozen");
    assert.deepEqual([...s.functions].sort(), ["login", "order", "payment", "repayment", "withdrawal"]);
    assert.deepEqual(s.appeals.map((a) => a.appeal_id), [lodged.appeal_id]);
    assert.match(s.message, /\p{Script=Han}/u, "the message in the locale asked for");

    const denied = await client.decide(payment("u-ts-frozen", "t-ts-f", 10, "CN", false));
    assert.equal(denied.outcome, "deny");

    // A reference with a space names the element.
    const err = await rejection(client.appeal({ uid: "u-ts-frozen", reason: "again", documents: ["a b"] }));
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, "invalid_value");
    assert.equal(err.field, "documents[0]");
  });
});

describe("errors are typed", () => {
  test("a wrong type is a 400 naming the field", async () => {
    const bad = payment("u-ts-e", "t-ts-e", 10, "CN", false) as unknown as { txn: { amount: unknown } };
    bad.txn.amount = "10";
    const err = await rejection(client.decide(bad as unknown as DecideRequest));
    assert.ok(err instanceof ApiError, String(err));
    assert.ok(err instanceof PdpError);
    assert.ok(!(err instanceof TransportError));
    assert.equal(err.status, 400);
    assert.equal(err.code, "wrong_type");
    assert.equal(err.field, "txn.amount");
    assert.match(err.message, /^pdp: 400 wrong_type: txn\.amount: /);
  });

  test("a missing field, an unknown field, a secret", async () => {
    const noStage = await rejection(client.decide({ uid: "u-ts-e" } as DecideRequest));
    assert.ok(noStage instanceof ApiError);
    assert.equal(noStage.code, "missing_field");
    assert.equal(noStage.field, "stage");

    const unknown = await rejection(client.decide({ ...payment("u-ts-e", "t-ts-e", 10, "CN", false), colour: "red" } as DecideRequest));
    assert.ok(unknown instanceof ApiError);
    assert.equal(unknown.code, "unknown_field");
    assert.equal(unknown.field, "colour");

    const secret = await rejection(client.decide({ ...payment("u-ts-e", "t-ts-e", 10, "CN", false), context: { cvv: "123" } }));
    assert.ok(secret instanceof ApiError);
    assert.equal(secret.code, "secret_field");
    assert.equal(secret.field, "context.cvv");
  });

  test("a forged challenge is 404, an unknown payment's outcome 404", async () => {
    const forged = await rejection(client.verify({ challenge_id: "c2.forged", method: "face", result: "passed" }));
    assert.ok(forged instanceof ApiError);
    assert.equal(forged.status, 404);
    assert.equal(forged.code, "not_found");
    assert.equal(forged.field, "challenge_id");

    const unknown = await rejection(client.outcome({ uid: "u-ts-e", txn_id: "t-never", status: "completed" }));
    assert.ok(unknown instanceof ApiError);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code, "not_found");
  });

  test("a Host the sidecar does not answer to: 421 host_not_allowed, nothing decided", async () => {
    const before = await metric('pdp_request_errors_total{code="host_not_allowed",endpoint="transport"}', 0);
    const decided = await metric('pdp_decisions_total{outcome="allow",stage="payment"}');
    const proxy = await startProxy(pdp.addr, 0, "pdp.example");
    try {
      const err = await rejection(new Client(proxy.addr, { timeoutMs: 5000 }).decide(payment("u-ts-h", "t-ts-h", 10, "CN", false)));
      const refused = (await metric('pdp_request_errors_total{code="host_not_allowed",endpoint="transport"}')) - before;
      if (Number(process.versions.node.split(".")[0]) >= 20) {
        // Node's fetch sends a request answered 421 once more, on a new
        // connection, by itself; the sidecar refuses both at its edge.
        assert.ok(err instanceof ApiError, String(err));
        assert.equal(err.status, 421);
        assert.equal(err.code, "host_not_allowed");
        assert.equal(err.field, "host");
        assert.equal(refused, 2);
      } else {
        // Node 18's fetch fails to send it again (its body is spent).
        assert.ok(err instanceof TransportError, String(err));
        assert.match(err.message, /UND_ERR_REQ_CONTENT_LENGTH_MISMATCH.*421/);
        assert.equal(refused, 1);
      }
      assert.equal(await metric('pdp_decisions_total{outcome="allow",stage="payment"}'), decided);
    } finally {
      await proxy.close();
    }
  });

  test("a closed port is a transport error, not an API error", async () => {
    const c = new Client(`127.0.0.1:${await freePort()}`, { timeoutMs: 5000 });
    const err = await rejection(c.decide(payment("u-ts-e", "t-ts-e", 10, "CN", false)));
    assert.ok(err instanceof TransportError, String(err));
    assert.ok(!(err instanceof TimeoutError));
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(FALLBACK, "step_up");
  });
});

describe("answers the client cannot trust", () => {
  // 400 answers from a server that is not the sidecar (a proxy in the way, a
  // port taken by something else), drawn from a seeded generator: each is a
  // value, an ApiError carrying the status, or a TransportError; never any
  // other error, never a hang.
  test("arbitrary statuses and bodies", async () => {
    let seed = 0x5eed;
    const rand = (n: number) => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed % n;
    };
    const pick = <T>(xs: T[]): T => xs[rand(xs.length)]!;
    const bodies = [
      () => "",
      () => "<html>502 Bad Gateway</html>",
      () => '{"error":{"code":"not_found","message":"no such thing","field":"uid"}}',
      () => '{"error":{"code":7,"message":null}}',
      () => '{"error":"flat"}',
      () => '{"status":"ok"}',
      () => "null",
      () => "[1,2",
      () => Buffer.from(Array.from({ length: rand(64) }, () => rand(256))).toString("latin1"),
      () => '{"error":{"code":"' + "x".repeat(rand(2000)) + '"}}',
    ];
    const cases: { status: number; body: string }[] = [];
    for (let i = 0; i < 400; i++) {
      // Not 421: Node's fetch sends a request answered 421 once more by
      // itself (the "wrong Host" test below).
      cases.push({ status: pick([200, 201, 204, 400, 404, 409, 413, 500, 502, 503]), body: pick(bodies)() });
    }
    let next = 0;
    const srv = createServer((req, res) => {
      req.resume();
      const c = cases[next++]!;
      res.writeHead(c.status, { "content-type": "application/json" });
      res.end(c.status === 204 ? undefined : c.body, "latin1");
    });
    await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
    try {
      const c = new Client(`127.0.0.1:${(srv.address() as { port: number }).port}`, { timeoutMs: 5000, retries: 0 });
      for (const want of cases) {
        const body = want.status === 204 ? "" : want.body;
        let parsed: unknown;
        let json = true;
        try {
          parsed = JSON.parse(body);
        } catch {
          json = false;
        }
        try {
          const got = await c.live();
          assert.ok(want.status < 300 && json, `resolved for ${want.status} ${JSON.stringify(body)}`);
          assert.deepEqual(got, parsed);
        } catch (err) {
          if (want.status < 300) {
            assert.ok(err instanceof TransportError && !(err instanceof TimeoutError) && !json, `${want.status} ${JSON.stringify(body)}: ${err}`);
            assert.match(err.message, /decode the 20[014] answer/);
            continue;
          }
          assert.ok(err instanceof ApiError, `${want.status} ${JSON.stringify(body)}: ${err}`);
          assert.equal(err.status, want.status);
          const code = (parsed as { error?: { code?: unknown } } | null)?.error?.code;
          assert.equal(err.code, typeof code === "string" && code !== "" ? code : "unexpected_response");
        }
      }
      assert.equal(next, cases.length);
    } finally {
      await new Promise<void>((ok) => srv.close(() => ok()));
    }
  });
});

describe("timeouts", () => {
  test("a sidecar that never answers: TimeoutError within the call's bound", async () => {
    const silent = await startSilent();
    try {
      const c = new Client(silent.addr, { timeoutMs: 50, writeTimeoutMs: 80 });
      const err = await rejection(c.decide(payment("u-ts-t", "t-ts-t", 10, "CN", false)));
      assert.ok(err instanceof TimeoutError, String(err));
      assert.ok(err instanceof TransportError);
      assert.equal(err.timeoutMs, 50);
      const w = await rejection(c.outcome({ uid: "u-ts-t", txn_id: "t", status: "completed" }));
      assert.ok(w instanceof TimeoutError);
      assert.equal(w.timeoutMs, 80);
      const per = await rejection(c.status("u-ts-t", { timeoutMs: 30 }));
      assert.ok(per instanceof TimeoutError);
      assert.equal(per.timeoutMs, 30);
      // The caller's deadline is a timeout too; its other aborts are not.
      const deadline = await rejection(new Client(silent.addr, { timeoutMs: 60_000 }).live({ signal: AbortSignal.timeout(40) }));
      assert.ok(deadline instanceof TimeoutError, String(deadline));
      assert.equal(deadline.timeoutMs, undefined);
      const ctl = new AbortController();
      const call = new Client(silent.addr, { timeoutMs: 60_000 }).live({ signal: ctl.signal });
      setTimeout(() => ctl.abort(new Error("the user left")), 20);
      const abort = await rejection(call);
      assert.ok(abort instanceof TransportError && !(abort instanceof TimeoutError), String(abort));
      assert.equal((abort.cause as Error).message, "the user left");
    } finally {
      await silent.close();
    }
  });
});

describe("connections", () => {
  test("calls reuse kept-alive connections", async () => {
    const turn = () => new Promise((ok) => setImmediate(ok));
    const calls = (c: Client) => [
      ...[0, 1, 2, 3, 4].flatMap((i) => [
        async () => assert.equal((await c.decide(payment("u-ts-k", `t-ts-k${i}`, 10, "CN", false))).outcome, "allow"),
        () => c.status("u-ts-k"),
        () => c.ready(),
      ]),
      () => rejection(c.decide({ uid: "u-ts-k" } as DecideRequest)), // an error answer keeps it too
      () => c.live(),
    ];
    // With a turn of the event loop between calls (a service's calls come
    // from its own requests): one connection for all.
    let proxy = await startProxy(pdp.addr);
    try {
      const c = new Client(proxy.addr, { timeoutMs: 5000, writeTimeoutMs: 5000 });
      for (const call of calls(c)) {
        await call();
        await turn();
      }
      assert.equal(proxy.accepted(), 1, "17 calls over one connection");
    } finally {
      await proxy.close();
    }
    // Back to back: undici puts a connection back in its pool one turn after
    // its answer, so a call in that turn opens a second; two then take turns.
    proxy = await startProxy(pdp.addr);
    try {
      const c = new Client(proxy.addr, { timeoutMs: 5000, writeTimeoutMs: 5000 });
      for (const call of calls(c)) {
        await call();
      }
      assert.ok(proxy.accepted() <= 2, `17 calls back to back over ${proxy.accepted()} connections`);
    } finally {
      await proxy.close();
    }
  });

  test("a connection failure: idempotent calls are sent again, decide and events are not", async () => {
    const c = (p: { addr: string }) => new Client(p.addr, { timeoutMs: 5000, writeTimeoutMs: 5000 });
    // status (GET): the first connection is cut, the second answers.
    let proxy = await startProxy(pdp.addr, 1);
    try {
      assert.equal((await c(proxy).status("u-ts-r")).status, "ok");
      assert.equal(proxy.accepted(), 2);
    } finally {
      await proxy.close();
    }
    // outcome: idempotent per (txn_id, status).
    proxy = await startProxy(pdp.addr, 1);
    try {
      const err = await rejection(c(proxy).outcome({ uid: "u-ts-r", txn_id: "t-none", status: "completed" }));
      assert.ok(err instanceof ApiError && err.code === "not_found", String(err)); // it reached the sidecar
      assert.equal(proxy.accepted(), 2);
    } finally {
      await proxy.close();
    }
    // decide: never sent again; the sidecar saw nothing.
    const before = await metric('pdp_decisions_total{outcome="allow",stage="payment"}');
    proxy = await startProxy(pdp.addr, 1);
    try {
      const err = await rejection(c(proxy).decide(payment("u-ts-r", "t-ts-r", 10, "CN", false)));
      assert.ok(err instanceof TransportError && !(err instanceof TimeoutError), String(err));
      assert.equal(proxy.accepted(), 1);
    } finally {
      await proxy.close();
    }
    assert.equal(await metric('pdp_decisions_total{outcome="allow",stage="payment"}'), before);
    // events: never sent again.
    proxy = await startProxy(pdp.addr, 1);
    try {
      const err = await rejection(c(proxy).event({ uid: "u-ts-r", kind: "login_failed" }));
      assert.ok(err instanceof TransportError, String(err));
      assert.equal(proxy.accepted(), 1);
    } finally {
      await proxy.close();
    }
    // retries: 0 turns it off.
    proxy = await startProxy(pdp.addr, 1);
    try {
      const err = await rejection(new Client(proxy.addr, { retries: 0, writeTimeoutMs: 5000 }).status("u-ts-r"));
      assert.ok(err instanceof TransportError, String(err));
      assert.equal(proxy.accepted(), 1);
    } finally {
      await proxy.close();
    }
  });
});

describe("the example", () => {
  test("runs against the sidecar", async () => {
    const script = resolve(__dirname, "../example/example.js");
    const out = await new Promise<string>((ok, fail) =>
      execFile(process.execPath, [script], { env: { ...process.env, PDP_ADDR: pdp.addr }, timeout: 30_000 }, (err, stdout, stderr) =>
        err ? fail(new Error(`${err.message}\n${stdout}${stderr}`)) : ok(stdout),
      ),
    );
    assert.match(out, /step_up/);
    assert.match(out, /allow/);
  });
});
