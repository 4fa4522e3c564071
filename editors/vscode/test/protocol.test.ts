// The extension's protocol layer (src/protocol.ts) against the real server process, through
// vscode-jsonrpc: the same ScribeApi the extension runs over its LanguageClient.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCodes, ScribeApi, type WorkDoneProgressValue, errorCode } from '../src/protocol';
import { type RunningServer, asScribeConnection, makeRepo, nextPush, progressType, startServer } from './server';

let repo: { root: string; cleanup(): void };
let server: RunningServer;
let api: ScribeApi;

before(async () => {
  repo = makeRepo();
  server = await startServer(repo.root);
  api = new ScribeApi(asScribeConnection(server.connection), progressType);
});

after(async () => {
  await server?.stop();
  repo?.cleanup();
});

test('start takes the backlog id from the branch, and a note comes back as entryAdded', async () => {
  const started = nextPush(api.onSessionChanged.bind(api), 'sessionChanged started', (p) => p.change === 'started');
  const session = await api.startSession();
  assert.equal(session.backlogId, 'B-4242');
  assert.equal(session.status, 'active');
  assert.equal((await started).session.id, session.id);
  assert.equal((await api.currentSession())?.id, session.id);

  const pushed = nextPush(api.onEntryAdded.bind(api), 'entryAdded', (p) => p.entry.text === 'first note');
  const entry = await api.appendEntry({ text: 'first note', files: ['README.md'] });
  assert.deepEqual((await pushed).entry, entry);
  const worklog = readFileSync(path.join(repo.root, '.scribe', 'worklogs', 'B-4242.md'), 'utf8');
  assert.match(worklog, /- first note\n {2}- README\.md/);
});

test('a file saved in the work tree arrives as scribe/activity', async () => {
  const session = await api.startSession(); // idempotent: the same session
  const activity = nextPush(api.onActivity.bind(api), 'activity for saved.py', (p) =>
    p.files.some((f) => f.path === 'saved.py'),
  );
  writeFileSync(path.join(repo.root, 'saved.py'), 'x = 1\n');
  const params = await activity;
  assert.equal(params.sessionId, session.id);
  assert.deepEqual(
    params.files.find((f) => f.path === 'saved.py'),
    { path: 'saved.py', change: 'added' },
  );
});

test('the context packet in Markdown names the session and the changed file', async () => {
  writeFileSync(path.join(repo.root, 'context.py'), 'y = 2\n');
  const packet = await api.getContext({ format: 'markdown', maxChars: 4000 });
  assert.ok(packet.markdown && packet.markdown.length <= 4000);
  assert.match(packet.markdown, /B-4242/);
  assert.match(packet.markdown, /context\.py/);
  assert.equal(packet.sections.session.ok, true);
});

test('bad params are -32602 naming the field; a missing session is -32010', async () => {
  await assert.rejects(api.appendEntry({ text: '' }), (error: Error) => {
    assert.equal(errorCode(error), ErrorCodes.invalidParams);
    assert.match(error.message, /^text: /);
    return true;
  });
  await assert.rejects(api.getSession('s-missing'), (error) => errorCode(error) === ErrorCodes.sessionNotFound);
  assert.equal((await api.status()).root, repo.root); // and the server carries on
});

test('summarize reports $/progress and pushes summaryReady', async () => {
  await api.appendEntry({ text: 'ship the extension', kind: 'decision' });
  const ready = nextPush(api.onSummaryReady.bind(api), 'summaryReady');
  const reports: WorkDoneProgressValue[] = [];
  const summary = await api.summarize(undefined, (value) => reports.push(value));
  assert.deepEqual(summary.decisions, ['ship the extension']);
  assert.equal((await ready).path, summary.path);
  assert.equal(readFileSync(summary.path, 'utf8'), summary.markdown);
  assert.deepEqual(
    [reports[0]?.kind, reports.at(-1)?.kind],
    ['begin', 'end'],
    `progress kinds: ${reports.map((r) => r.kind).join(', ')}`,
  );
  assert.ok(reports.some((r) => r.kind === 'report'));
});

test('stop completes the session', async () => {
  const stopped = nextPush(api.onSessionChanged.bind(api), 'sessionChanged stopped', (p) => p.change === 'stopped');
  const session = await api.stopSession();
  assert.equal(session.status, 'completed');
  assert.equal((await stopped).session.id, session.id);
  await assert.rejects(api.stopSession(), (error) => errorCode(error) === ErrorCodes.noCurrentSession);
});
