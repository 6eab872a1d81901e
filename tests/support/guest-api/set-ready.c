/*
 * set-ready: tells the server, from inside an instance, that the workload is ready: sends
 * `PATCH /1.0 {"state":"Ready"}` over the guest API socket (Incus: /dev/incus/sock; extension
 * instance_ready_state). The host then reports the instance's status as `Ready`.
 * Usage: set-ready [SOCKET] [STATE]   (defaults: /dev/incus/sock, Ready)
 * Prints the HTTP status line; exits 0 on a 2xx answer, 1 otherwise. Built static by build-set-ready.sh, so that
 * it runs in the busybox test image (busybox's wget and nc cannot speak HTTP over a unix socket).
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/dev/incus/sock";
  const char *state = argc > 2 ? argv[2] : "Ready";
  char body[128], req[512], res[4096];
  struct sockaddr_un addr;
  int fd, n, len = 0;

  snprintf(body, sizeof body, "{\"state\":\"%s\"}", state);
  snprintf(req, sizeof req,
           "PATCH /1.0 HTTP/1.0\r\nHost: guest\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
           strlen(body), body);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror(path); return 1; }
  if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) { perror("write"); return 1; }
  while (len < (int)sizeof res - 1 && (n = read(fd, res + len, sizeof res - 1 - len)) > 0) len += n;
  res[len] = 0;
  close(fd);
  char *eol = strstr(res, "\r\n");
  if (eol) *eol = 0;
  printf("%s\n", res);
  return strncmp(res, "HTTP/1.", 7) == 0 && res[9] == '2' ? 0 : 1;
}
