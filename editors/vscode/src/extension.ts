// Activation: start scribe-ls over stdio for the workspace's first folder, and wire its
// pushes into the status bar, the Sessions view and the output channel.

import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
  WorkDoneProgress,
} from 'vscode-languageclient/node';
import { registerCommands } from './commands';
import { Heartbeats } from './heartbeat';
import { OverlapWarnings } from './overlaps';
import { type ProgressType, ScribeApi, type ScribeConnection } from './protocol';
import { offerResume } from './resume';
import { ServerCrashes } from './serverCrashes';
import { serverStdio } from './serverLog';
import { SessionsTree } from './sessionsTree';
import { SessionState, label } from './state';
import { ScribeStatusBar } from './statusBar';

export { ScribeApi } from './protocol';
export { SessionState } from './state';

/** A server for a root: what the extension needs from a client, whichever library it is.
 *  Created stopped, so that push handlers are in place before the handshake (the server
 *  offers a paused session right after it). */
export interface Connected {
  connection: ScribeConnection;
  progressType: ProgressType;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What it does when the server stops on its own (LanguageClient's restarts), if anything. */
  crashes?: ServerCrashes;
}

/** Makes the server's client for a root. The extension uses LanguageClient; tests may use another. */
export type Connect = (root: string, log: vscode.LogOutputChannel) => Connected;

export interface ScribeExtension {
  readonly state: SessionState;
  readonly statusBar: ScribeStatusBar;
  readonly sessions: SessionsTree;
  readonly heartbeats: Heartbeats;
  readonly overlaps: OverlapWarnings;
  api(): ScribeApi | undefined;
  /** Settles when the first server start finished (or failed, with the problem shown). */
  readonly ready: Promise<void>;
  /** Settles when the user answered the offer to resume a paused session (if one came). */
  resumeOffered(): Promise<string | undefined> | undefined;
}

export const connectWithLanguageClient: Connect = (root, log) => {
  const config = vscode.workspace.getConfiguration('scribe');
  const command = config.get<string>('serverPath', 'scribe-ls') || 'scribe-ls';
  const args = config.get<string[]>('serverArgs', ['serve']);
  const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio, options: { cwd: root } };
  const folder = vscode.workspace.workspaceFolders?.[0];
  const crashes = new ServerCrashes();
  const clientOptions: LanguageClientOptions = {
    documentSelector: [], // no document sync: scribe-ls watches the work tree itself
    errorHandler: crashes,
    outputChannel: log,
    // The server's stderr at its own levels (LanguageClient would show every line as an error).
    stdioOptions: serverStdio,
    workspaceFolder: folder,
  };
  const client = new LanguageClient('scribe', 'Scribe', serverOptions, clientOptions);
  // The server also offers every request as a workspace/executeCommand named scribe.* (for
  // generic LSP clients). LanguageClient would register those names as VS Code commands,
  // which clash with this extension's own scribe.* commands and make the start fail.
  client.getFeature(ExecuteCommandRequest.method).initialize = () => undefined;
  client.onDidChangeState(({ newState }) => {
    if (newState === State.Running) crashes.running();
  });
  const start = async (): Promise<void> => {
    try {
      await client.start();
    } catch (error) {
      // LanguageClient rejects with an Error, a ResponseError or nothing at all; it has
      // already logged the details to the output channel.
      const text = error instanceof Error ? error.message : String(error ?? 'no reason given');
      const reason = text.split('\n').at(-1);
      throw new Error(
        `could not start "${[command, ...args].join(' ')}" (${reason}). ` +
          'Install scribe-ls (python -m pip install scribe-ls) or set scribe.serverPath and scribe.serverArgs.',
      );
    }
  };
  // LanguageClient keeps handlers registered before start and installs them on connecting.
  return { connection: client, progressType: WorkDoneProgress.type, start, stop: () => client.stop(), crashes };
};

export function activate(context: vscode.ExtensionContext): ScribeExtension | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') return undefined; // scribe-ls works on local repositories
  // Restricted Mode (capabilities.untrustedWorkspaces is "limited"): nothing is started, for
  // the server runs git in the folder and records it. Once the user trusts the folder, Scribe
  // starts, without a reload (VS Code does not activate a "false" extension on trust by
  // its workspaceContains event: the user would be left with nothing).
  if (vscode.workspace.isTrusted === false) {
    const granted = vscode.workspace.onDidGrantWorkspaceTrust(() => {
      granted.dispose();
      activateWith(context, connectWithLanguageClient, folder);
    });
    context.subscriptions.push(granted);
    return undefined;
  }
  return activateWith(context, connectWithLanguageClient, folder);
}

