// A server that stops on its own: restarted and said, at most MAX_RESTARTS times in three
// minutes, then left stopped with a message that says how to start it.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FakeVscode } from './fakeVscode';

// vscode-languageclient needs a `vscode` module: the stand-in, before it is loaded.
const uninstall = new FakeVscode(process.cwd()).install();
after(uninstall);
const { CloseAction } = require('vscode-languageclient/node') as typeof import('vscode-languageclient/node');
const { MAX_RESTARTS, RESTART_WINDOW_MS, ServerCrashes } =
  require('../src/serverCrashes') as typeof import('../src/serverCrashes');
type ServerCrashes = import('../src/serverCrashes').ServerCrashes;

function watched(clock: { now: number }): { crashes: ServerCrashes; heard: string[] } {
  const heard: string[] = [];
  const crashes = new ServerCrashes(() => clock.now);
  crashes.listener = {
    restarting: (message) => heard.push(`restarting: ${message}`),
    restarted: () => heard.push('restarted'),
    gaveUp: (message) => heard.push(`gave up: ${message}`),
  };
  return { crashes, heard };
}

test('each stop is said and restarted; running again is said once', () => {
  const clock = { now: 0 };
  const { crashes, heard } = watched(clock);
  crashes.running(); // the first start is not a restart
  assert.deepEqual(heard, []);
  const result = crashes.closed();
  assert.equal(result.action, CloseAction.Restart);
  assert.equal(result.handled, true); // said by the extension, not a second time by LanguageClient
  assert.match(heard[0], /^restarting: Scribe: the scribe-ls server stopped unexpectedly/);
  crashes.running();
  crashes.running();
  assert.deepEqual(heard.slice(1), ['restarted']);
});

test(`past ${MAX_RESTARTS} restarts in three minutes the server is left stopped, saying how to start it`, () => {
  const clock = { now: 0 };
  const { crashes, heard } = watched(clock);
  for (let stop = 0; stop < MAX_RESTARTS; stop++) {
    clock.now += 1000;
    assert.equal(crashes.closed().action, CloseAction.Restart);
  }
  clock.now += 1000;
  const last = crashes.closed();
  assert.equal(last.action, CloseAction.DoNotRestart);
  assert.match(String(last.message), /stopped 5 times in 3 minutes .*"Scribe: Restart Server" starts it again/);
  assert.match(heard.at(-1)!, /^gave up: /);
});

test('stops further apart than the window do not add up', () => {
  const clock = { now: 0 };
  const { crashes } = watched(clock);
  for (let stop = 0; stop < 20; stop++) {
    clock.now += RESTART_WINDOW_MS / MAX_RESTARTS + 1;
    assert.equal(crashes.closed().action, CloseAction.Restart, `stop ${stop}`);
  }
});
