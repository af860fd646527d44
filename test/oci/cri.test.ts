/**
 * Kubernetes' path: containerd's CRI plugin with tssandbox as a runtime handler (the
 * runc shim, io.containerd.runc.v2, with `BinaryName` = our native entry), driven over
 * the CRI gRPC API as the kubelet drives it (no crictl in Debian: a small client on
 * @grpc/grpc-js with the CRI messages it needs, test/oci/cri/runtime-v1.proto). A
 * containerd of the test's own (root, state, socket, runtime root under a temp dir; the
 * host's daemons are left alone), busybox images made by the test (`ctr images import`,
 * no registry): RunPodSandbox (its pause container runs in tssandbox too),
 * CreateContainer, StartContainer, the container's log as the CRI writes it, ExecSync,
 * StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox, nothing left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME, containerdConfig, have, makeRootfs, ociImageTar, tmp, waitFor, killTree, processesWith, spawnAsync } from './helpers';

const ok = have('containerd') && have('ctr');
const IMAGE = 'docker.io/library/tssandbox-busybox:cri';
const PAUSE = 'docker.io/library/tssandbox-pause:cri';
const NODE = 2; // NamespaceMode.NODE: the node's network, so no CNI plugin is needed

type Call = (req: object) => Promise<any>;

/** The RuntimeService's calls as promises (deadline 60 s each). */
function criClient(sock: string): { rt: Record<string, Call>; close(): void } {
  const def = protoLoader.loadSync(path.join(__dirname, 'cri', 'runtime-v1.proto'), {
    keepCase: true, longs: Number, enums: String, defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const client = new pkg.runtime.v1.RuntimeService(`unix://${sock}`, grpc.credentials.createInsecure());
  const rt: Record<string, Call> = {};
  for (const name of ['Version', 'RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox', 'PodSandboxStatus', 'CreateContainer',
    'StartContainer', 'StopContainer', 'RemoveContainer', 'ContainerStatus', 'ExecSync']) {
    rt[name] = (req) => new Promise((resolve, reject) => {
      client[name](req, { deadline: Date.now() + 60_000 }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)));
    });
  }
  return { rt, close: () => client.close() };
}

