// The scribe-ls protocol (docs/protocol.md) as typed calls over any JSON-RPC connection.
//
// `ScribeConnection` is the part of the API that both vscode-languageclient's LanguageClient
// and vscode-jsonrpc's MessageConnection offer, so the extension and the tests run the very
// same code: the extension over LanguageClient, the tests over a bare MessageConnection to
// the real server process.

export interface Disposable {
  dispose(): unknown;
}

export interface ScribeConnection {
  sendRequest<R>(method: string, params?: unknown): Promise<R>;
  sendNotification(method: string, params?: unknown): Promise<void>;
  onNotification(method: string, handler: (params: any) => void): Disposable;
  onProgress(type: ProgressType, token: string | number, handler: (value: WorkDoneProgressValue) => void): Disposable;
}

// vscode-jsonrpc's ProgressType is a marker object; both clients accept the same one.
export interface ProgressType {
  readonly __?: unknown;
}

export interface SessionStats {
  entries: number;
  filesChanged: number;
  activeSeconds: number;
}

export type SessionStatus = 'active' | 'paused' | 'completed';

export interface Session {
  id: string;
  backlogId: string | null;
  title: string;
  branch: string | null;
  root: string;
  status: SessionStatus;
  tags: string[];
  type: string;
  priority: string;
  startedAt: string;
  endedAt: string | null;
  lastActivityAt: string;
  idleTimeout?: number;
  stats: SessionStats;
  /** Absolute path of the session's rendered worklog. */
  worklogPath: string;
}

export type EntryKind = 'note' | 'decision' | 'idea' | 'todo' | 'activity' | 'commit' | 'system';

export interface Entry {
  id: number;
  sessionId: string;
  at: string;
  kind: EntryKind;
  text: string;
  files: string[];
  /** The agent that wrote it (an MCP client's name); null for the developer and the recorder. */
  author?: string | null;
}

export type SessionChange = 'started' | 'stopped' | 'paused' | 'resumed' | 'updated' | 'branchChanged';

/** What scribe/startSession did: a new session, a paused one resumed, an open one whose
 *  title/tags/type/priority were updated, or an open one rejoined unchanged. */
export type StartChange = 'started' | 'resumed' | 'updated' | 'rejoined';

export interface StartedSession extends Session {
  change: StartChange;
}

export interface SessionChangedParams {
  session: Session;
  change: SessionChange;
}

export interface EntryAddedParams {
  entry: Entry;
}

export interface ActivityParams {
  sessionId: string | null;
  at: string;
  files: { path: string; change: 'added' | 'modified' | 'deleted' }[];
  count?: number;
}

export interface SummaryReadyParams {
  sessionId: string;
  path: string;
}

/** scribe/overlap: another open session changed files this session touched (or this one
 *  changed files that one had touched); `root` says which work tree it is in. */
export interface OverlapParams {
  sessionId: string;
  otherSession: {
    id: string;
    backlogId: string | null;
    title: string;
    branch: string | null;
    root: string;
    /** A teammate's session (from the shared logs): who, `Ana Lima <ana@example.com>`. */
    teammate?: string;
    verified?: boolean;
    since?: string;
  };
  files: string[];
  /** The warning in words, for a teammate's session. */
  message?: string;
}

/** scribe/resume and scribe/resumeAvailable: where a backlog item's work stands. */
export interface ResumePacket {
  session: Session;
  decisions: string[];
  openTodos: string[];
  inProgress: string[];
  completed: string[];
  uncommitted: { path: string; added?: number | null; deleted?: number | null }[] | null;
  lastFiles: string[];
  secondsSinceActivity: number;
  lastSummary: { path: string; text: string } | null;
  markdown: string;
}

export interface ContextPacket {
  sessionId: string | null;
  elapsedMs: number;
  cached: boolean;
  truncated: boolean;
  sections: Record<string, { ok: true; data: unknown; elapsedMs: number } | { ok: false; error: string }>;
  markdown?: string;
}

export interface Summary {
  sessionId: string;
  path: string;
  markdown: string;
  ideas: string[];
  decisions: string[];
  completed: string[];
  inProgress: string[];
  nextSteps: string[];
  files: string[];
}

export interface Status {
  version: string;
  root: string;
  pid: number;
  uptimeSeconds: number;
  sessions: { active: number; total: number; paused?: number };
  currentSessionId?: string | null;
  /** The current session itself: no getSession needed after status. */
  currentSession?: Session | null;
  watcher: { running: boolean; recorder: boolean; events: number; lastEventAt: string | null };
  queue: { pending: number };
}

/** scribe/report, kind "time": active time from the daily roll-ups. */
export interface TimeReport {
  kind: 'time';
  since: string;
  until: string;
  by: 'item' | 'day' | 'branch';
  totalSeconds: number;
  rows: { item: string; backlogId: string | null; title: string; seconds: number; pulses: number; day?: string; branch?: string | null }[];
}

export type WorkDoneProgressValue =
  | { kind: 'begin'; title: string; message?: string; percentage?: number }
  | { kind: 'report'; message?: string; percentage?: number }
  | { kind: 'end'; message?: string };

