/**
 * Turns a registry's error answer into one of our error classes. The body is
 * distribution's `{"errors":[{"code","message","detail"}]}` (spec/api.md, "Errors").
 */
import { BerthError, FailedPrecondition, InvalidArgument, NotFound, NotImplemented, PermissionDenied, Unavailable } from "../errdefs.js";
import type { HttpResponse } from "./transport.js";

export async function registryError(res: HttpResponse, what: string): Promise<BerthError> {
  let text = "";
  try { text = await res.text(64 << 10); } catch { /* body lost: the status still says enough */ }
  let detail = "";
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    detail = (doc.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  } catch {
    detail = text.trim().slice(0, 200);
  }
  const msg = `${what}: ${detail || `HTTP ${res.status}`}`;
  switch (res.status) {
    case 400: return new InvalidArgument(msg);
    case 401: case 403: return new PermissionDenied(msg);
    case 404: return new NotFound(msg);
    case 405: return new NotImplemented(`${msg} (the registry does not allow this operation)`);
    case 409: case 412: case 416: return new FailedPrecondition(msg);
    case 429: return new Unavailable(`${msg} (rate limited)`);
    default: return res.status >= 500 ? new Unavailable(msg) : new BerthError(msg);
  }
}
