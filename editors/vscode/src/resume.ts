// Picking paused work up again: the server pushes scribe/resumeAvailable once when the
// extension opens a root whose current session is paused; the extension offers to resume
// it or to show where the work stands (the resume packet's Markdown).

import * as vscode from 'vscode';
import type { ResumePacket, ScribeApi } from './protocol';
import { formatDuration, label, plural } from './state';

/** Open the resume packet as a Markdown document (untitled: nothing is written). */
export async function showResumePacket(packet: ResumePacket): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument({ content: packet.markdown, language: 'markdown' });
  return vscode.window.showTextDocument(document, { preview: true });
}

/** "Scribe: B-4242 is paused (last active 2h 5m ago; last decision: …; 2 open todos)." */
export function resumeMessage(packet: ResumePacket): string {
  const facts = [`last active ${formatDuration(packet.secondsSinceActivity)} ago`];
  const decision = packet.decisions.at(-1); // oldest first: the last one is the newest
  if (decision) facts.push(`last decision: ${decision.length > 80 ? `${decision.slice(0, 79)}…` : decision}`);
  if (packet.openTodos.length) facts.push(plural(packet.openTodos.length, 'open todo'));
  return `Scribe: ${label(packet.session)} is paused (${facts.join('; ')}).`;
}

export const RESUME = 'Resume';
export const SHOW = 'Show Where I Was';

/** Offer the paused session: resume it, or show its resume packet. The choice made. */
export async function offerResume(
  api: () => ScribeApi | undefined,
  packet: ResumePacket,
  log: vscode.LogOutputChannel,
): Promise<string | undefined> {
  const choice = await vscode.window.showInformationMessage(resumeMessage(packet), RESUME, SHOW);
  try {
    if (choice === RESUME) {
      // The sessionChanged push that follows updates the status bar.
      await api()?.updateSession({ sessionId: packet.session.id, status: 'active' });
    } else if (choice === SHOW) {
      await showResumePacket(packet);
    }
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    log.error(`resuming ${label(packet.session)}: ${message}`);
    void vscode.window.showErrorMessage(`Scribe: ${message}`);
  }
  return choice;
}
