// What scribe-ls writes on stderr, into the Scribe output channel at its own level.
//
// LanguageClient logs every stderr line as an error, so a user opening the channel saw a
// page of errors that were the server's ordinary INFO lines. The server's log lines read
// `2026-12-07 09:30:00,123 INFO scribe_ls.rpc.server [4242] message`; each goes to the
// channel at that level (the channel adds its own time). Anything else on stderr is not the
// server's logging (Python's own traceback when it cannot start, say) and is an error.

import * as readline from 'node:readline';
import type { Readable } from 'node:stream';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface LevelledLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const LEVELS: Record<string, Level> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'error',
};
const LOG_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

/** One stderr line: its level, and the text to show (the server's time stamp dropped). */
export function parseServerLine(line: string): { level: Level; text: string } {
  const match = LOG_LINE.exec(line);
  if (!match) return { level: 'error', text: line };
  return { level: LEVELS[match[1]], text: match[2] };
}

export function logServerLine(channel: LevelledLog, line: string): void {
  if (!line.trim()) return;
  const { level, text } = parseServerLine(line);
  channel[level](text);
}

/** LanguageClient's `stdioOptions`: stderr line by line at the server's own levels; stdout
 *  (only free when the transport is not stdio) as information. */
export const serverStdio = {
  stdout: (input: Readable, channel: LevelledLog): void => {
    lines(input, (line) => channel.info(line));
  },
  stderr: (input: Readable, channel: LevelledLog): void => {
    lines(input, (line) => logServerLine(channel, line));
  },
};

function lines(input: Readable, each: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', each);
}
