/** The parts of the OCI runtime-spec config the runtime reads (the schema checks the rest). */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface ProcessSpec {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user?: { uid?: number; gid?: number; umask?: number; additionalGids?: number[] };
  args?: string[];
  env?: string[];
  cwd: string;
  capabilities?: Record<'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', string[] | undefined>;
  rlimits?: Array<{ type: string; hard: number; soft: number }>;
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface Spec {
  ociVersion: string;
  process?: ProcessSpec;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Partial<Record<'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop', Hook[]>>;
  annotations?: Record<string, string>;
  linux?: {
    namespaces?: Array<{ type: string; path?: string }>;
    resources?: Resources;
    sysctl?: Record<string, string>;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** linux.resources as far as the host cgroup takes it (resources.ts). */
export interface Resources {
  memory?: { limit?: number };
  pids?: { limit: number };
  cpu?: { shares?: number; quota?: number; period?: number };
}
