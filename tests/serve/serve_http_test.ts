/**
 * The HTTP layer of `recsimu serve` over real sockets: what a client gets for a bad Host header,
 * HEAD, refused bodies (413, 408) and the requests that Deno's own HTTP/1 parser refuses before
 * the handler runs; `--host` validation through the real command; and the one shape of
 * predictions, `Simulator.predict` and `POST /v1/feedback` alike.
 */
import { join } from "node:path";
import { UserError } from "../../lib/errors.ts";
import { initBackend } from "../../lib/tf.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { trainRecSimu } from "../../lib/train/loop.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { createHandler } from "../../lib/serve/handler.ts";
import {
  hostProblem,
  isLoopback,
  type RunningServer,
  startServer,
} from "../../lib/serve/server.ts";
import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { runRecsimu } from "../_cli.ts";
import { FakeSimulator } from "../_fake_sim.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

/** What a raw client saw on one connection. */
interface Exchange {
  /** Everything received, as text. */
  text: string;
  /** True when the server closed (EOF) or reset the connection before the deadline. */
  closed: boolean;
  /** Milliseconds from the last write to the close (or the deadline). */
  ms: number;
}

/** Only a guard against hanging forever: no assertion is about how fast the server is. */
const HANG_GUARD_MS = 15_000;

/**
 * Writes `parts` to a new connection (pausing `gapMs` between them), then reads until the server
 * closes it, `until(text)` holds, or {@link HANG_GUARD_MS} pass. The client never closes first.
 */
