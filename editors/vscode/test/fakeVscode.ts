// A small stand-in for the `vscode` module: enough of the API for the extension bundle to
// activate, register its commands, and draw its status bar and tree, with every user-facing
// call recorded and every question to the user answered from a queue the test fills.
// (VS Code itself cannot be downloaded here; @vscode/test-electron is not an option.)

import { readFileSync } from 'node:fs';
import Module from 'node:module';

type Answer = string | undefined | ((items: any[]) => any);

export class FakeVscode {
  readonly commands = new Map<string, (...args: any[]) => any>();
  readonly executed: string[] = [];
  readonly messages: { level: 'info' | 'warning' | 'error'; text: string; actions: string[] }[] = [];
  readonly statusBarItems: FakeStatusBarItem[] = [];
  readonly treeProviders = new Map<string, any>();
  readonly progress: { title?: string; reports: { message?: string; increment?: number }[] }[] = [];
  readonly shownDocuments: string[] = [];
  readonly untitledContents: string[] = []; // what untitled documents were opened with
  readonly log: string[] = [];
  readonly answers: Answer[] = []; // for showInputBox, showQuickPick and message buttons
  readonly inputProblems: string[] = []; // what validateInput said about typed answers
  clipboard = '';
  activeFile: string | undefined;
  settings: Record<string, unknown> = {};
  /** Workspace Trust: false is Restricted Mode. */
  trusted = true;
  // Listeners of the editor's events (`window.onDidChangeActiveTextEditor`…), by name.
  readonly listeners = new Map<string, Set<(value: unknown) => unknown>>();

  constructor(readonly root: string) {}

  /** What the editor does when the user types, switches editors, comes back to the window. */
  fire(event: string, value: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) listener(value);
  }

  private answer(items: any[] = []): any {
    const next = this.answers.shift();
    return typeof next === 'function' ? next(items) : next;
  }

  /** The module object `require('vscode')` returns. */
  module(): Record<string, unknown> {
    const fake = this;
    const message = (level: 'info' | 'warning' | 'error') => (text: string, ...actions: any[]) => {
      fake.messages.push({ level, text, actions: actions.filter((a) => typeof a === 'string') });
      // Only a message with buttons waits for the user; it takes an answer from the queue.
      return Promise.resolve(actions.length ? fake.answer(actions) : undefined);
    };
    const channel = (name: string) => {
      const write = (level: string) => (text: string) => fake.log.push(`[${name}] ${level} ${text}`);
      return {
        name,
        logLevel: 2,
        onDidChangeLogLevel: () => new Disposable(() => undefined),
        trace: write('trace'),
        debug: write('debug'),
        info: write('info'),
        warn: write('warn'),
        error: write('error'),
        append: write('append'),
        appendLine: write('line'),
        replace: write('replace'),
        clear: () => undefined,
        show: () => undefined,
        hide: () => undefined,
        dispose: () => undefined,
      };
    };
    return {
      version: '1.91.0',
      Uri,
      Disposable,
      CancellationError,
      // Classes vscode-languageclient subclasses when its modules load (their features are
      // never used here: the server offers none of them).
      ...Object.fromEntries(
        ['CallHierarchyItem', 'CodeAction', 'CodeLens', 'CompletionItem', 'Diagnostic', 'DocumentLink', 'InlayHint', 'SymbolInformation', 'TypeHierarchyItem']
          .map((name) => [name, class {}]),
      ),
      EventEmitter,
      ThemeIcon,
      TreeItem,
      MarkdownString,
      // Kind tables vscode-languageclient maps its own enums onto when a client is created.
      CodeActionKind: enumLike(),
      LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
      StatusBarAlignment: { Left: 1, Right: 2 },
      ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
      TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
      window: withEvents(fake, 'window', {
        createOutputChannel: channel,
        createStatusBarItem: (id: string, alignment: number, priority: number) => {
          const item = new FakeStatusBarItem(id, alignment, priority);
          fake.statusBarItems.push(item);
          return item;
        },
        showInformationMessage: message('info'),
        showWarningMessage: message('warning'),
        showErrorMessage: message('error'),
        showInputBox: async (options: { validateInput?: (value: string) => string | undefined }) => {
          const value = fake.answer();
          const problem = value === undefined ? undefined : options.validateInput?.(value);
          if (problem) {
            // The box shows the problem and keeps the user there; this user then presses Escape.
            fake.inputProblems.push(problem);
            return undefined;
          }
          return value;
        },
        showQuickPick: async (items: any[]) => fake.answer(await items),
        withProgress: async (options: { title?: string }, task: (progress: any, token: any) => Promise<unknown>) => {
          const record = { title: options.title, reports: [] as { message?: string; increment?: number }[] };
          fake.progress.push(record);
          return task({ report: (value: any) => record.reports.push(value) }, { isCancellationRequested: false });
        },
        registerTreeDataProvider: (id: string, provider: unknown) => {
          fake.treeProviders.set(id, provider);
          return new Disposable(() => fake.treeProviders.delete(id));
        },
        showTextDocument: async (document: { uri: { fsPath: string } }) => {
          fake.shownDocuments.push(document.uri.fsPath);
          return { document };
        },
        get activeTextEditor() {
          return fake.activeFile ? { document: { uri: Uri.file(fake.activeFile) } } : undefined;
        },
        visibleTextEditors: [],
      }),
      workspace: withEvents(fake, 'workspace', {
        workspaceFolders: [{ uri: Uri.file(fake.root), name: 'repo', index: 0 }],
        get isTrusted() {
          return fake.trusted;
        },
        getConfiguration: (section: string) => ({
          get: <T>(key: string, fallback?: T): T | undefined => {
            const value = fake.settings[`${section}.${key}`];
            return value === undefined ? fallback : (value as T);
          },
        }),
        // A file's document, or an untitled one made from content (kept in untitledContents).
        openTextDocument: async (what: { fsPath: string } | { content: string; language?: string }) => {
          if ('content' in what) {
            fake.untitledContents.push(what.content);
            const uri = { fsPath: `untitled:${fake.untitledContents.length}`, scheme: 'untitled' };
            return { uri, languageId: what.language, getText: () => what.content };
          }
          return { uri: what, getText: () => readFileSync(what.fsPath, 'utf8') };
        },
        textDocuments: [],
        notebookDocuments: [],
      }),
      commands: {
        registerCommand: (id: string, run: (...args: any[]) => any) => {
          if (fake.commands.has(id)) throw new Error(`command ${id} registered twice`);
          fake.commands.set(id, run);
          return new Disposable(() => fake.commands.delete(id));
        },
        executeCommand: async (id: string, ...args: any[]) => {
          fake.executed.push(id);
          const run = fake.commands.get(id);
          return run ? run(...args) : undefined;
        },
      },
      env: {
        appName: 'Visual Studio Code (fake)',
        language: 'en',
        clipboard: {
          writeText: async (text: string) => {
            fake.clipboard = text;
          },
          readText: async () => fake.clipboard,
        },
      },
    };
  }

  /** Make `require('vscode')` return this fake (until the returned function is called). */
  install(): () => void {
    const vscode = this.module();
    const loader = Module as unknown as { _load: (request: string, ...rest: any[]) => any };
    const original = loader._load;
    loader._load = function (request: string, ...rest: any[]) {
      return request === 'vscode' ? vscode : original.call(this, request, ...rest);
    };
    return () => {
      loader._load = original;
    };
  }
}

