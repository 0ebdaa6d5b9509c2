/** berth's OCI runtime: the library the engine uses and berth-runc wraps. */
export { Runtime, loadBundleSpec, type CreateOptions, type ExecOptions, type RuntimeOptions } from "./runtime.js";
export { ShimStepError } from "./shim.js";
export type { Spec, State, Process, LinuxResources } from "./spec.js";
