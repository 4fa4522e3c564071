// The scribe.* commands. Each asks the server and shows what came back; a server error
// becomes a message with the server's words (and, for "no current session", an offer to
// start one).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCodes, type EntryKind, type ScribeApi, type Session, errorCode } from './protocol';
import { showResumePacket } from './resume';
import { type SessionState, label } from './state';

const BACKLOG_ID = /^B-\d+$/;

export interface CommandContext {
  api(): ScribeApi | undefined;
  root: string;
  state: SessionState;
  log: vscode.LogOutputChannel;
  refreshSessions(): void;
  restartServer(): Promise<void>;
}

/** What the Sessions view passes to a command run from an item's context menu. */
export interface SessionNode {
  session: Session;
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const commands: Record<string, (node?: SessionNode) => Promise<unknown>> = {
    'scribe.startSession': () => startSession(ctx),
    'scribe.stopSession': (node) => stopSession(ctx, node),
    'scribe.pauseSession': (node) => setStatus(ctx, 'paused', node),
    'scribe.resumeSession': (node) => setStatus(ctx, 'active', node),
    'scribe.addNote': () => addEntry(ctx, 'note'),
    'scribe.addDecision': () => addEntry(ctx, 'decision'),
    'scribe.copyContext': () => copyContext(ctx),
    'scribe.showWorklog': () => showWorklog(ctx),
    'scribe.summarize': () => summarize(ctx),
    'scribe.whereWasI': () => whereWasI(ctx),
    'scribe.showActions': () => showActions(ctx),
    'scribe.refreshSessions': async () => ctx.refreshSessions(),
    'scribe.restartServer': () => ctx.restartServer(),
  };
  return Object.entries(commands).map(([id, run]) =>
    vscode.commands.registerCommand(id, (node?: unknown) =>
      guarded(ctx, id, () => run(isSessionNode(node) ? node : undefined)),
    ),
  );
}

function isSessionNode(value: unknown): value is SessionNode {
  return typeof value === 'object' && value !== null && 'session' in value;
}

async function guarded(ctx: CommandContext, id: string, run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    ctx.log.error(`${id}: ${message}`);
    if (errorCode(error) === ErrorCodes.noCurrentSession) {
      const choice = await vscode.window.showWarningMessage('Scribe: no session is running.', 'Start Session');
      if (choice === 'Start Session') return vscode.commands.executeCommand('scribe.startSession');
      return undefined;
    }
    void vscode.window.showErrorMessage(`Scribe: ${message}`);
    return undefined;
  }
}

function requireApi(ctx: CommandContext): ScribeApi {
  const api = ctx.api();
  if (!api) throw new Error('the scribe-ls server is not running (see the Scribe output channel)');
  return api;
}

async function startSession(ctx: CommandContext): Promise<unknown> {
  const backlogId = await vscode.window.showInputBox({
    title: 'Scribe: start session',
    prompt: 'Backlog id; leave empty to take it from the branch name',
    placeHolder: 'B-1234',
    validateInput: (value) => (value === '' || BACKLOG_ID.test(value) ? undefined : 'B- followed by digits, e.g. B-1234'),
  });
  if (backlogId === undefined) return undefined; // cancelled
  const session = await requireApi(ctx).startSession(backlogId ? { backlogId } : {});
  ctx.state.show(session);
  const did = session.change === 'updated' ? 'rejoined' : session.change;
  void vscode.window.showInformationMessage(`Scribe: session ${label(session)} ${did}.`);
  return session;
}

/** Stop the session of a Sessions view item, or the current one. */
async function stopSession(ctx: CommandContext, node?: SessionNode): Promise<unknown> {
  const session = await requireApi(ctx).stopSession(node?.session.id);
  showIfCurrent(ctx, session);
  ctx.refreshSessions();
  void vscode.window.showInformationMessage(`Scribe: session ${label(session)} stopped.`);
  return session;
}

/** Pause or resume the session of a Sessions view item, or the current one. */
async function setStatus(ctx: CommandContext, status: 'active' | 'paused', node?: SessionNode): Promise<unknown> {
  const sessionId = node?.session.id ?? ctx.state.session?.id ?? (await requireApi(ctx).currentSession())?.id;
  if (!sessionId) throw Object.assign(new Error('no current session'), { code: ErrorCodes.noCurrentSession });
  const session = await requireApi(ctx).updateSession({ sessionId, status });
  showIfCurrent(ctx, session);
  ctx.refreshSessions();
  const did = status === 'paused' ? 'paused' : 'resumed';
  void vscode.window.showInformationMessage(`Scribe: session ${label(session)} ${did}.`);
  return session;
}

