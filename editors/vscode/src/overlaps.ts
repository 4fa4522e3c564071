// Overlap warnings (scribe/overlap): another open session (another backlog item here, or one
// in a linked worktree of the repository) is changing files this session touched. Each file
// is mentioned once per pair of sessions: the server says so once, and a restarted server,
// which has forgotten, does not make the editor say it again.

import * as path from 'node:path';
import type { OverlapParams } from './protocol';
import { plural } from './state';

const MAX_REMEMBERED = 2000; // (session, other session, file) triples kept; the oldest go first
const NAMED_FILES = 3;

export class OverlapWarnings {
  private readonly told = new Set<string>();
  /** Pushes heard, warned about or not. */
  heardCount = 0;

  constructor(
    private readonly root: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** Warn about the files of `params` not warned about yet for this pair of sessions; the
   *  message, or null when every file was already mentioned. */
  heard(params: OverlapParams): string | null {
    this.heardCount++;
    const fresh = params.files.filter((file) => !this.told.has(this.key(params, file)));
    if (fresh.length === 0) return null;
    for (const file of fresh) this.remember(this.key(params, file));
    const message = overlapMessage(params, fresh, this.root);
    this.warn(message);
    return message;
  }

  private key(params: OverlapParams, file: string): string {
    return JSON.stringify([params.sessionId, params.otherSession.id, file]);
  }

  private remember(key: string): void {
    this.told.add(key);
    if (this.told.size > MAX_REMEMBERED) this.told.delete(this.told.values().next().value as string);
  }
}

/** "Scribe: B-5555 is also working on shared.py (branch feature/B-5555-x, worktree ../other)." */
export function overlapMessage(params: OverlapParams, files: string[], root: string): string {
  const other = params.otherSession;
  const who = other.backlogId ?? other.title ?? other.id;
  const named = files.slice(0, NAMED_FILES).join(', ');
  const what = files.length > NAMED_FILES ? `${plural(files.length, 'file')} (${named}, …)` : named;
  const where = [`branch ${other.branch ?? '(none)'}`];
  if (other.teammate) {
    // A teammate's session (the shared logs): who it is; their copy is not one of ours.
    return `Scribe: ${who} (teammate ${other.teammate}) is also working on ${what} (${where.join(', ')}).`;
  }
  if (path.resolve(other.root) !== path.resolve(root)) where.push(`worktree ${other.root}`);
  return `Scribe: ${who} is also working on ${what} (${where.join(', ')}).`;
}
