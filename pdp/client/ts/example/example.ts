// A payment service's use of the sidecar, end to end: decide a payment,
// verify the user when asked, decide again, report the outcome, read the
// account's status. Run it against a sidecar (`go run ./pdp/cmd/pdp serve`):
//
//   npm ci && npm run build && PDP_ADDR=127.0.0.1:9191 node dist/example/example.js

import { randomUUID } from "node:crypto";

import { ApiError, Client, FALLBACK, type DecideRequest, type Decision } from "@riskpdp/client";

// One client per process, shared by every request handler.
const pdp = new Client(process.env.PDP_ADDR ?? "127.0.0.1:9191");

// decide applies the fail-safe: a refused request is a bug to fix (rethrown);
// no answer in time means verify first (FALLBACK), never allow.
async function decide(req: DecideRequest): Promise<Decision["outcome"]> {
  try {
    const d = await pdp.decide(req);
    console.log(`${req.txn?.id}: ${d.outcome} ${d.reasons.join(",")} "${d.message}"`);
    return d.outcome;
  } catch (err) {
    if (err instanceof ApiError) {
      throw err; // 4xx: err.code and err.field say what to fix
    }
    console.log(`${req.txn?.id}: no answer (${(err as Error).message}): ${FALLBACK}`);
    return FALLBACK;
  }
}

async function main(): Promise<void> {
  const uid = `u-example-${randomUUID().slice(0, 8)}`;
  const txnId = `t-${randomUUID().slice(0, 8)}`;
  // 6000 CNY from a new device abroad, for an account opened in 2021 in CN.
  const payment: DecideRequest = {
    request_id: `r-${txnId}`,
    stage: "payment",
    uid,
    device: { id: "d-77", ip: "203.0.113.7", ip_country: "SG", new: true },
    txn: { id: txnId, amount: 6000, currency: "CNY", category: "digital" },
    account: { home_country: "CN", created_at: "2021-03-01T00:00:00Z" },
  };

  // At start: wait for a ready sidecar. This also opens the connection and
  // loads Node's fetch (the first fetch of a process loads undici), so the
  // first decision is not slowed by either.
  await pdp.ready({ timeoutMs: 2000 });

  const first = await pdp.decide(payment);
  console.log(`${txnId}: ${first.outcome} ${first.reasons.join(",")} "${first.message}"`);
  if (first.outcome === "step_up" && first.step_up?.challenge_id) {
    // The app runs each check (face, sms…); the service reports each result.
    for (const method of first.step_up.methods) {
      const v = await pdp.verify({ challenge_id: first.step_up.challenge_id, method, result: "passed" });
      console.log(`  ${method} passed: verification ${v.status}`);
    }
    // The same operation again, naming its challenge.
    const outcome = await decide({ ...payment, challenge_id: first.step_up.challenge_id });
    if (outcome === "allow") {
      // ... charge the card, then say what became of it.
      const o = await pdp.outcome({ uid, txn_id: txnId, status: "completed", amount: 6000, currency: "CNY" });
      console.log(`  outcome ${o.status} recorded: ${o.recorded}`);
    }
  }

  const s = await pdp.status(uid);
  console.log(`${uid}: ${s.status}, can appeal: ${s.can_appeal}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
