/** The tssandbox library: `import { Sandbox } from 'tssandbox'` (src/api). */
export { Sandbox } from './api/sandbox';
export type { RunResult, Exited, AuditReport } from './api/sandbox';
export type {
  SandboxOptions, Limits, Mount, HookResult, OpenRequest, ExecRequest, ConnectRequest,
} from './api/options';
export type { PolicyDoc as Policy } from './policy/schema';