export class FakeStatusBarItem {
  text = '';
  tooltip: unknown;
  command: unknown;
  name: string | undefined;
  visible = false;
  disposed = false;

  constructor(
    readonly id: string,
    readonly alignment: number,
    readonly priority: number,
  ) {}

  show(): void {
    this.visible = true;
  }

  hide(): void {
    this.visible = false;
  }

  dispose(): void {
    this.disposed = true;
  }
}

class Disposable {
  constructor(private readonly onDispose: () => void) {}

  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }

  dispose(): void {
    this.onDispose();
  }
}

class EventEmitter<T> {
  private readonly listeners = new Set<(value: T) => void>();
  readonly event = (listener: (value: T) => void) => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };

  fire(value: T): void {
    for (const listener of this.listeners) listener(value);
  }

  dispose(): void {
    this.listeners.clear();
  }
}

class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}

  get path(): string {
    return this.fsPath;
  }

  static file(fsPath: string): Uri {
    return new Uri('file', fsPath);
  }

  toString(): string {
    return `${this.scheme}://${this.fsPath}`;
  }
}

class CancellationError extends Error {}

/** Adds `onDid…`/`onWill…` events to a namespace; `fake.fire('window.onDid…', value)` fires one. */
function withEvents<T extends object>(fake: FakeVscode, name: string, namespace: T): T {
  return new Proxy(namespace, {
    get: (target, key, receiver) => {
      if (typeof key === 'string' && /^on(Did|Will)[A-Z]/.test(key) && !(key in target)) {
        return (listener: (value: unknown) => unknown) => {
          const event = `${name}.${key}`;
          if (!fake.listeners.has(event)) fake.listeners.set(event, new Set());
          fake.listeners.get(event)!.add(listener);
          return new Disposable(() => fake.listeners.get(event)?.delete(listener));
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

/** An enum-like table: every member is its own name. */
function enumLike(): Record<string, string> {
  return new Proxy({}, { get: (_, key) => String(key) });
}

class ThemeIcon {
  constructor(readonly id: string) {}
}

class TreeItem {
  id?: string;
  description?: string;
  tooltip?: string;
  iconPath?: unknown;
  contextValue?: string;

  constructor(
    readonly label: string,
    readonly collapsibleState: number,
  ) {}
}

class MarkdownString {
  value = '';

  appendMarkdown(text: string): this {
    this.value += text;
    return this;
  }
}
