// What the warning says for each kind of other session: this root's, a linked worktree's,
// and a teammate's (from the shared logs, docs/team.md). Pure: no server.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overlapMessage } from '../src/overlaps';
import type { OverlapParams } from '../src/protocol';

const other = { id: 's-1', backlogId: 'B-1300', title: 'cache', branch: 'feature/B-1300-cache', root: '/src/repo' };

function params(more: Partial<OverlapParams['otherSession']>): OverlapParams {
  return { sessionId: 's-0', otherSession: { ...other, ...more }, files: ['src/x.py'] };
}

test('another session of this root names its item and branch', () => {
  assert.equal(
    overlapMessage(params({}), ['src/x.py'], '/src/repo'),
    'Scribe: B-1300 is also working on src/x.py (branch feature/B-1300-cache).',
  );
});

test('a linked worktree says where it is', () => {
  assert.equal(
    overlapMessage(params({ root: '/src/other' }), ['src/x.py'], '/src/repo'),
    'Scribe: B-1300 is also working on src/x.py (branch feature/B-1300-cache, worktree /src/other).',
  );
});

test("a teammate's session says who, and no worktree of ours", () => {
  const teammate = params({ teammate: 'Ana Lima <ana@example.com>', verified: true, since: '2026-12-07T10:02:00Z' });
  assert.equal(
    overlapMessage(teammate, ['src/x.py'], '/src/repo'),
    'Scribe: B-1300 (teammate Ana Lima <ana@example.com>) is also working on src/x.py (branch feature/B-1300-cache).',
  );
});
