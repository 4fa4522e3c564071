// Workspace Trust: in Restricted Mode the extension starts nothing (the manifest says so:
// "limited" support), and once the folder is trusted it starts, without a reload.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FakeVscode } from './fakeVscode';
import { PYTHON, makeRepo, waitUntil } from './server';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
const repo = makeRepo();
const fake = new FakeVscode(repo.root);
fake.trusted = false;
fake.settings['scribe.serverPath'] = PYTHON;
fake.settings['scribe.serverArgs'] = ['-m', 'scribe_ls', 'serve'];
const uninstall = fake.install();
const subscriptions: { dispose(): unknown }[] = [];

after(async () => {
  for (const subscription of subscriptions.reverse()) await subscription.dispose();
  uninstall();
  repo.cleanup();
});

test('the manifest says what Restricted Mode does and why; virtual workspaces unsupported', () => {
  const untrusted = manifest.capabilities.untrustedWorkspaces;
  assert.equal(untrusted.supported, 'limited');
  assert.match(untrusted.description, /runs git in the folder/);
  assert.match(untrusted.description, /Restricted Mode nothing is started; once you trust the folder, Scribe starts/);
  assert.equal(manifest.capabilities.virtualWorkspaces.supported, false);
});

test('in an untrusted folder the extension starts nothing until the folder is trusted', async () => {
  const extension = require('../extension.js');
  assert.equal(extension.activate({ subscriptions }), undefined);
  assert.equal(subscriptions.length, 1); // the wait for trust, and nothing else
  assert.equal(fake.statusBarItems.length, 0);
  assert.deepEqual(fake.messages, []);
  assert.equal(fake.commands.has('scribe.startSession'), false);
  fake.trusted = true;
  fake.fire('workspace.onDidGrantWorkspaceTrust', undefined);
  await waitUntil(() => (fake.statusBarItems[0]?.text ?? '').endsWith('Scribe: no session'), 'the status bar', 20_000);
  assert.equal(fake.commands.has('scribe.startSession'), true);
});