/** The status bar follows the session it shows (or, with none shown, the one just changed). */
function showIfCurrent(ctx: CommandContext, session: Session): void {
  if (!ctx.state.session || ctx.state.session.id === session.id) ctx.state.show(session);
}

/** The active editor's file, relative to the root, if it lies inside it. */
function activeFile(root: string): string | undefined {
  const uri = vscode.window.activeTextEditor?.document.uri;
  if (!uri || uri.scheme !== 'file') return undefined;
  const relative = path.relative(root, uri.fsPath);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : undefined;
}

async function addEntry(ctx: CommandContext, kind: EntryKind): Promise<unknown> {
  const text = await vscode.window.showInputBox({
    title: `Scribe: add ${kind}`,
    prompt: kind === 'decision' ? 'What was decided, and why' : 'Note',
    validateInput: (value) => (value.trim() ? undefined : 'Type some text'),
  });
  if (!text) return undefined;
  const file = activeFile(ctx.root);
  return requireApi(ctx).appendEntry({ text, kind, ...(file ? { files: [file] } : {}) });
}

async function copyContext(ctx: CommandContext): Promise<unknown> {
  const packet = await requireApi(ctx).getContext({ format: 'markdown' });
  const markdown = packet.markdown ?? '';
  await vscode.env.clipboard.writeText(markdown);
  const cut = packet.truncated ? ', trimmed to fit' : '';
  void vscode.window.showInformationMessage(`Scribe: context packet copied (${markdown.length} characters${cut}).`);
  return packet;
}

async function showWorklog(ctx: CommandContext): Promise<unknown> {
  const session = ctx.state.session ?? (await requireApi(ctx).currentSession());
  if (!session) {
    throw Object.assign(new Error('no current session'), { code: ErrorCodes.noCurrentSession });
  }
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(session.worklogPath));
  return vscode.window.showTextDocument(document, { preview: true });
}

async function summarize(ctx: CommandContext): Promise<unknown> {
  const api = requireApi(ctx);
  const summary = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Scribe: summarizing', cancellable: false },
    async (progress) => {
      let done = 0;
      return api.summarize(undefined, (value) => {
        if (value.kind === 'end') return;
        const percentage = value.percentage ?? done;
        progress.report({ message: value.message, increment: Math.max(0, percentage - done) });
        done = Math.max(done, percentage);
      });
    },
  );
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(summary.path));
  await vscode.window.showTextDocument(document, { preview: true });
  return summary;
}

/** The resume packet of the current session (decisions, todos, uncommitted work, last files). */
async function whereWasI(ctx: CommandContext): Promise<unknown> {
  const packet = await requireApi(ctx).resume();
  await showResumePacket(packet);
  return packet;
}

interface Action extends vscode.QuickPickItem {
  command: string;
}

async function showActions(ctx: CommandContext): Promise<unknown> {
  const session = ctx.state.session;
  const actions: Action[] = session
    ? [
        { label: '$(note) Add Note', command: 'scribe.addNote' },
        { label: '$(law) Add Decision', command: 'scribe.addDecision' },
        { label: '$(clippy) Copy Context Packet', description: 'Markdown, for you or an agent', command: 'scribe.copyContext' },
        { label: '$(book) Show Worklog', command: 'scribe.showWorklog' },
        { label: '$(sparkle) Summarize Session', command: 'scribe.summarize' },
        { label: '$(history) Where Was I?', description: 'decisions, todos, uncommitted work', command: 'scribe.whereWasI' },
        { label: '$(debug-stop) Stop Session', description: label(session), command: 'scribe.stopSession' },
      ]
    : [
        { label: '$(play) Start Session', description: 'backlog id from the branch name', command: 'scribe.startSession' },
        { label: '$(clippy) Copy Context Packet', command: 'scribe.copyContext' },
      ];
  const choice = await vscode.window.showQuickPick(actions, {
    title: session ? `Scribe: ${label(session)}` : 'Scribe',
    placeHolder: 'What now?',
  });
  return choice ? vscode.commands.executeCommand(choice.command) : undefined;
}
