// Overlap warnings with two linked worktrees of one repository: the extension on the main
// one (B-4242), the real server over a bare connection on the other (B-5555), both touching
// shared.py. Each side hears one scribe/overlap; the extension warns once per file and
// session, even after its server restarted and was told again.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Entry, OverlapParams } from '../src/protocol';
import { FakeVscode } from './fakeVscode';
import { type RunningServer, activateExtension, makeRepo, startServer, waitUntil } from './server';

type Extension = typeof import('../src/extension');

let repo: { root: string; cleanup(): void };
let second: string;
let fake: FakeVscode;
let uninstall: () => void;
let activated: NonNullable<ReturnType<Extension['activate']>>;
let other: RunningServer;
const heardThere: OverlapParams[] = [];
const subscriptions: { dispose(): unknown }[] = [];

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, { cwd });
}

function configure(root: string): void {
  mkdirSync(path.join(root, '.scribe'), { recursive: true });
  writeFileSync(path.join(root, '.scribe', 'config.toml'), 'activity_window = 0.2\n');
}

const warningsAbout = (file: string) =>
  fake.messages.filter((m) => m.level === 'warning' && m.text.includes(`also working on ${file}`));

/** Save `file` in `root` until the session's activity entries name it. */
async function recorded(root: string, file: string, entries: () => Promise<Entry[]>): Promise<void> {
  for (let attempt = 0; attempt < 60; attempt++) {
    writeFileSync(path.join(root, file), `x = ${attempt}\n`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    if ((await entries()).some((e) => e.kind === 'activity' && e.files.includes(file))) return;
  }
  throw new Error(`${file} was never recorded in ${root}`);
}

async function entriesHere(): Promise<Entry[]> {
  const api = activated.api()!;
  const sessionId = activated.state.session!.id;
  const result = await api.connection.sendRequest<{ entries: Entry[] }>('scribe/getEntries', { sessionId, kinds: ['activity'] });
  return result.entries;
}

before(async () => {
  repo = makeRepo();
  repo.root = realpathSync(repo.root); // the server names worktrees by their real paths
  writeFileSync(path.join(repo.root, 'shared.py'), 'x = 0\n');
  git(repo.root, 'add', 'shared.py');
  git(repo.root, 'commit', '-q', '-m', 'shared');
  second = path.join(path.dirname(repo.root), 'second');
  git(repo.root, 'worktree', 'add', '-q', second, '-b', 'feature/B-5555-other');
  configure(repo.root);
  configure(second);
  fake = new FakeVscode(repo.root);
  ({ activated, uninstall } = await activateExtension(fake, subscriptions));
  other = await startServer(second);
  other.connection.onNotification('scribe/overlap', (params: OverlapParams) => {
    heardThere.push(params);
  });
});

after(async () => {
  for (const subscription of subscriptions.reverse()) await subscription.dispose();
  await other?.stop();
  uninstall?.();
  repo?.cleanup();
});

test('a file both worktrees touch: one warning here naming the other item, one push there', async () => {
  fake.answers.push(''); // the input box left empty: the branch's item
  await require('vscode').commands.executeCommand('scribe.startSession');
  await waitUntil(() => activated.state.session?.backlogId === 'B-4242', 'B-4242 started here');
  const theirs = await other.connection.sendRequest<{ id: string; backlogId: string }>('scribe/startSession', {});
  assert.equal(theirs.backlogId, 'B-5555');

  await recorded(repo.root, 'shared.py', entriesHere); // B-4242 touched it first
  writeFileSync(path.join(second, 'shared.py'), "x = 'changed in the other worktree'\n");
  await waitUntil(() => warningsAbout('shared.py').length > 0, 'the overlap warning', 15_000);
  const [warning] = warningsAbout('shared.py');
  assert.equal(
    warning.text,
    `Scribe: B-5555 is also working on shared.py (branch feature/B-5555-other, worktree ${realpathSync(second)}).`,
  );
  await waitUntil(() => heardThere.some((p) => p.files.includes('shared.py')), 'the push to the other worktree', 15_000);
  const there = heardThere.find((p) => p.files.includes('shared.py'))!;
  assert.equal(there.sessionId, theirs.id);
  assert.equal(there.otherSession.backlogId, 'B-4242');
  assert.equal(there.otherSession.root, repo.root);

  // Saving it again on either side warns nobody again.
  writeFileSync(path.join(second, 'shared.py'), "x = 'again'\n");
  writeFileSync(path.join(repo.root, 'shared.py'), "x = 'here too'\n");
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(warningsAbout('shared.py').length, 1);
  assert.equal(heardThere.filter((p) => p.files.includes('shared.py')).length, 1);
});

test('a restarted server that tells it again does not make the editor warn again', async () => {
  await require('vscode').commands.executeCommand('scribe.restartServer');
  await waitUntil(() => activated.api() !== undefined && activated.state.session?.backlogId === 'B-4242', 'the restart');
  // The new server has forgotten what it told: a save here is an overlap to it again.
  // (A connection has one handler per push: the test counts what the extension heard.)
  const heard = activated.overlaps.heardCount;
  for (let attempt = 0; attempt < 40 && activated.overlaps.heardCount === heard; attempt++) {
    writeFileSync(path.join(repo.root, 'shared.py'), `x = 'after the restart ${attempt}'\n`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.ok(activated.overlaps.heardCount > heard, 'the restarted server told the overlap again');
  assert.equal(warningsAbout('shared.py').length, 1);
});
