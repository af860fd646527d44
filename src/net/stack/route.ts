/** The routing table: longest prefix wins, then the lowest metric. */
import { type Addr, inPrefix, isV4, fmt } from './addr';
import type { Nic } from './nic';

export interface Route {
  dst: Addr;
  prefix: number;
  gateway: Addr | null;
  nic: Nic;
  metric: number;
  /** Preferred source (RTA_PREFSRC), or null. */
  src: Addr | null;
  /** 'kernel' for the connected routes an address adds, 'static' for the rest. */
  proto: 'kernel' | 'static' | 'boot';
}

export class RouteTable {
  readonly routes: Route[] = [];

  add(r: Route): void {
    this.routes.push(r);
    this.routes.sort((a, b) => b.prefix - a.prefix || a.metric - b.metric);
  }

  remove(pred: (r: Route) => boolean): number {
    let n = 0;
    for (let i = this.routes.length - 1; i >= 0; i--)
      if (pred(this.routes[i])) {
        this.routes.splice(i, 1);
        n++;
      }
    return n;
  }

  lookup(dst: Uint8Array, oif: Nic | null = null): Route | null {
    const v4 = isV4(dst);
    for (const r of this.routes) {
      if (isV4(r.dst) !== v4 || !r.nic.up) continue;
      if (oif !== null && r.nic !== oif) continue;
      if (inPrefix(r.dst, dst, r.prefix)) return r;
    }
    return null;
  }

  describe(r: Route): string {
    return `${fmt(r.dst)}/${r.prefix}${r.gateway ? ` via ${fmt(r.gateway)}` : ''} dev ${r.nic.name}`;
  }
}
