/**
 * The container lifecycle as data: which operation is legal in which status. An illegal move is
 * a FailedPrecondition that names both, e.g. "cannot start container c1: it is running".
 */
import { FailedPrecondition } from "../errdefs.js";

export type Status = "creating" | "created" | "running" | "paused" | "stopped";
export type Operation = "start" | "kill" | "delete" | "pause" | "resume" | "exec" | "update";

const ALLOWED: Record<Operation, Status[]> = {
  start: ["created"],
  kill: ["created", "running", "paused"],
  delete: ["stopped"],
  pause: ["running", "created"],
  resume: ["paused"],
  exec: ["created", "running"],
  update: ["created", "running", "paused"],
};

export function checkTransition(status: Status, op: Operation, id: string): void {
  if (ALLOWED[op].includes(status)) return;
  const what = op === "delete" ? `delete container ${id} that is not stopped` : `${op} container ${id}`;
  throw new FailedPrecondition(`cannot ${what}: it is ${status}`);
}
