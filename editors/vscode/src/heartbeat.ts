// Heartbeats: the developer is at work in this repository (typing, switching editors,
// moving the cursor, coming back to the window). scribe-ls counts time from activity; a
// beat is what tells it about work that saves no file yet. At most one beat per interval
// leaves here (the server merges closer ones too), and only for files under the root.

import * as path from 'node:path';
import * as vscode from 'vscode';

export const HEARTBEAT_EVERY_MS = 30_000;

export class Heartbeats implements vscode.Disposable {
  private last = Number.NEGATIVE_INFINITY;
  private readonly subscriptions: vscode.Disposable[];
  /** Beats sent (for the output channel and tests). */
  sent = 0;

  constructor(
    private readonly root: string,
    private readonly send: () => Promise<void> | undefined,
    private readonly every = HEARTBEAT_EVERY_MS,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((event) => this.beat(event.document.uri)),
      vscode.window.onDidChangeActiveTextEditor((editor) => editor && this.beat(editor.document.uri)),
      vscode.window.onDidChangeTextEditorSelection((event) => this.beat(event.textEditor.document.uri)),
      vscode.window.onDidChangeWindowState((state) => {
        const editor = vscode.window.activeTextEditor;
        if (state.focused && editor) this.beat(editor.document.uri);
      }),
    ];
  }

  private inRoot(uri: vscode.Uri): boolean {
    if (uri.scheme !== 'file') return false;
    const relative = path.relative(this.root, uri.fsPath);
    return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) && !relative.startsWith('.scribe');
  }

  beat(uri: vscode.Uri): void {
    if (!this.inRoot(uri)) return;
    const now = Date.now();
    if (now - this.last < this.every) return;
    const sending = this.send();
    if (!sending) return; // no server (yet): the next event tries again
    this.last = now;
    this.sent += 1;
    sending.catch(() => undefined); // a notification: nothing to answer, nothing to show
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}
