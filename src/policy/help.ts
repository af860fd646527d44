/** The CI mode's part of `tssandbox --help` (src/cli/main.ts appends it). */
export const CI_HELP = `
CI options (untrusted code: limits, policy, audit report; docs/ci.md):
  --timeout DURATION      wall-time limit, e.g. 30s, 500ms, 2m
  --cpu-time DURATION     CPU-time limit of all guest processes together
  --nofile N              at most N open files per process
  --output-limit SIZE     at most SIZE bytes on stdout+stderr (exactly SIZE get out)
  --disk SIZE             at most SIZE bytes in the writable overlay and tmpfs mounts
  --policy FILE           YAML or JSON policy: filesystem hide/readonly/readwrite, env allow/set,
                          network mode/allow, exec allow/deny, syscalls deny, limits
  --policy-mode MODE      enforce (default) or warn: record what would be denied, deny nothing
  --report FILE           write the JSON audit report (docs/schemas/audit-report.schema.json)
  --summary[=FILE]        write a Markdown summary (default: stderr), e.g. $GITHUB_STEP_SUMMARY
  --ci                    CI mode without another CI flag (any of the above implies it)
  --deterministic[=SEED]  virtual clock, seeded randomness, one thread at a time: identical runs
  --record FILE           keep the syscall log of the run (implies --deterministic)
  --replay FILE           run again with the log's seed; exit 117 at the first syscall that differs
  --mask-cpuid            with --deterministic: CPUID hides RDRAND/RDSEED (slower: CPUID faulting)

  In CI mode a limit reached (--memory and --pids-limit too; alone, they act as on
  Linux) ends the whole sandbox with one line on stderr and its exit status:
    124 --timeout   152 --cpu-time   118 --memory   119 --pids-limit
    120 --nofile    121 --output-limit   122 --disk
  Set-up errors (bad flag 2; bad policy, mount or network 125; program not runnable 126,
  not found 127); otherwise the guest's own status (128+N for a death by signal N).
`;