describe.skipIf(!ok)('containerd CRI with tssandbox as a runtime handler', () => {
  let dir = '';
  let sock = '';
  let daemon: ChildProcess | null = null;
  let cri: ReturnType<typeof criClient> | null = null;
  let podId = '';
  const runtimeRoot = () => path.join(dir, 'tssandbox-root');

  const ctr = (args: string[]) =>
    spawnAsync('ctr', ['-a', sock, '-n', 'k8s.io', ...args], { timeout: 120_000, input: '' });

  const podConfig = () => ({
    metadata: { name: 'tss-pod', uid: 'tss-pod-uid-1', namespace: 'default', attempt: 0 },
    log_directory: path.join(dir, 'pod-logs'),
    linux: { security_context: { namespace_options: { network: NODE, pid: 'CONTAINER', ipc: 'POD' } } },
  });

  beforeAll(async () => {
    dir = tmp('cri');
    sock = path.join(dir, 'c.sock');
    fs.mkdirSync(path.join(dir, 'pod-logs'));
    const sect = '[plugins."io.containerd.grpc.v1.cri"';
    const config = containerdConfig(dir, sock, [], [
      `${sect}]`,
      `  sandbox_image = "${PAUSE}"`,
      '  disable_apparmor = true',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `${sect}.cni]`,
      `  bin_dir = "${dir}/cni-bin"`,
      `  conf_dir = "${dir}/cni-conf"`,
      `${sect}.containerd]`,
      '  snapshotter = "native"',
      '  default_runtime_name = "tssandbox"',
      // As the README's Kubernetes section: the runc shim with our binary.
      `${sect}.containerd.runtimes.tssandbox]`,
      '  runtime_type = "io.containerd.runc.v2"',
      '  pod_annotations = ["org.tssandbox.*"]',
      `${sect}.containerd.runtimes.tssandbox.options]`,
      `  BinaryName = "${RUNTIME}"`,
      `  Root = "${runtimeRoot()}"`,
    ]);
    const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
    daemon = spawn('containerd', ['-c', config], { stdio: ['ignore', log, log] });
    await waitFor(async () => fs.existsSync(sock) && (await ctr(['version'])).status === 0);
    const rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    for (const [name, cmd] of [[IMAGE, ['sh']], [PAUSE, ['sleep', '100000']]] as const) {
      const tar = await ociImageTar(rootfs, path.join(dir, 'image.tar'), name, [...cmd]);
      const r = await ctr(['images', 'import', '--snapshotter', 'native', tar]);
      expect(r.status, r.stderr).toBe(0);
    }
    cri = criClient(sock);
    // The CRI plugin serves once it has loaded (after the gRPC socket appears).
    await waitFor(async () => (await cri!.rt.Version({ version: 'v1' }).catch(() => null)) !== null);
  }, 180_000);

  afterAll(async () => {
    if (cri && podId) {
      await cri.rt.StopPodSandbox({ pod_sandbox_id: podId }).catch(() => undefined);
      await cri.rt.RemovePodSandbox({ pod_sandbox_id: podId }).catch(() => undefined);
    }
    cri?.close();
    if (daemon?.pid) killTree(daemon.pid);
    // Shims outlive containerd by design: end ours (named by our socket) too.
    if (sock) for (const p of processesWith(sock)) killTree(p);
    if (dir) {
      await spawnAsync('sh', ['-c', `grep " ${dir}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l`]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const sentries = () => processesWith('__oci-sentry').filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(runtimeRoot());
    } catch {
      return false;
    }
  });

  const status = async (id: string) => (await cri!.rt.ContainerStatus({ container_id: id })).status;

  it('a pod: sandbox, a container that runs to its exit, its log, ExecSync, stop, removal', async () => {
    const rt = cri!.rt;
    const v = await rt.Version({ version: 'v1' });
    expect(v.runtime_name).toBe('containerd');

    const pod = await rt.RunPodSandbox({ config: podConfig(), runtime_handler: 'tssandbox' });
    podId = pod.pod_sandbox_id;
    expect(podId).toMatch(/^[0-9a-f]{64}$/);
    const ps = await rt.PodSandboxStatus({ pod_sandbox_id: podId });
    expect(ps.status.state).toBe('SANDBOX_READY');
    expect(ps.status.runtime_handler).toBe('tssandbox');
    // The pause container is one of ours: its Sentry is under our runtime's root.
    expect(fs.existsSync(path.join(runtimeRoot(), 'k8s.io', podId, 'state.json'))).toBe(true);

    // A container that prints and exits with a status of its own.
    const once = await rt.CreateContainer({
      pod_sandbox_id: podId, sandbox_config: podConfig(),
      config: {
        metadata: { name: 'once', attempt: 0 }, image: { image: IMAGE },
        command: ['sh', '-c'], args: ['echo hello from cri; uname -r; echo "FOO=$FOO"; exit 7'],
        envs: [{ key: 'FOO', value: 'bar' }], log_path: 'once.log',
        linux: { security_context: { namespace_options: { network: NODE, pid: 'CONTAINER', ipc: 'POD' } } },
      },
    });
    const onceId = once.container_id;
    expect((await status(onceId)).state).toBe('CONTAINER_CREATED');
    await rt.StartContainer({ container_id: onceId });
    let st: any = null;
    await waitFor(async () => (st = await status(onceId)).state === 'CONTAINER_EXITED');
    expect(st.exit_code).toBe(7);
    // The CRI log format: "TIME STREAM TAG line".
    const log = fs.readFileSync(path.join(dir, 'pod-logs', 'once.log'), 'utf8');
    const lines = log.trim().split('\n').map((l) => l.split(' ').slice(3).join(' '));
    expect(log).toMatch(/^\S+ stdout F hello from cri$/m);
    expect(lines[1]).toContain('tssandbox');
    expect(lines[2]).toBe('FOO=bar');
    await rt.RemoveContainer({ container_id: onceId });

    // A long-running one: ExecSync joins it; StopContainer ends it.
    const long = await rt.CreateContainer({
      pod_sandbox_id: podId, sandbox_config: podConfig(),
      config: {
        metadata: { name: 'long', attempt: 0 }, image: { image: IMAGE },
        command: ['sh', '-c', 'echo started > /tmp/mark; exec sleep 100000'], log_path: 'long.log',
        linux: { security_context: { namespace_options: { network: NODE, pid: 'CONTAINER', ipc: 'POD' } } },
      },
    });
    const longId = long.container_id;
    await rt.StartContainer({ container_id: longId });
    expect((await status(longId)).state).toBe('CONTAINER_RUNNING');
    let ex: any = null;
    // The container's shell writes the mark first: wait for it, not for time.
    await waitFor(async () => {
      ex = await rt.ExecSync({ container_id: longId, cmd: ['sh', '-c', 'cat /tmp/mark && tr "\\0" " " < /proc/1/cmdline && echo && exit 3'], timeout: 30 });
      return ex.stdout.toString().startsWith('started');
    });
    // The same sandbox as the container's: its file (tmpfs upper) and its pid 1.
    expect(ex.stdout.toString()).toBe('started\nsleep 100000 \n');
    expect(ex.exit_code).toBe(3);
    expect(sentries().length).toBeGreaterThanOrEqual(2); // the pause container's and this one's
    await rt.StopContainer({ container_id: longId, timeout: 5 });
    expect((await status(longId)).state).toBe('CONTAINER_EXITED');
    await rt.RemoveContainer({ container_id: longId });
    await expect(status(longId)).rejects.toThrow(/not found|does not exist/i);

    await rt.StopPodSandbox({ pod_sandbox_id: podId });
    expect((await rt.PodSandboxStatus({ pod_sandbox_id: podId })).status.state).toBe('SANDBOX_NOTREADY');
    await rt.RemovePodSandbox({ pod_sandbox_id: podId });
    podId = '';
    await waitFor(() => sentries().length === 0);
    expect(fs.readdirSync(path.join(runtimeRoot(), 'k8s.io')).filter((f) => !f.startsWith('.'))).toEqual([]);
  }, 240_000);
});
