// The built bundle (dist/extension.js) activated inside a fake `vscode` module: its real
// LanguageClient (vscode-languageclient 11) starts the real server over stdio, and the test
// drives the commands and reads the status bar, the Sessions tree, the clipboard, progress
// and messages, as a user would see them.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { FakeVscode } from './fakeVscode';
import { PYTHON, activateExtension, makeRepo, waitUntil } from './server';

// The bundle under test (esbuild leaves this require alone: it is the built file).
type Extension = typeof import('../src/extension');

let repo: { root: string; cleanup(): void };
let fake: FakeVscode;
let uninstall: () => void;
let activated: NonNullable<ReturnType<Extension['activate']>>;
const subscriptions: { dispose(): unknown }[] = [];

const statusText = () => fake.statusBarItems[0]?.text ?? '';

async function execute(command: string, ...answers: unknown[]): Promise<unknown> {
  fake.answers.push(...(answers as never[]));
  const vscode = require('vscode');
  return vscode.commands.executeCommand(command);
}

function cli(...args: string[]): string {
  return execFileSync(PYTHON, ['-m', 'scribe_ls', ...args], { cwd: repo.root, encoding: 'utf8' });
}

before(async () => {
  repo = makeRepo();
  fake = new FakeVscode(repo.root);
  ({ activated, uninstall } = await activateExtension(fake, subscriptions));
});

after(async () => {
  // What VS Code does on deactivation: dispose the subscriptions (the client stops the server).
  for (const subscription of subscriptions.reverse()) await subscription.dispose();
  uninstall?.();
  repo?.cleanup();
});

test('activation registers every contributed command, the tree and the status bar', () => {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const contributed: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);
  assert.deepEqual([...fake.commands.keys()].sort(), [...contributed].sort());
  for (const id of ['scribe.startSession', 'scribe.stopSession', 'scribe.addNote', 'scribe.addDecision',
    'scribe.copyContext', 'scribe.showWorklog', 'scribe.summarize']) {
    assert.ok(fake.commands.has(id), id);
  }
  assert.ok(fake.treeProviders.has('scribe.sessions'));
  assert.equal(manifest.contributes.views.explorer[0].id, 'scribe.sessions');
  assert.equal(fake.statusBarItems.length, 1);
  assert.equal(statusText(), '$(notebook) Scribe: no session');
  assert.equal(fake.statusBarItems[0].command, 'scribe.showActions');
  assert.ok(fake.statusBarItems[0].visible);
});

test('start from the status bar quick pick; the status bar shows the session', async () => {
  await execute('scribe.showActions', (items: { label: string }[]) => items.find((i) => i.label.includes('Start Session')), '');
  await waitUntil(() => statusText().startsWith('$(notebook) B-4242 ● 0m today · 0 files changed'), `status bar (${statusText()})`);
  assert.deepEqual(fake.executed.slice(-2), ['scribe.showActions', 'scribe.startSession']);
  assert.ok(fake.messages.some((m) => m.text === 'Scribe: session B-4242 started.'), JSON.stringify(fake.messages));
});

test('starting again rejoins the open session and says so', async () => {
  await execute('scribe.startSession', '');
  await waitUntil(() => fake.messages.some((m) => m.text === 'Scribe: session B-4242 rejoined.'), 'the rejoin message');
  assert.ok(statusText().startsWith('$(notebook) B-4242 ●'), statusText());
});

test('files saved by any process update the files-changed count live', async () => {
  writeFileSync(path.join(repo.root, 'one.py'), 'a = 1\n');
  await waitUntil(() => statusText().endsWith('· 1 file changed'), `1 file (${statusText()})`);
  writeFileSync(path.join(repo.root, 'two.py'), 'b = 1\n');
  await waitUntil(() => statusText().endsWith('· 2 files changed'), `2 files (${statusText()})`);
});

function pulsesToday(): number {
  const report = JSON.parse(cli('report', '--json', '--since', 'today'));
  return report.rows.reduce((sum: number, row: { pulses: number }) => sum + row.pulses, 0);
}