export const Methods = {
  startSession: 'scribe/startSession',
  stopSession: 'scribe/stopSession',
  updateSession: 'scribe/updateSession',
  getSession: 'scribe/getSession',
  listSessions: 'scribe/listSessions',
  appendEntry: 'scribe/appendEntry',
  getEntries: 'scribe/getEntries',
  search: 'scribe/search',
  getContext: 'scribe/getContext',
  summarize: 'scribe/summarize',
  status: 'scribe/status',
  report: 'scribe/report',
  heartbeat: 'scribe/heartbeat',
  resume: 'scribe/resume',
} as const;

export const Notifications = {
  sessionChanged: 'scribe/sessionChanged',
  entryAdded: 'scribe/entryAdded',
  activity: 'scribe/activity',
  summaryReady: 'scribe/summaryReady',
  overlap: 'scribe/overlap',
  resumeAvailable: 'scribe/resumeAvailable',
} as const;

/** JSON-RPC error codes the server uses (docs/protocol.md). */
export const ErrorCodes = {
  invalidParams: -32602,
  sessionNotFound: -32010,
  noCurrentSession: -32011,
  limitReached: -32012,
  storeUnavailable: -32013,
} as const;

/** The code of a JSON-RPC error (ResponseError from either client), if it has one. */
export function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Typed scribe requests and pushes over one connection. */
export class ScribeApi {
  constructor(
    readonly connection: ScribeConnection,
    private readonly progressType: ProgressType,
  ) {}

  startSession(params: { backlogId?: string; title?: string; tags?: string[] } = {}): Promise<StartedSession> {
    return this.connection.sendRequest(Methods.startSession, params);
  }

  stopSession(sessionId?: string): Promise<Session> {
    return this.connection.sendRequest(Methods.stopSession, sessionId ? { sessionId } : {});
  }

  updateSession(params: { sessionId: string; status?: 'active' | 'paused'; title?: string }): Promise<Session> {
    return this.connection.sendRequest(Methods.updateSession, params);
  }

  getSession(sessionId: string): Promise<Session> {
    return this.connection.sendRequest(Methods.getSession, { sessionId });
  }

  async listSessions(params: { status?: SessionStatus; limit?: number } = {}): Promise<Session[]> {
    const result = await this.connection.sendRequest<{ sessions: Session[] }>(Methods.listSessions, params);
    return result.sessions;
  }

  appendEntry(params: { text: string; kind?: EntryKind; sessionId?: string; files?: string[] }): Promise<Entry> {
    return this.connection.sendRequest(Methods.appendEntry, params);
  }

  getContext(params: { sessionId?: string; maxChars?: number; format?: 'json' | 'markdown'; sections?: string[] } = {}): Promise<ContextPacket> {
    return this.connection.sendRequest(Methods.getContext, params);
  }

  status(): Promise<Status> {
    return this.connection.sendRequest(Methods.status, {});
  }

  timeReport(params: { since?: string; until?: string; by?: 'item' | 'day' | 'branch' } = {}): Promise<TimeReport> {
    return this.connection.sendRequest(Methods.report, { kind: 'time', ...params });
  }

  /** Seconds recorded today on a worklog key (a backlog id, else a session id). */
  async todaySeconds(item: string): Promise<number> {
    const report = await this.timeReport({ since: 'today' });
    return report.rows.find((row) => row.item === item)?.seconds ?? 0;
  }

  /** The developer is at work now: a notification, no answer (the server merges beats). */
  heartbeat(): Promise<void> {
    return this.connection.sendNotification(Methods.heartbeat, {});
  }

  /** Where a session's work stands (default: the current session). */
  resume(sessionId?: string): Promise<ResumePacket> {
    return this.connection.sendRequest(Methods.resume, sessionId ? { sessionId } : {});
  }

  /** The current session, or null when none is running. */
  async currentSession(): Promise<Session | null> {
    return (await this.status()).currentSession ?? null;
  }

  /** Summarize; `onProgress` hears the server's $/progress reports for this request. */
  async summarize(sessionId?: string, onProgress?: (value: WorkDoneProgressValue) => void): Promise<Summary> {
    const workDoneToken = `scribe-summarize-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const listening = onProgress ? this.connection.onProgress(this.progressType, workDoneToken, onProgress) : undefined;
    try {
      return await this.connection.sendRequest(Methods.summarize, { ...(sessionId ? { sessionId } : {}), workDoneToken });
    } finally {
      listening?.dispose();
    }
  }

  onSessionChanged(handler: (params: SessionChangedParams) => void): Disposable {
    return this.connection.onNotification(Notifications.sessionChanged, handler);
  }

  onEntryAdded(handler: (params: EntryAddedParams) => void): Disposable {
    return this.connection.onNotification(Notifications.entryAdded, handler);
  }

  onActivity(handler: (params: ActivityParams) => void): Disposable {
    return this.connection.onNotification(Notifications.activity, handler);
  }

  onSummaryReady(handler: (params: SummaryReadyParams) => void): Disposable {
    return this.connection.onNotification(Notifications.summaryReady, handler);
  }

  onOverlap(handler: (params: OverlapParams) => void): Disposable {
    return this.connection.onNotification(Notifications.overlap, handler);
  }

  /** Sent once, right after the handshake: register before the client starts. */
  onResumeAvailable(handler: (packet: ResumePacket) => void): Disposable {
    return this.connection.onNotification(Notifications.resumeAvailable, handler);
  }
}
