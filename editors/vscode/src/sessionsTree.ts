// The "Scribe Sessions" view in the explorer: sessions (active first) and their details.

import * as vscode from 'vscode';
import type { ScribeApi, Session } from './protocol';
import { formatDuration, label, plural } from './state';

type Node = { session: Session } | { detail: string; icon: string };

const ORDER: Record<Session['status'], number> = { active: 0, paused: 1, completed: 2 };
const ICONS: Record<Session['status'], string> = { active: 'circle-filled', paused: 'debug-pause', completed: 'pass' };

export class SessionsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly api: () => ScribeApi | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node && 'session' in node) return details(node.session);
    if (node) return [];
    const api = this.api();
    if (!api) return [];
    try {
      const sessions = await api.listSessions({ limit: 50 });
      return sessions
        .sort((a, b) => ORDER[a.status] - ORDER[b.status] || b.startedAt.localeCompare(a.startedAt))
        .map((session) => ({ session }));
    } catch (error) {
      this.log.error(`listing sessions failed: ${(error as Error).message}`);
      return [];
    }
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if ('detail' in node) {
      const item = new vscode.TreeItem(node.detail, vscode.TreeItemCollapsibleState.None);
      item.iconPath = new vscode.ThemeIcon(node.icon);
      return item;
    }
    const { session } = node;
    const item = new vscode.TreeItem(label(session), vscode.TreeItemCollapsibleState.Collapsed);
    item.id = session.id;
    item.description = `${session.status} · ${session.title}`;
    item.tooltip = `${label(session)} (${session.id})\n${session.title}\nbranch ${session.branch ?? '(none)'}`;
    item.iconPath = new vscode.ThemeIcon(ICONS[session.status]);
    item.contextValue = `scribe.session.${session.status}`;
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function details(session: Session): Node[] {
  const nodes: Node[] = [
    { detail: `branch ${session.branch ?? '(none)'}`, icon: 'git-branch' },
    {
      detail: `${plural(session.stats.entries, 'entry', 'entries')} · ${plural(session.stats.filesChanged, 'file')} · ${formatDuration(session.stats.activeSeconds)} active`,
      icon: 'graph',
    },
    { detail: `started ${new Date(session.startedAt).toLocaleString()}`, icon: 'clock' },
  ];
  if (session.tags.length) nodes.push({ detail: session.tags.map((tag) => `#${tag}`).join(' '), icon: 'tag' });
  return nodes;
}