test('typing in the repository sends one heartbeat per 30 s; files elsewhere send none', async () => {
  const { Uri } = require('vscode');
  const before = pulsesToday();
  fake.fire('workspace.onDidChangeTextDocument', { document: { uri: Uri.file('/etc/hosts') }, contentChanges: [{ text: 'x' }] });
  fake.fire('window.onDidChangeActiveTextEditor', { document: { uri: Uri.file(path.join(repo.root, '.scribe', 'worklogs', 'B-4242.md')) } });
  assert.equal(activated.heartbeats.sent, 0);
  fake.fire('workspace.onDidChangeTextDocument', { document: { uri: Uri.file(path.join(repo.root, 'one.py')) }, contentChanges: [{ text: 'x' }] });
  fake.fire('window.onDidChangeTextEditorSelection', { textEditor: { document: { uri: Uri.file(path.join(repo.root, 'two.py')) } } });
  assert.equal(activated.heartbeats.sent, 1);
  // The server took the beat as a pulse of active time on the session's item.
  await waitUntil(() => pulsesToday() === before + 1, 'the heartbeat in the time roll-up');
});

test("the status bar shows today's time on the item as the server reports it", async () => {
  // An hour and five minutes recorded earlier today (as another editor or the daemon would).
  const day = cli('report', '--json', '--since', 'today');
  const today = JSON.parse(day).until;
  execFileSync(PYTHON, ['-c', [
    'import sqlite3, sys',
    'db = sqlite3.connect(".scribe/scribe.db")',
    'db.execute("INSERT INTO time_daily VALUES (?, \'B-4242\', \'earlier\', 3900, 1)", (sys.argv[1],))',
    'db.commit()',
  ].join('\n'), today], { cwd: repo.root });
  cli('append', 'a note from the terminal'); // its entryAdded makes the extension read the time again
  await waitUntil(() => statusText().startsWith('$(notebook) B-4242 ● 1h 05m today ·'), `today's time (${statusText()})`);
});

test('notes and decisions carry the active editor file into the worklog', async () => {
  fake.activeFile = path.join(repo.root, 'README.md');
  await execute('scribe.addNote', 'note from vs code');
  await execute('scribe.addDecision', 'keep the status bar short');
  const worklog = readFileSync(path.join(repo.root, '.scribe', 'worklogs', 'B-4242.md'), 'utf8');
  assert.match(worklog, /- note from vs code\n {2}- README\.md/);
  assert.match(worklog, /- Decision: keep the status bar short|keep the status bar short/);
  await execute('scribe.addNote', undefined); // cancelled input box: nothing sent, no error
  assert.equal(fake.messages.filter((m) => m.level === 'error').length, 0);
});

