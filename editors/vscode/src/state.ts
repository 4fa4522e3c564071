// What the status bar shows, kept current by the server's pushes (no polling).

import type { ActivityParams, Entry, Session, SessionChangedParams } from './protocol';

export class SessionState {
  session: Session | null = null;
  // Seconds recorded today on the session's item (scribe/report), once the server said.
  todaySeconds: number | null = null;
  // Paths the activity pushes named for this session. The server counts files into the
  // session's stats when it writes the activity entry (once per activity window); these
  // make the number move as soon as a file is saved.
  private readonly seen = new Set<string>();
  private readonly listeners = new Set<() => void>();

  onDidChange(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Show this session (a completed one clears the state if it is the one shown). */
  show(session: Session | null): void {
    if (!session || session.status === 'completed') {
      if (!session || this.session?.id === session.id) {
        this.session = null;
        this.seen.clear();
        this.todaySeconds = null;
      }
    } else {
      if (this.session?.id !== session.id) {
        this.seen.clear();
        this.todaySeconds = null;
      }
      this.session = session;
    }
    this.changed();
  }

  sessionChanged({ session }: SessionChangedParams): void {
    const current = this.session;
    // One session is active per repository: an active one is the session now (started, or
    // resumed by a branch switch); another one paused or stopped leaves ours shown.
    if (current && current.id !== session.id && session.status !== 'active') return;
    this.show(session);
  }

  activity(params: ActivityParams): void {
    if (!this.session || params.sessionId !== this.session.id) return;
    for (const file of params.files) this.seen.add(file.path);
    this.changed();
  }

  /** Today's time on the session's item, as the server just reported it. */
  today(sessionId: string, seconds: number): void {
    if (this.session?.id !== sessionId || this.todaySeconds === seconds) return;
    this.todaySeconds = seconds;
    this.changed();
  }

  /** True when an entry means the session's stats moved (worth a getSession). */
  statsMoved(entry: Entry): boolean {
    return this.session?.id === entry.sessionId && (entry.kind === 'activity' || entry.kind === 'commit');
  }

  get filesChanged(): number {
    return Math.max(this.session?.stats.filesChanged ?? 0, this.seen.size);
  }

  /** The worklog key time is reported under: the backlog id, else the session id. */
  get item(): string | null {
    return this.session ? (this.session.backlogId ?? this.session.id) : null;
  }
}

export function label(session: Session): string {
  return session.backlogId ?? session.title ?? session.id;
}

/** Whole minutes to the nearest (30 s and more up), scribe-ls's one rule for durations:
 *  what the CLI, the reports and the dashboard show for the same seconds. */
export function formatDuration(seconds: number): string {
  const minutes = Math.round(Math.max(0, seconds) / 60);
  if (minutes < 60) return `${minutes}m`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

export function plural(count: number, word: string, words = `${word}s`): string {
  return `${count} ${count === 1 ? word : words}`;
}
