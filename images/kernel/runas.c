/*
 * bac-runas: runs a program as another user: runas <uid> <gid> <program> [args...]. Drops the
 * supplementary groups, then the group, then the user, and execs the program; exits 126 when a
 * step fails. Built static by images/kernel/build; the job script of a step whose image asks for
 * a user (its OCI config's User) runs the step through it.
 */
#include <grp.h>
#include <stdlib.h>
#include <unistd.h>

int main (int argc, char **argv) {
  char *end;
  long uid, gid;
  if (argc < 4) return 126;
  uid = strtol(argv[1], &end, 10);
  if (*end != '\0' || uid < 0) return 126;
  gid = strtol(argv[2], &end, 10);
  if (*end != '\0' || gid < 0) return 126;
  if (setgroups(0, NULL) != 0 || setgid((gid_t) gid) != 0 || setuid((uid_t) uid) != 0) return 126;
  if (getuid() != (uid_t) uid || getgid() != (gid_t) gid) return 126;
  execv(argv[3], argv + 3);
  return 127;
}
