/**
 * Go's durations, which docker's flags and Dockerfiles use: "300ms", "1.5s", "1h30m" (Go's
 * time.ParseDuration, without signs) and how Go prints one (time.Duration.String).
 */
const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in milliseconds, or undefined if `v` is not one. */
export function parseGoDuration(v: string): number | undefined {
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0, at = 0;
  while (at < v.length) {
    re.lastIndex = at;
    const m = re.exec(v);
    if (!m) return undefined;
    ms += Number(m[1]) * UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  return at > 0 ? ms : undefined;
}

/** Nanoseconds as Go prints them: "200ms", "30s", "1m30s", "2h0m0s". */
export function formatGoDuration(ns: number): string {
  if (ns < 1e9) return `${Number((ns / 1e6).toPrecision(6))}ms`;
  const total = ns / 1e9, h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), sec = Number((total % 60).toFixed(9));
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${sec}s`;
}
