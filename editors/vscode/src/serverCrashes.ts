// When scribe-ls stops on its own (a crash, a kill): the user is told in words, the server
// is started again (at most MAX_RESTARTS times in RESTART_WINDOW_MS), and the status bar
// and Sessions view are read again once it runs. Past that it stays stopped: the status
// bar says so and "Scribe: Restart Server" starts it. LanguageClient alone restarted it
// silently (a line in the output) and left the status bar as it was before the crash.

import {
  CloseAction,
  type CloseHandlerResult,
  ErrorAction,
  type ErrorHandler,
  type ErrorHandlerResult,
} from 'vscode-languageclient/node';

export const MAX_RESTARTS = 4;
export const RESTART_WINDOW_MS = 3 * 60_000;

export interface CrashListener {
  /** The server stopped and is being started again. */
  restarting(message: string): void;
  /** It runs again after a restart. */
  restarted(): void;
  /** It stopped too often and is left stopped. */
  gaveUp(message: string): void;
}

export class ServerCrashes implements ErrorHandler {
  private stops: number[] = [];
  private restartPending = false;
  listener: CrashListener | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  error(_error: Error, _message: unknown, count: number | undefined): ErrorHandlerResult {
    // LanguageClient's own rule: a few write errors are survivable, more end the connection.
    return { action: count && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
  }

  closed(): CloseHandlerResult {
    const now = this.now();
    this.stops = [...this.stops.filter((at) => now - at < RESTART_WINDOW_MS), now];
    if (this.stops.length <= MAX_RESTARTS) {
      this.restartPending = true;
      const message =
        'Scribe: the scribe-ls server stopped unexpectedly and is being restarted (the Scribe output has its last lines).';
      this.listener?.restarting(message);
      return { action: CloseAction.Restart, message, handled: true };
    }
    const message =
      `Scribe: the scribe-ls server stopped ${this.stops.length} times in ${RESTART_WINDOW_MS / 60_000} minutes ` +
      'and was left stopped; "Scribe: Restart Server" starts it again (the Scribe output says why it stopped).';
    this.listener?.gaveUp(message);
    return { action: CloseAction.DoNotRestart, message, handled: true };
  }

  /** The client is running: if that follows a restart, say so. */
  running(): void {
    if (!this.restartPending) return;
    this.restartPending = false;
    this.listener?.restarted();
  }
}
