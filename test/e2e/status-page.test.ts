/**
 * Issue #17 item 5, acceptance: the interLink API's status page, rendered by headless
 * Chromium (Debian's `chromium`, scripts/chromium/install.sh) while a live chain runs —
 * real apiserver, VK, API and the mock plugin (the page is the API's, not a backend's).
 *
 * The API listens on a unix socket with token auth, as in production; a browser sends no
 * bearer token by itself, so the test puts a small proxy in front that adds the header
 * (what docs/debugging.md suggests to users). Chromium dumps the rendered DOM (the pods'
 * names must be in it, a `<script>` from a pod only as text) and takes a screenshot,
 * written to test-output/ (git-ignored) and printed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN } from '../api/harness.ts';
import { type Chain, eventually, ROOT, reportOnFailure, startChain, suffix } from './harness.ts';

const execFileP = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = join(ROOT, 'test-output', 'status-page.png');
const id = suffix();
const PODS = ['web-1', 'web-2', 'batch-3'];
const EVIL = 'evil';
const SCRIPT = '<script>document.title="pwned"</script>';

let chain: Chain;
let proxy: Server;
let base: string;
let profileDir: string;

/** GET-only proxy: 127.0.0.1:<port> → the API's unix socket, with the chain's bearer token. */
function startProxy(socketPath: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    const upstream = httpRequest(
      { socketPath, path: req.url, method: 'GET', headers: { authorization: `Bearer ${TOKEN}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => res.writeHead(502).end(String(err)));
    upstream.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Headless Chromium with this run's own profile directory; returns its stdout. */
async function chromium(args: string[]): Promise<string> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/chromium/install.sh (as .ci/run does)`);
  }
  const { stdout } = await execFileP(
    CHROMIUM,
    [
      '--headless',
      '--disable-gpu',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${profileDir}`,
      // Chromium refuses to run as root with its sandbox; CI runs as root.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      ...args,
    ],
    { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

beforeAll(async () => {
  profileDir = await mkdtemp(join(tmpdir(), 'interlink-e2e-chromium-'));
  chain = await startChain({ plugin: 'mock', nodeName: `e2e-status-${id}`, namespace: `e2e-status-${id}` });
  proxy = await startProxy(join(chain.dir, 'api.sock'));
  base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  for (const name of PODS) {
    await chain.apply(
      chain.pod(
        name,
        { containers: [{ name: 'main', image: 'busybox' }] },
        { annotations: { 'mock.interlink.io/log-interval': '100ms', 'mock.interlink.io/log-lines': '5' } },
      ),
    );
  }
  // A create the plugin refuses with a message carrying a script: the page must show it as text.
  await chain.apply(
    chain.pod(
      EVIL,
      { containers: [{ name: 'main', image: 'busybox' }] },
      { annotations: { 'mock.interlink.io/create-error': `INVALID_INPUT: ${SCRIPT} refused` } },
    ),
  );
  for (const name of PODS) await chain.waitPhase(name, 'Running');
  await chain.waitPhase(EVIL, 'Failed');
});

afterAll(async () => {
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await chain?.stop();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

reportOnFailure(() => chain);

describe('status page in headless Chromium against a live chain (mock plugin)', () => {
  it('the API knows the running pods (polled by the VK) before the browser loads the page', async () => {
    await eventually(
      'every pod Running on the status page',
      async () => {
        const html = await (await fetch(`${base}/statuspage`)).text();
        return PODS.every((p) =>
          new RegExp(`${chain.namespace}/${p}</td><td class="uid">[^<]+</td><td class="phase-Running">`).test(
            html,
          ),
        );
      },
      60_000,
    );
  });

  it("renders the live chain's pods; a pod's <script> is text; no script element runs", async () => {
    const dom = await chromium(['--dump-dom', `${base}/statuspage`]);
    for (const p of [...PODS, EVIL]) expect(dom).toContain(`${chain.namespace}/${p}`);
    expect(dom).toContain('<span id="plugin" class="ok">');
    // The plugin's message after the API's `POST /create: ` context, escaped by the page.
    const asText = SCRIPT.replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    expect(dom).toMatch(/create failed: [^<]*&lt;script&gt;document.title="pwned"&lt;\/script&gt; refused/);
    expect(dom).toContain(asText);
    expect(dom).not.toMatch(/<script/i);
    expect(dom).toContain('<title>interLink API status</title>');
  });

  it("a pod's log link opens its log in the browser", async () => {
    const page = await (await fetch(`${base}/statuspage`)).text();
    const href = new RegExp(
      `href="(statuspage/logs\\?namespace=${chain.namespace}&amp;pod=web-1&amp;container=main)"`,
    ).exec(page)?.[1];
    expect(href).toBeDefined();
    const dom = await chromium(['--dump-dom', `${base}/${href!.replaceAll('&amp;', '&')}`]);
    expect(dom).toContain('main line 1');
  });

  it('takes a screenshot (PNG, written to test-output/ and printed)', async () => {
    await mkdir(join(ROOT, 'test-output'), { recursive: true });
    await rm(SCREENSHOT, { force: true });
    await chromium([`--screenshot=${SCREENSHOT}`, '--window-size=1400,700', `${base}/statuspage`]);
    const png = await readFile(SCREENSHOT);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.readUInt32BE(16)).toBe(1400); // IHDR width
    console.log(`[status-page] screenshot of the live chain's status page: ${SCREENSHOT}`);
  });
});
