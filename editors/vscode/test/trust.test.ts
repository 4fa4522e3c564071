// Workspace Trust: the manifest says Restricted Mode is not supported (VS Code then never
// activates the extension in an untrusted folder), and an activation there anyway starts
// no server.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FakeVscode } from './fakeVscode';
import { makeRepo } from './server';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
const repo = makeRepo();
const fake = new FakeVscode(repo.root);
fake.trusted = false;
const uninstall = fake.install();

after(() => {
  uninstall();
  repo.cleanup();
});

test('the manifest declares untrusted and virtual workspaces unsupported, saying why', () => {
  const untrusted = manifest.capabilities.untrustedWorkspaces;
  assert.equal(untrusted.supported, false);
  assert.match(untrusted.description, /runs git in the folder/);
  assert.match(untrusted.description, /Restricted Mode nothing is started/);
  assert.equal(manifest.capabilities.virtualWorkspaces.supported, false);
});

test('in an untrusted folder the extension starts nothing', async () => {
  const extension = require('../extension.js');
  const subscriptions: { dispose(): unknown }[] = [];
  assert.equal(extension.activate({ subscriptions }), undefined);
  assert.equal(subscriptions.length, 0);
  assert.equal(fake.statusBarItems.length, 0);
  assert.deepEqual(fake.messages, []);
});
