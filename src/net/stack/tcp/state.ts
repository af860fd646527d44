/** TCP states, numbered as Linux's (what /proc/net/tcp and TCP_INFO show). */
export const enum TcpState {
  ESTABLISHED = 1,
  SYN_SENT = 2,
  SYN_RECV = 3,
  FIN_WAIT1 = 4,
  FIN_WAIT2 = 5,
  TIME_WAIT = 6,
  CLOSED = 7,
  CLOSE_WAIT = 8,
  LAST_ACK = 9,
  LISTEN = 10,
  CLOSING = 11,
}

/** States in which the peer may still send us data. */
export function canReceive(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT1 || s === TcpState.FIN_WAIT2;
}
/** States in which we may still send new data. */
export function canSend(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT;
}
