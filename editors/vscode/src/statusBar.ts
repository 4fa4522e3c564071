// The status bar item: backlog id, session state, today's time on the item, files changed.

import * as vscode from 'vscode';
import { SessionState, formatDuration, label, plural } from './state';

export class ScribeStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subscription: { dispose(): void };
  private serverProblem: string | null = null;

  constructor(private readonly state: SessionState) {
    this.item = vscode.window.createStatusBarItem('scribe.status', vscode.StatusBarAlignment.Left, 100);
    this.item.name = 'Scribe';
    this.item.command = 'scribe.showActions';
    this.subscription = state.onDidChange(() => this.render());
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
    // Time is what the server recorded (activity and heartbeats), not the clock running.
    const time = `${formatDuration(this.state.todaySeconds ?? 0)} today`;
    if (session.status === 'paused') {
      this.item.text = `$(debug-pause) ${label(session)} paused · ${time} · ${files}`;
    } else {
      this.item.text = `$(notebook) ${label(session)} ● ${time} · ${files}`;
    }
    const tooltip = new vscode.MarkdownString();
    tooltip.appendMarkdown(`**${label(session)}** ${session.status}: ${session.title}\n\n`);
    tooltip.appendMarkdown(`branch \`${session.branch ?? '(none)'}\` · ${plural(session.stats.entries, 'entry', 'entries')}`);
    tooltip.appendMarkdown(` · ${formatDuration(session.stats.activeSeconds)} active in this session`);
    tooltip.appendMarkdown(` · started ${new Date(session.startedAt).toLocaleString()}\n\nClick for actions.`);
    this.item.tooltip = tooltip;
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