function activateWith(
  context: vscode.ExtensionContext,
  connect: Connect,
  folder: vscode.WorkspaceFolder,
): ScribeExtension {
  const root = folder.uri.fsPath;
  const log = vscode.window.createOutputChannel('Scribe', { log: true });
  const state = new SessionState();
  const statusBar = new ScribeStatusBar(state);
  let api: ScribeApi | undefined;
  let connected: Connected | undefined;
  const sessions = new SessionsTree(() => api, log);
  let pushes: { dispose(): unknown }[] = [];
  const heartbeats = new Heartbeats(root, () => (state.session?.status === 'active' ? api?.heartbeat() : undefined));
  // Today's time on the current item, read again after anything that may have moved it
  // (a cheap request: the server reads its daily roll-ups), at most one at a time.
  let todayInFlight = false;
  let todayAgain = false;
  const refreshToday = (): void => {
    const client = api;
    const session = state.session;
    const item = state.item;
    if (!client || !session || !item) return;
    if (todayInFlight) {
      todayAgain = true; // read once more when this one is answered: never a stale figure
      return;
    }
    todayInFlight = true;
    client
      .todaySeconds(item)
      .then(
        (seconds) => state.today(session.id, seconds),
        (error) => log.warn(`reading today's time failed: ${(error as Error).message}`),
      )
      .finally(() => {
        todayInFlight = false;
        if (todayAgain) {
          todayAgain = false;
          refreshToday();
        }
      });
  };
  const todayTicker = setInterval(refreshToday, 60_000);

  const overlaps = new OverlapWarnings(root, (message) => {
    log.warn(message);
    void vscode.window.showWarningMessage(message);
  });
  let resumeOffer: Promise<string | undefined> | undefined;

  const listen = (client: ScribeApi): { dispose(): unknown }[] => [
    client.onSessionChanged((params) => {
      state.sessionChanged(params);
      refreshToday();
      sessions.refresh();
      log.info(`session ${label(params.session)} ${params.change}`);
    }),
    client.onEntryAdded(({ entry }) => {
      log.info(`${entry.kind}: ${entry.text.split('\n', 1)[0]}`);
      if (entry.sessionId === state.session?.id) refreshToday();
      if (state.statsMoved(entry)) {
        client.getSession(entry.sessionId).then(
          (session) => state.show(session),
          (error) => log.warn(`refreshing the session failed: ${(error as Error).message}`),
        );
      }
    }),
    client.onActivity((params) => {
      state.activity(params);
      log.debug(`${params.count ?? params.files.length} file(s) changed`);
    }),
    client.onSummaryReady(({ path }) => log.info(`summary written to ${path}`)),
    client.onOverlap((params) => overlaps.heard(params)),
    client.onResumeAvailable((packet) => {
      log.info(`${label(packet.session)} is paused; offering to resume it`);
      resumeOffer = offerResume(() => api, packet, log);
    }),
  ];

  const start = async (): Promise<void> => {
    const starting = connect(root, log);
    const client = new ScribeApi(starting.connection, starting.progressType);
    pushes = listen(client); // before the handshake: the resume offer follows it at once
    try {
      await starting.start();
    } catch (error) {
      for (const push of pushes) push.dispose();
      pushes = [];
      const message = (error as Error).message;
      log.error(message);
      statusBar.setServerProblem(`Scribe: ${message}`);
      void vscode.window.showErrorMessage(`Scribe: ${message}`, 'Open Settings').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'scribe.server');
      });
      return;
    }
    connected = starting;
    statusBar.setServerProblem(null);
    api = client;
    if (starting.crashes) {
      starting.crashes.listener = {
        restarting: (message) => {
          log.warn(message);
          statusBar.setServerProblem(message);
          void vscode.window.showWarningMessage(message, 'Show Output').then((choice) => choice && log.show());
        },
        restarted: () => {
          statusBar.setServerProblem(null);
          void showCurrent(client);
        },
        gaveUp: (message) => {
          log.error(message);
          statusBar.setServerProblem(message);
          void vscode.window.showErrorMessage(message, 'Restart Server').then((choice) => {
            if (choice) void vscode.commands.executeCommand('scribe.restartServer');
          });
        },
      };
    }
    await showCurrent(client);
  };

  /** The current session in the status bar, today's time, the Sessions view: read afresh. */
  const showCurrent = async (client: ScribeApi): Promise<void> => {
    try {
      state.show(await client.currentSession());
      refreshToday();
      sessions.refresh();
    } catch (error) {
      log.warn(`reading the current session failed: ${(error as Error).message}`);
    }
  };

  const stop = async (): Promise<void> => {
    for (const push of pushes) push.dispose();
    pushes = [];
    api = undefined;
    const running = connected;
    connected = undefined;
    await running?.stop();
  };

  const restart = async (): Promise<void> => {
    await stop();
    await start();
  };
  // A corrected scribe.serverPath or serverArgs takes effect at once (no Restart Server, no
  // reload); it also covers settings that reach the extension host after it activated.
  const settingsChanged = vscode.workspace.onDidChangeConfiguration((event) => {
    if (!event.affectsConfiguration('scribe.serverPath') && !event.affectsConfiguration('scribe.serverArgs')) return;
    log.info('scribe.serverPath or scribe.serverArgs changed: starting the server again');
    void restart();
  });

  const ready = start();
  context.subscriptions.push(
    settingsChanged,
    log,
    statusBar,
    sessions,
    heartbeats,
    { dispose: () => clearInterval(todayTicker) },
    vscode.window.registerTreeDataProvider('scribe.sessions', sessions),
    ...registerCommands({
      api: () => api,
      root,
      state,
      log,
      refreshSessions: () => sessions.refresh(),
      restartServer: restart,
    }),
    { dispose: () => void stop() },
  );
  return { state, statusBar, sessions, heartbeats, overlaps, api: () => api, ready, resumeOffered: () => resumeOffer };
}

export function deactivate(): void {
  // Everything is in context.subscriptions: VS Code disposes it, which stops the server.
}
