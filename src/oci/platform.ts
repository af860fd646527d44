/**
 * Which platform a container's Sentry traps its guest with: the runtime flag
 * `--platform` (runc-style global flag, as runsc's), else the bundle's annotation
 * `org.tssandbox.platform`, else TSSANDBOX_PLATFORM, else ptrace. Decided at create
 * (an unknown or unavailable one fails create, one line); exec'd processes join the
 * Sentry and so its platform.
 */
import { fail } from './errors';
import { PLATFORM_NAMES, isPlatformName, platformFromEnv, staticUnavailability, type PlatformName } from '../platform/select';
import type { Spec } from './spec-types';

export const PLATFORM_ANNOTATION = 'org.tssandbox.platform';

/** The platforms OCI mode runs on (kvm is not implemented). */
export const OCI_PLATFORMS: readonly PlatformName[] = PLATFORM_NAMES.filter((p) => p !== 'kvm');

/** The flag's value checked (parseGlobals): '' when not given. */
export function checkPlatformFlag(v: string): string {
  if (v !== '' && !(OCI_PLATFORMS as readonly string[]).includes(v)) {
    fail(`unknown platform '${v}' (available: ${OCI_PLATFORMS.join(', ')})`, 2);
  }
  return v;
}

export function containerPlatform(flag: string, config: Spec): PlatformName {
  const ann = config.annotations?.[PLATFORM_ANNOTATION];
  const env = platformFromEnv('ptrace');
  const [name, from] = flag ? [flag, '--platform'] : ann !== undefined ? [ann, `annotation ${PLATFORM_ANNOTATION}`] : [env, 'TSSANDBOX_PLATFORM'];
  if (!isPlatformName(name) || !(OCI_PLATFORMS as readonly string[]).includes(name)) {
    fail(`${from}: unknown platform '${name}' (available: ${OCI_PLATFORMS.join(', ')})`);
  }
  const why = staticUnavailability(name);
  if (why) fail(`platform ${name}: ${why}`);
  return name;
}