async function exchange(
  port: number,
  parts: (string | Uint8Array)[],
  options: { gapMs?: number; until?: (text: string) => boolean } = {},
): Promise<Exchange> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const [i, p] of parts.entries()) {
      if (i > 0 && options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      await conn.write(typeof p === "string" ? new TextEncoder().encode(p) : p);
    }
    return await readUntilClosed(conn, options.until);
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

async function readUntilClosed(
  conn: Deno.Conn,
  until?: (text: string) => boolean,
): Promise<Exchange> {
  const t0 = performance.now();
  const buf = new Uint8Array(64 * 1024);
  const dec = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<"guard">((r) => (timer = setTimeout(() => r("guard"), HANG_GUARD_MS)));
  try {
    while (true) {
      const n = await Promise.race([conn.read(buf).catch(() => null), guard]);
      if (n === "guard") return { text, closed: false, ms: performance.now() - t0 };
      if (n === null) return { text, closed: true, ms: performance.now() - t0 };
      text += dec.decode(buf.subarray(0, n));
      if (until?.(text)) return { text, closed: false, ms: performance.now() - t0 };
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The status line's code and the JSON body of the first response in `text`. */
function parse(text: string): { status: number; head: string; body: string } {
  const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  assert(m !== null, `an HTTP response: ${JSON.stringify(text.slice(0, 300))}`);
  return { status: Number(m[1]), head: m[2]!.toLowerCase(), body: m[3]! };
}

function assertJsonError(text: string, status: number, code: string): void {
  const r = parse(text);
  assertEquals(r.status, status, text.slice(0, 300));
  assert(r.head.includes("content-type: application/json"), r.head);
  const len = Number(/content-length: (\d+)/.exec(r.head)?.[1]);
  assertEquals(JSON.parse(r.body.slice(0, len)).error.code, code);
}

async function withServer(
  options: Parameters<typeof startServer>[1],
  fn: (s: RunningServer) => Promise<void>,
): Promise<void> {
  const server = startServer(new FakeSimulator(), { port: 0, log: () => {}, ...options });
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
}

const FEEDBACK_HEAD = "POST /v1/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
  "Content-Type: application/json\r\n";

// --- Host ----------------------------------------------------------------------------------

Deno.test("a Host header that makes no URL is a 400 bad_host JSON error, not a 500", async () => {
  const logged: unknown[] = [];
  await withServer({ log: (_m, e) => logged.push(e) }, async ({ port }) => {
    for (const host of ["127.0.0.1:99999", "a b"]) {
      const x = await exchange(port, [`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`], {
        until: (t) => t.includes("}}"),
      });
      assertJsonError(x.text, 400, "bad_host");
      assert(x.text.includes(JSON.stringify(host).slice(1, -1)), `names the host: ${x.text}`);
    }
  });
  assertEquals(logged, [], "nothing is logged as an internal error");
});

// --- HEAD ----------------------------------------------------------------------------------

Deno.test("HEAD on a GET route answers like GET without a body; Allow lists HEAD", async () => {
  const h = createHandler(new FakeSimulator(), { log: () => {} });
  for (const path of ["/healthz", "/v1/model", "/v1/items?limit=3", "/openapi.json"]) {
    const get = await h(new Request(`http://127.0.0.1${path}`));
    const bytes = (await get.arrayBuffer()).byteLength;
    const head = await h(new Request(`http://127.0.0.1${path}`, { method: "HEAD" }));
    assertEquals(head.status, 200, path);
    assertEquals(head.body, null, `${path}: no body`);
    assertEquals(head.headers.get("content-type"), get.headers.get("content-type"));
    assertEquals(head.headers.get("content-length"), String(bytes), path);
  }
  const post = await h(new Request("http://127.0.0.1/v1/feedback", { method: "HEAD" }));
  assertEquals([post.status, post.headers.get("allow"), post.body], [405, "POST", null]);
  const wrong = await h(new Request("http://127.0.0.1/healthz", { method: "POST" }));
  assertEquals([wrong.status, wrong.headers.get("allow")], [405, "GET, HEAD"]);
  await wrong.body?.cancel();
  const options = await h(new Request("http://127.0.0.1/healthz", { method: "OPTIONS" }));
  assertEquals(options.status, 405, "OPTIONS stays 405 (CORS preflights aside)");
  await options.body?.cancel();
});

Deno.test("over TCP, HEAD sends headers only, so the next request on the connection works", async () => {
  await withServer({}, async ({ port }) => {
    const x = await exchange(port, [
      "HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ], { until: (t) => t.includes('{"status":"ok"}') });
    const responses = x.text.split(/(?=HTTP\/1\.1 )/);
    assertEquals(responses.length, 2, x.text);
    const head = parse(responses[0]!);
    assertEquals([head.status, head.body], [200, ""]);
    assert(head.head.includes("content-length: 15"), head.head);
    assertEquals(parse(responses[1]!).body, '{"status":"ok"}');
  });
});

// --- refused bodies close the connection ----------------------------------------------------

Deno.test("after a 413 for a huge Content-Length the server closes the connection", async () => {
  await withServer({ maxBodyBytes: 2048 }, async ({ port }) => {
    // 100 MB announced, 5 bytes sent, the client keeps its end open.
    const x = await exchange(port, [`${FEEDBACK_HEAD}Content-Length: 100000000\r\n\r\n{"a":`]);
    assertJsonError(x.text, 413, "body_too_large");
    assert(parse(x.text).head.includes("connection: close"), x.text);
    assert(x.closed, `closed without waiting for the other 99999995 bytes (${x.ms} ms)`);
  });
});

Deno.test("after a 413 for a streamed body over the limit the server closes the connection", async () => {
  await withServer({ maxBodyBytes: 2048 }, async ({ port }) => {
    const chunk = `1000\r\n${" ".repeat(4096)}\r\n`; // chunked, no end in sight
    const x = await exchange(port, [`${FEEDBACK_HEAD}Transfer-Encoding: chunked\r\n\r\n`, chunk], {
      gapMs: 50,
    });
    assertJsonError(x.text, 413, "body_too_large");
    assert(x.closed, `closed with the body unfinished (${x.ms} ms)`);
  });
});

Deno.test("after a 408 the connection closes as soon as the client sends anything more", async () => {
  await withServer({ bodyTimeoutSeconds: 0.2 }, async ({ port }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(
        new TextEncoder().encode(`${FEEDBACK_HEAD}Content-Length: 100\r\n\r\n{"a":`),
      );
      const first = await readUntilClosed(conn, (t) => t.includes("}}"));
      assertJsonError(first.text, 408, "body_timeout");
      assert(parse(first.text).head.includes("connection: close"), first.text);
      // A read of the body is still pending in Deno and holds the socket (docs/serve.md); the
      // next bytes end it, rather than Deno draining the 95 bytes still announced.
      await conn.write(new TextEncoder().encode(" "));
      const rest = await readUntilClosed(conn);
      assert(rest.closed, `closed after the next byte (${rest.ms} ms)`);
      assertEquals(rest.text, "");
    } finally {
      conn.close();
    }
  });
});

// --- what Deno's own HTTP/1 parser answers (docs/serve.md) ----------------------------------

Deno.test("requests Deno's HTTP parser refuses are answered 400 (or dropped) and closed, not hung", async () => {
  await withServer({}, async ({ port }) => {
    const big = "a".repeat(64 * 1024);
    const cases: [string, string, number | null][] = [
      [
        "a header of 64 KiB",
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`,
        400,
      ],
      ["a URL of 64 KiB", `GET /healthz?${big} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 400],
      [
        "Content-Length with chunked",
        `${FEEDBACK_HEAD}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
        400,
      ],
      [
        "a bad chunk size",
        `${FEEDBACK_HEAD}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
        null,
      ],
    ];
    for (const [what, request, status] of cases) {
      const x = await exchange(port, [request]);
      assert(x.closed, `${what}: the connection is closed (${x.ms} ms)`);
      if (status === null) assertEquals(x.text, "", `${what}: no answer`);
      else if (x.text !== "") assertEquals(parse(x.text).status, status, what); // a reset may win
    }
    // A bad chunk size that comes after the head reaches our body reader: a JSON 400.
    const late = await exchange(port, [
      `${FEEDBACK_HEAD}Transfer-Encoding: chunked\r\n\r\n`,
      "zz\r\nhello\r\n0\r\n\r\n",
    ], { gapMs: 100 });
    assertJsonError(late.text, 400, "bad_body");
    assert(late.closed, "and the connection is closed");
    // The server still answers afterwards.
    const ok = await exchange(port, ["GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"], {
      until: (t) => t.includes("}"),
    });
    assertEquals(parse(ok.text).status, 200);
  });
});

// --- --host ----------------------------------------------------------------------------------

Deno.test("hostProblem() refuses bad syntax and names that do not resolve; isLoopback() checks octets", () => {
  for (const h of ["127.0.0.1", "localhost", "::1", "[::1]"]) {
    assertEquals(hostProblem(h), undefined);
  }
  for (const h of ["127.999.1.1", "", " ", "::zz", "a b", "127.0.0.1:80", "nonexistent.invalid"]) {
    assert(hostProblem(h) !== undefined, `${JSON.stringify(h)} is refused`);
  }
  assertEquals(["127.999.1.1", "127.0.0.255", "127.256.0.1"].map(isLoopback), [false, true, false]);
  // startServer() itself says the host is bad (not "needs a token" for 127.999.1.1), a UserError.
  for (const hostname of ["127.999.1.1", "::zz", "nonexistent.invalid"]) {
    const e = (() => {
      try {
        startServer(new FakeSimulator(), { hostname, port: 0, token: "0123456789abcdef" })
          .shutdown();
      } catch (e) {
        return e;
      }
    })();
    assert(e instanceof UserError, `${hostname}: ${e}`);
    assert(e.message.includes(hostname) && !e.message.includes("token"), e.message);
  }
});

Deno.test("recsimu serve --host with a bad value fails with one line naming --host, exit 2", async () => {
  // No model needed: --host is checked before the model loads.
  for (const host of ["127.999.1.1", "", "::zz", "a b", "nonexistent.invalid"]) {
    const r = await runRecsimu(["serve", "--model", "no-such-model", "--host", host]);
    const lines = r.stderr.trim().split("\n");
    assertEquals(r.code, 2, `${JSON.stringify(host)}: ${r.stderr}`);
    assertEquals(lines.length, 1, `one line: ${r.stderr}`);
    assert(lines[0]!.startsWith("recsimu serve: --host "), lines[0]);
    assert(lines[0]!.includes(JSON.stringify(host)), `names the value: ${lines[0]}`);
  }
});

// --- one prediction shape --------------------------------------------------------------------

Deno.test("Simulator.predict() answers label → probability maps, as POST /v1/feedback does", async () => {
  await using tmp = await tempDir();
  await initBackend("cpu", { quiet: true });
  const text = synthText({ seed: 2, sessions: 40, items: 20, minLength: 8, maxLength: 12 });
  const ds = await datasetFromText(text, "log.csv", { stateLength: 5, minCount: 1 });
  const out = join(tmp.path, "model");
  const cfg = tinyConfig({ preGEpochs: 0, preDEpochs: 0, epochs: 0, i2vEpochs: 1 });
  const trained = await trainRecSimu(ds, cfg, { quiet: true, out });
  trained.model.dispose();
  const sim = await Simulator.load(out);
  try {
    const state = [{ item: sim.items[1]!, feedback: sim.labels[0]! }];
    const requests = [{ state: [], action: sim.items[0]! }, { state, action: sim.items[2]! }];
    const preds = await sim.predict(requests);
    const arrays = await sim.predictArrays(requests);
    const h = createHandler(sim, { log: () => {} });
    const res = await h(
      new Request("http://127.0.0.1/v1/feedback", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ requests }),
      }),
    );
    const http = (await res.json()).results;
    preds.forEach((p, i) => {
      assertEquals(Object.keys(p.probs), [...sim.labels], "the model's labels, in label order");
      const sum = Object.values(p.probs).reduce((a, b) => a + b, 0);
      assertAlmostEquals(sum, 1, 1e-6);
      assertEquals(Object.values(p.probs), arrays[i]!.probs, "the same numbers as predictArrays");
      assertEquals(http[i].probs, p.probs, "the same map as the HTTP answer");
      assertEquals(http[i].real, p.real);
    });
  } finally {
    sim.dispose();
  }
});