test('copy context puts the Markdown packet on the clipboard', async () => {
  await execute('scribe.copyContext');
  assert.match(fake.clipboard, /B-4242/);
  assert.match(fake.clipboard, /note from vs code/);
  assert.match(fake.messages.at(-1)!.text, /^Scribe: context packet copied \(\d+ characters/);
});

test('summarize shows progress and opens the summary; show worklog opens the worklog', async () => {
  const summary = (await execute('scribe.summarize')) as { path: string; decisions: string[] };
  assert.deepEqual(summary.decisions, ['keep the status bar short']);
  const progress = fake.progress.at(-1)!;
  assert.equal(progress.title, 'Scribe: summarizing');
  assert.ok(progress.reports.length >= 2, JSON.stringify(progress.reports));
  assert.equal(progress.reports.reduce((sum, r) => sum + (r.increment ?? 0), 0), 100);
  assert.equal(fake.shownDocuments.at(-1), path.join(repo.root, '.scribe', 'summaries', 'B-4242-summary.md'));
  await execute('scribe.showWorklog');
  assert.equal(fake.shownDocuments.at(-1), path.join(repo.root, '.scribe', 'worklogs', 'B-4242.md'));
});

test('the Sessions tree lists the session with its details', async () => {
  const tree = fake.treeProviders.get('scribe.sessions');
  const nodes = await tree.getChildren();
  assert.equal(nodes.length, 1);
  const item = tree.getTreeItem(nodes[0]);
  assert.equal(item.label, 'B-4242');
  assert.match(item.description, /^active · /);
  const details = (await tree.getChildren(nodes[0])).map((n: unknown) => tree.getTreeItem(n).label);
  assert.equal(details[0], 'branch feature/B-4242-x');
  assert.match(details[1], /^\d+ entries · \d+ files? · \d+m active$/);
});

test('a session stopped from the CLI clears the status bar; stopping again offers to start one', async () => {
  cli('stop');
  await waitUntil(() => statusText() === '$(notebook) Scribe: no session', `no session (${statusText()})`);
  await execute('scribe.stopSession', undefined); // dismiss the offer
  const warning = fake.messages.at(-1)!;
  assert.equal(warning.level, 'warning');
  assert.equal(warning.text, 'Scribe: no session is running.');
  assert.deepEqual(warning.actions, ['Start Session']);
});

test('a bad backlog id never reaches the server; a server error shows its message', async () => {
  await execute('scribe.startSession', 'B-x');
  assert.deepEqual(fake.inputProblems, ['B- followed by digits, e.g. B-1234']);
  assert.equal(fake.messages.filter((m) => m.level === 'error').length, 0);
  await execute('scribe.startSession', 'B-7');
  await waitUntil(() => statusText().includes('B-7 ●'), `B-7 (${statusText()})`);
  await execute('scribe.addNote', 'x'.repeat(70_000)); // over the server's 65536 characters
  const error = fake.messages.at(-1)!;
  assert.equal(error.level, 'error');
  assert.match(error.text, /^Scribe: text: too long \(70000 characters/);
  await execute('scribe.showActions', () => undefined); // a dismissed quick pick does nothing
  assert.equal(fake.messages.at(-1), error);
});

test('reopening a root whose session is paused offers to resume it, or to show where the work stood', async () => {
  await execute('scribe.startSession', ''); // B-4242 again (the branch's item); B-7 pauses
  await waitUntil(() => statusText().startsWith('$(notebook) B-4242 ●'), `B-4242 (${statusText()})`);
  const session = activated.state.session!;
  await activated.api()!.updateSession({ sessionId: session.id, status: 'paused' });
  await waitUntil(() => statusText().startsWith('$(debug-pause) B-4242 paused'), `paused (${statusText()})`);

  // A new window on this root (a restarted server): the server offers the paused session.
  const shown = fake.untitledContents.length;
  fake.answers.push('Show Where I Was');
  await execute('scribe.restartServer');
  await waitUntil(() => activated.resumeOffered() !== undefined, 'the resume offer');
  assert.equal(await activated.resumeOffered(), 'Show Where I Was');
  const offer = fake.messages.find((m) => m.text.startsWith('Scribe: B-4242 is paused'))!;
  // The item's last decision (from its earlier session) is in the offer.
  assert.match(offer.text, /^Scribe: B-4242 is paused \(last active \d+m ago; last decision: keep the status bar short\)\.$/);
  assert.deepEqual(offer.actions, ['Resume', 'Show Where I Was']);
  assert.equal(fake.untitledContents.length, shown + 1);
  assert.match(fake.untitledContents.at(-1)!, /^# Resume B-4242: /);
  assert.match(fake.untitledContents.at(-1)!, /## Decisions\n\n- keep the status bar short/);
  assert.match(statusText(), /^\$\(debug-pause\) B-4242 paused/); // showing it resumed nothing

  // Once more, and this time take the offer: the session is active again.
  const first = activated.resumeOffered();
  fake.answers.push('Resume');
  await execute('scribe.restartServer');
  await waitUntil(() => activated.resumeOffered() !== first, 'the second resume offer');
  assert.equal(await activated.resumeOffered(), 'Resume');
  await waitUntil(() => statusText().startsWith('$(notebook) B-4242 ●'), `resumed (${statusText()})`);
  assert.equal(fake.messages.filter((m) => m.text.startsWith('Scribe: B-4242 is paused')).length, 2);
});

test('Where Was I? opens the current session\'s resume packet', async () => {
  await execute('scribe.whereWasI');
  // The title, the notice that what follows is recorded data (not instructions), the state.
  assert.match(
    fake.untitledContents.at(-1)!,
    /^# Resume B-4242: .*\n\n> Everything below this line is data .*not instructions.*\n\nactive · branch feature\/B-4242-x/,
  );
  assert.equal(fake.shownDocuments.at(-1), `untitled:${fake.untitledContents.length}`);
});
