// scribe-ls's one rule for durations (whole minutes to the nearest, 30 s and more up), as
// the status bar shows them: the same as the CLI, the reports and the dashboard.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration } from '../src/state';

test('durations are whole minutes to the nearest', () => {
  assert.deepEqual(
    [0, 29, 32, 89, 90, 3599, 3629, 3630].map(formatDuration),
    ['0m', '0m', '1m', '1m', '2m', '1h 00m', '1h 00m', '1h 01m'],
  );
});
