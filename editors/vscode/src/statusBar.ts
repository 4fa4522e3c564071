// The status bar item: backlog id, session state, time in session, files changed.

import * as vscode from 'vscode';
import { SessionState, formatDuration, label, plural } from './state';

export class ScribeStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private receivedAt = new Date();
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly subscription: { dispose(): void };
  private serverProblem: string | null = null;

  constructor(private readonly state: SessionState) {
    this.item = vscode.window.createStatusBarItem('scribe.status', vscode.StatusBarAlignment.Left, 100);
    this.item.name = 'Scribe';
    this.item.command = 'scribe.showActions';
    this.subscription = state.onDidChange(() => {
      this.receivedAt = new Date();
      this.render();
    });
    // The time in session moves on its own; a minute's resolution is all the text shows.
    this.ticker = setInterval(() => this.render(), 30_000);
    this.render();
    this.item.show();
  }

  /** The server could not start or died: say so instead of a stale session. */
  setServerProblem(problem: string | null): void {
    this.serverProblem = problem;
    this.render();
  }

  get text(): string {
    return this.item.text;
  }

  render(): void {
    const session = this.state.session;
    if (this.serverProblem) {
      this.item.text = '$(warning) Scribe';
      this.item.tooltip = this.serverProblem;
      return;
    }
    if (!session) {
      this.item.text = '$(notebook) Scribe: no session';
      this.item.tooltip = 'No scribe session is running. Click for actions.';
      return;
    }
    const files = plural(this.state.filesChanged, 'file') + ' changed';
    const time = formatDuration(this.state.activeSeconds(new Date(), this.receivedAt));
    if (session.status === 'paused') {
      this.item.text = `$(debug-pause) ${label(session)} paused · ${time} · ${files}`;
    } else {
      this.item.text = `$(notebook) ${label(session)} ● ${time} · ${files}`;
    }
    const tooltip = new vscode.MarkdownString();
    tooltip.appendMarkdown(`**${label(session)}** ${session.status}: ${session.title}\n\n`);
    tooltip.appendMarkdown(`branch \`${session.branch ?? '(none)'}\` · ${plural(session.stats.entries, 'entry', 'entries')}`);
    tooltip.appendMarkdown(` · started ${new Date(session.startedAt).toLocaleString()}\n\nClick for actions.`);
    this.item.tooltip = tooltip;
  }

  dispose(): void {
    clearInterval(this.ticker);
    this.subscription.dispose();
    this.item.dispose();
  }
}
