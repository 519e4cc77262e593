// A live `pdp serve` for the client's tests, and TCP helpers: a proxy that
// counts the connections it accepts (and can cut the first ones) and a
// listener that accepts and never answers.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** A running sidecar. */
export interface Sidecar {
  /** The decision listener, "127.0.0.1:PORT". */
  addr: string;
  /** The operator API, "http://127.0.0.1:PORT". */
  admin: string;
  /** A write token of the operator API. */
  adminToken: string;
  /** What the sidecar logged so far. */
  logs(): string;
  stop(): Promise<void>;
}

/** A loopback port free at the time of asking. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok, fail) => srv.once("error", fail).listen(0, "127.0.0.1", ok));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

/**
 * Starts PDP_BIN (default bin/pdp of the repository) as `pdp serve` on two
 * free loopback ports, over a state file in a temporary directory, with the
 * embedded reference policies, and waits until /health/ready answers 200.
 */
export async function startSidecar(): Promise<Sidecar> {
  const bin = process.env.PDP_BIN ?? resolve(__dirname, "../../../../../bin/pdp");
  const dir = mkdtempSync(join(tmpdir(), "pdp-client-ts-"));
  const adminToken = "client-ts-test-token-0123456789abcdef";
  writeFileSync(join(dir, "tokens"), `${adminToken} write tester\n`, { mode: 0o600 });
  // A policy budget a machine loaded by other tests keeps (as the Go tests do).
  writeFileSync(join(dir, "pdp.yaml"), "policies:\n  eval_timeout: 2s\n");
  const port = await freePort();
  const adminPort = await freePort();
  let out = "";
  const child: ChildProcess = spawn(
    bin,
    [
      "serve",
      "--addr", `127.0.0.1:${port}`,
      "--admin-addr", `127.0.0.1:${adminPort}`,
      "--admin-token-file", join(dir, "tokens"),
      "--state", join(dir, "state.db"),
      "--config", join(dir, "pdp.yaml"),
      "--log-format", "text",
    ],
    // cwd without ./policies: the embedded reference policies.
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  let exited: string | undefined;
  const done = new Promise<void>((ok) =>
    child.once("exit", (code, signal) => {
      exited = `exit ${code ?? signal}`;
      ok();
    }),
  );
  child.once("error", (err) => (exited = String(err)));
  const stop = async () => {
    if (exited === undefined) {
      child.kill("SIGTERM");
      await done;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`pdp serve (${bin}) ended (${exited}) before it was ready:\n${out}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      await res.arrayBuffer();
      if (res.status === 200) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pdp serve not ready after 60 s:\n${out}`);
    }
    await new Promise((ok) => setTimeout(ok, 25));
  }
  return { addr: `127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}`, adminToken, logs: () => out, stop };
}

/** A TCP proxy to a target that counts the connections it accepts. */
export interface Proxy {
  /** "127.0.0.1:PORT". */
  addr: string;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * Starts a proxy to target ("127.0.0.1:PORT"). The first `cut` connections
 * it accepts are closed (reset) as soon as the client sends its request, so
 * the request never reaches the sidecar. With hostHeader, the Host header of what
 * the client sends is rewritten to it (small requests: one header per chunk).
 */
export async function startProxy(target: string, cut = 0, hostHeader?: string): Promise<Proxy> {
  const [host, port] = splitAddr(target);
  let accepted = 0;
  const sockets = new Set<Socket>();
  const srv: Server = createServer((client) => {
    const n = ++accepted;
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    if (n <= cut) {
      client.once("data", () => client.resetAndDestroy());
      return;
    }
    const upstream = connect(port, host);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    if (hostHeader === undefined) {
      client.pipe(upstream);
    } else {
      client.on("data", (b: Buffer) => upstream.write(b.toString("latin1").replace(/\r\nhost: [^\r]*/i, `\r\nhost: ${hostHeader}`), "latin1"));
      client.on("end", () => upstream.end());
    }
    upstream.pipe(client);
  });
  await new Promise<void>((ok, fail) => srv.once("error", fail).listen(0, "127.0.0.1", ok));
  return {
    addr: `127.0.0.1:${(srv.address() as { port: number }).port}`,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) {
          s.destroy();
        }
        srv.close(() => ok());
      }),
  };
}

/** A listener that accepts connections, reads, and never answers. */
export async function startSilent(): Promise<{ addr: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    s.resume();
  });
  await new Promise<void>((ok, fail) => srv.once("error", fail).listen(0, "127.0.0.1", ok));
  return {
    addr: `127.0.0.1:${(srv.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) {
          s.destroy();
        }
        srv.close(() => ok());
      }),
  };
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}
