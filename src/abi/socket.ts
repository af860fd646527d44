/** Socket ABI numbers (x86-64 Linux), shared by src/net and syscalls/net.ts. */
export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
/** Netlink message header types and flags (linux/netlink.h), for every netlink family. */
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_MULTI = 2;
export const NLM_F_ACK = 4;
export const NLM_F_DUMP = 0x300;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_RDM = 4;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** UDP-Lite (RFC 3828): UDP with a checksum covering only the first bytes it says. */
export const IPPROTO_UDPLITE = 136;
export const SOL_UDPLITE = 136;
export const UDPLITE_SEND_CSCOV = 10, UDPLITE_RECV_CSCOV = 11;
export const IPPROTO_IPV6 = 41;

export const SOL_SOCKET = 1;
export const SOL_TCP = 6;
export const SOL_IP = 0;
export const SOL_IPV6 = 41;
export const SOL_UDP = 17;
/** SOL_UDP options: GSO segment size (also a send cmsg), GRO (a recv cmsg with the segment size). */
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;

export const SO_DEBUG = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_NO_CHECK = 11;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_BSDCOMPAT = 14;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const SO_BINDTODEVICE = 25;
export const SO_TIMESTAMP = 29;
export const SO_ACCEPTCONN = 30;
export const SO_PEERSEC = 31;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_PASSSEC = 34;
export const SO_MARK = 36;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SO_RXQ_OVFL = 40;
export const SO_PEEK_OFF = 42;
export const SO_BUSY_POLL = 46;
export const SO_INCOMING_CPU = 49;
export const SO_COOKIE = 57;

export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_INFO = 11;
export const TCP_QUICKACK = 12;
export const TCP_USER_TIMEOUT = 18;
export const TCP_FASTOPEN = 23;

export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_RECVERR = 11;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_RECVERR = 25;
export const IPV6_V6ONLY = 26;
export const IPV6_TCLASS = 67;

export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_DONTROUTE = 0x4;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_MORE = 0x8000;
export const MSG_WAITFORONE = 0x10000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const MSG_ERRQUEUE = 0x2000;

export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** net.core.wmem_default / rmem_default: what SO_SNDBUF/SO_RCVBUF report before any setsockopt. */
export const DEFAULT_BUF = 212992;
/** net.core.wmem_max / rmem_max: a setsockopt value is clamped here, then doubled. */
export const MAX_BUF = 212992;
/** SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF on x86-64. */
export const MIN_SNDBUF = 4608;
export const MIN_RCVBUF = 2304;
/** SOMAXCONN (net.core.somaxconn) since Linux 5.4. */
export const SOMAXCONN = 4096;
/** net.unix.max_dgram_qlen. */
export const MAX_DGRAM_QLEN = 10;
/** SCM_MAX_FD: most fds one SCM_RIGHTS message carries. */
export const SCM_MAX_FD = 253;

export const EPHEMERAL_LO = 32768;
export const EPHEMERAL_HI = 60999;

/** Socket ioctls. */
export const SIOCINQ = 0x541b; // == FIONREAD
export const SIOCOUTQ = 0x5411; // == TIOCOUTQ
export const SIOCGIFNAME = 0x8910;
export const SIOCGIFCONF = 0x8912;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCGIFADDR = 0x8915;
export const SIOCGIFMTU = 0x8921;
export const SIOCGIFINDEX = 0x8933;
export const SIOCATMARK = 0x8905;
export const SIOCGIFDSTADDR = 0x8917;
export const SIOCGIFBRDADDR = 0x8919;
export const SIOCGIFNETMASK = 0x891b;
export const SIOCGIFHWADDR = 0x8927;
export const SIOCGIFTXQLEN = 0x8942;
export const IP_PKTINFO = 8;
export const IP_RECVTTL = 12;
export const IP_RECVTOS = 13;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_RECVTCLASS = 66;
