// The real scribe-ls server in a real git repository, over a vscode-jsonrpc connection.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type MessageConnection,
  ProgressType,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
} from 'vscode-jsonrpc/node';
import type { ScribeConnection } from '../src/protocol';

// CI passes the venv's interpreter (tests/e2e/test_vscode.py sets it); by hand, python3.
export const PYTHON = process.env.SCRIBE_PYTHON || 'python3';
export const BRANCH = 'feature/B-4242-x';
export const PUSH_TIMEOUT_MS = 5000;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' });
}

/** A temp git repository on feature/B-4242-x with one commit; `cleanup()` removes it. */
export function makeRepo(): { root: string; cleanup(): void } {
  const base = mkdtempSync(path.join(tmpdir(), 'scribe-vscode-'));
  const root = path.join(base, 'repo');
  execFileSync('git', ['init', '-q', '-b', BRANCH, root]);
  git(root, 'config', 'user.email', 'dev@example.com');
  git(root, 'config', 'user.name', 'Dev');
  writeFileSync(path.join(root, 'README.md'), '# demo\n');
  git(root, 'add', 'README.md');
  git(root, 'commit', '-q', '-m', 'initial');
  return { root, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

export interface RunningServer {
  process: ChildProcess;
  connection: MessageConnection;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Start `python -m scribe_ls serve` in `root` and run the LSP handshake. */
export async function startServer(root: string): Promise<RunningServer> {
  const child = spawn(PYTHON, ['-m', 'scribe_ls', 'serve'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  connection.listen();
  const uri = pathToFileURL(root).href;
  await withTimeout(
    connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: uri,
      workspaceFolders: [{ uri, name: 'repo' }],
      capabilities: { window: { workDoneProgress: true } },
      clientInfo: { name: 'scribe-vscode-tests' },
    }),
    15_000,
    `initialize (server stderr: ${stderr})`,
  );
  await connection.sendNotification('initialized', {});
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    connection,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        try {
          await withTimeout(connection.sendRequest('shutdown'), 5000, 'shutdown');
          await connection.sendNotification('exit');
        } catch {
          child.kill('SIGKILL');
        }
        await withTimeout(exited, 5000, 'the server to exit').catch(() => child.kill('SIGKILL'));
      }
      connection.dispose();
    },
  };
}

/** The connection as the extension's protocol layer sees it. */
export function asScribeConnection(connection: MessageConnection): ScribeConnection {
  return connection as unknown as ScribeConnection;
}

export const progressType = new ProgressType<unknown>();

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the first push that satisfies `accept`; rejects after PUSH_TIMEOUT_MS. */
export function nextPush<T>(
  subscribe: (handler: (params: T) => void) => { dispose(): unknown },
  what: string,
  accept: (params: T) => boolean = () => true,
): Promise<T> {
  let subscription: { dispose(): unknown } | undefined;
  const received = new Promise<T>((resolve) => {
    subscription = subscribe((params) => {
      if (accept(params)) resolve(params);
    });
  });
  return withTimeout(received, PUSH_TIMEOUT_MS, what).finally(() => subscription?.dispose());
}

/** Poll `check` until it is true; fail (never hang) after `ms`. */
export async function waitUntil(check: () => boolean, what: string, ms = PUSH_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The built bundle (dist/extension.js) activated in a fake VS Code on `root`, its server
 *  the real one run by PYTHON; `subscriptions` are what deactivation disposes. */
export async function activateExtension(
  fake: { settings: Record<string, unknown>; install(): () => void; log: string[] },
  subscriptions: { dispose(): unknown }[],
): Promise<{ activated: NonNullable<ReturnType<typeof import('../src/extension')['activate']>>; uninstall: () => void }> {
  fake.settings['scribe.serverPath'] = PYTHON;
  fake.settings['scribe.serverArgs'] = ['-m', 'scribe_ls', 'serve'];
  const uninstall = fake.install();
  // The bundle under test (esbuild leaves this require alone: it is the built file).
  const extension: typeof import('../src/extension') = require('../extension.js');
  const activated = extension.activate({ subscriptions } as never)!;
  await activated.ready;
  if (!activated.api()) throw new Error(`the server did not start: ${fake.log.join('\n')}`);
  return { activated, uninstall };
}
