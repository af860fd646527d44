/* chown/chmod of a pipe (runc chowns its stdio pipes) and of a socket (conmon fchmods
 * its attach socket before bind): as Linux, owner or CAP_CHOWN only; ftruncate EINVAL. */
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
int main(){int p[2];pipe(p);
printf("pipe fchown 5:6: %s\n", fchown(p[0],5,6)?strerror(errno):"ok");
printf("pipe fchmod 640: %s\n", fchmod(p[1],0640)?strerror(errno):"ok");
struct stat a,b; fstat(p[0],&a); fstat(p[1],&b);
printf("read end: uid %d gid %d mode %o; write end: uid %d mode %o\n",(int)a.st_uid,(int)a.st_gid,a.st_mode&07777,(int)b.st_uid,b.st_mode&07777);
printf("ftruncate: %s\n", ftruncate(p[1],0)?strerror(errno):"ok");
int s=socket(AF_UNIX,SOCK_STREAM,0);
printf("socket fchmod 700: %s\n", fchmod(s,0700)?strerror(errno):"ok");
printf("socket fchown 7:8: %s\n", fchown(s,7,8)?strerror(errno):"ok");
fstat(s,&a);
printf("socket: uid %d gid %d mode %o\n",(int)a.st_uid,(int)a.st_gid,a.st_mode&07777);
setgid(1000); setuid(1000);
printf("fchown as a non-owner: %s\n", fchown(p[0],1000,1000)?strerror(errno):"ok");
return 0;}
