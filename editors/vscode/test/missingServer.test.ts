// A wrong scribe.serverPath: activation says what to fix instead of failing silently.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FakeVscode } from './fakeVscode';
import { PYTHON, makeRepo, waitUntil } from './server';

const repo = makeRepo();
const fake = new FakeVscode(repo.root);
fake.settings['scribe.serverPath'] = '/nonexistent/scribe-ls';
const uninstall = fake.install();
const subscriptions: { dispose(): unknown }[] = [];

after(async () => {
  for (const subscription of subscriptions.reverse()) await subscription.dispose();
  uninstall();
  repo.cleanup();
});

test('the error names the command and the settings, the status bar shows a warning', async () => {
  const extension = require('../extension.js');
  const activated = extension.activate({ subscriptions });
  await activated.ready;
  assert.equal(activated.api(), undefined);
  // (vscode-languageclient shows its own "couldn't create connection" error too.)
  const error = fake.messages.find((m) => m.level === 'error' && m.text.startsWith('Scribe: could not start'));
  assert.ok(error, JSON.stringify(fake.messages));
  assert.match(error.text, /^Scribe: could not start "\/nonexistent\/scribe-ls serve"/);
  assert.match(error.text, /scribe\.serverPath/);
  assert.deepEqual(error.actions, ['Open Settings']);
  assert.equal(fake.statusBarItems[0].text, '$(warning) Scribe');
  // Commands still answer, with the reason instead of a crash.
  const vscode = require('vscode');
  await vscode.commands.executeCommand('scribe.copyContext');
  assert.match(fake.messages.at(-1)!.text, /the scribe-ls server is not running/);
});

test('a corrected scribe.serverPath starts the server at once', async () => {
  fake.settings['scribe.serverPath'] = PYTHON;
  fake.settings['scribe.serverArgs'] = ['-m', 'scribe_ls', 'serve'];
  const touched = new Set(['scribe.serverPath']);
  fake.fire('workspace.onDidChangeConfiguration', { affectsConfiguration: (key: string) => touched.has(key) });
  await waitUntil(() => fake.statusBarItems[0].text.endsWith('Scribe: no session'), 'the server to start', 20_000);
});
