// The server's stderr in the Output channel: each log line at its own level, anything else an error.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { type Level, logServerLine, parseServerLine, serverStdio } from '../src/serverLog';

function recorder(): { channel: Record<Level, (text: string) => void>; seen: [Level, string][] } {
  const seen: [Level, string][] = [];
  const at = (level: Level) => (text: string) => seen.push([level, text]);
  return { channel: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, seen };
}

test('each level of the server log is kept, its time stamp dropped', () => {
  const cases: [string, Level, string][] = [
    ['2026-12-07 09:30:00,123 DEBUG scribe_ls.git [42] ran git status', 'debug', 'scribe_ls.git [42] ran git status'],
    ['2026-12-07 09:30:00,123 INFO scribe_ls.rpc.server [42] Neovim 0.11 attached to /r', 'info', 'scribe_ls.rpc.server [42] Neovim 0.11 attached to /r'],
    ['2026-12-07 09:30:00,123 WARNING scribe_ls.config [42] unknown setting x', 'warn', 'scribe_ls.config [42] unknown setting x'],
    ['2026-12-07 09:30:00,123 ERROR scribe_ls.rpc.protocol [42] request 3 failed', 'error', 'scribe_ls.rpc.protocol [42] request 3 failed'],
    ['2026-12-07 09:30:00,123 CRITICAL scribe_ls [42] out of disk', 'error', 'scribe_ls [42] out of disk'],
  ];
  for (const [line, level, text] of cases) assert.deepEqual(parseServerLine(line), { level, text }, line);
});

test('what is not the server log is an error (a crash before logging starts)', () => {
  for (const line of ['Traceback (most recent call last):', '/usr/bin/python: No module named scribe_ls', 'INFO without a time']) {
    assert.deepEqual(parseServerLine(line), { level: 'error', text: line });
  }
  const { channel, seen } = recorder();
  logServerLine(channel, '   ');
  assert.deepEqual(seen, []); // blank lines are not logged
});

test('the stderr stream is read line by line into the channel', async () => {
  const { channel, seen } = recorder();
  const stderr = new PassThrough();
  serverStdio.stderr(stderr, channel);
  stderr.write('2026-12-07 09:30:00,123 INFO a [1] one\n2026-12-07 09:30:00,124 WARN');
  stderr.write('ING b [1] two\nTraceback (most recent call last):\n');
  stderr.end();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(seen, [
    ['info', 'a [1] one'],
    ['warn', 'b [1] two'],
    ['error', 'Traceback (most recent call last):'],
  ]);
});
