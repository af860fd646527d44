/** SysV IPC: shared memory, semaphores, message queues (src/kernel/ipc holds the objects). */
import type { Task } from '../src/kernel/task';
import * as shm from '../src/kernel/ipc/shm';
import * as sem from '../src/kernel/ipc/sem';
import * as msg from '../src/kernel/ipc/msg';
import { readTimespecNs } from './fs-common';

// key_t and the int arguments arrive as 64-bit registers: C passes them as int.
export function shmget(t: Task, key: number, size: number, flg: number): number {
  return shm.shmget(t, key | 0, size, flg | 0);
}

export function shmat(t: Task, id: number, addr: number, flg: number): number {
  return shm.shmat(t, id | 0, addr, flg | 0);
}

export function shmdt(t: Task, addr: number): number {
  return shm.shmdt(t, addr);
}

export function shmctl(t: Task, id: number, cmd: number, buf: number): number {
  return shm.shmctl(t, id | 0, cmd | 0, buf);
}

export function semget(t: Task, key: number, nsems: number, flg: number): number {
  return sem.semget(t, key | 0, nsems | 0, flg | 0);
}

export function semop(t: Task, id: number, sops: number, nsops: number): number {
  return sem.semtimedop(t, id | 0, sops, nsops, Infinity);
}

export function semtimedop(t: Task, id: number, sops: number, nsops: number, timeout: number): number {
  let ns = Infinity;
  if (!t.sysState && timeout !== 0) {
    ns = readTimespecNs(t, timeout);
    if (ns < 0) return ns;
  }
  return sem.semtimedop(t, id | 0, sops, nsops, ns);
}

export function semctl(t: Task, id: number, num: number, cmd: number, arg: number): number {
  // SETVAL's argument is the int of union semun; the others take its pointer.
  return sem.semctl(t, id | 0, num | 0, cmd | 0, (cmd | 0) === 16 ? arg | 0 : arg);
}

export function msgget(t: Task, key: number, flg: number): number {
  return msg.msgget(t, key | 0, flg | 0);
}

export function msgsnd(t: Task, id: number, msgp: number, size: number, flg: number): number {
  return msg.msgsnd(t, id | 0, msgp, size, flg | 0);
}

export function msgrcv(t: Task, id: number, msgp: number, size: number, type: number, flg: number): number {
  return msg.msgrcv(t, id | 0, msgp, size, type, flg | 0);
}

export function msgctl(t: Task, id: number, cmd: number, buf: number): number {
  return msg.msgctl(t, id | 0, cmd | 0, buf);
}
