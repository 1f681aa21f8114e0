/*
 * bac-reseed: gives the guest's random generator the host's seed as entropy, then makes the
 * kernel reseed its CRNG from it at once, so that VMs started from one saved state never share
 * random bytes. Usage: reseed <hex, 32 to 512 bytes>. Exit 0 when both ioctls succeeded.
 * Built static by images/kernel/build; run by the guest agent (PID 1, root) before each job.
 */
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main (int argc, char **argv) {
  struct { int entropy_count; int buf_size; unsigned char buf[512]; } pool;
  size_t length, i;
  int fd;
  if (argc != 2) return 2;
  length = strlen(argv[1]);
  if (length % 2 != 0 || length < 64 || length > 1024) return 2;
  for (i = 0; i < length / 2; i++) {
    unsigned int byte;
    if (sscanf(argv[1] + 2 * i, "%2x", &byte) != 1) return 2;
    pool.buf[i] = (unsigned char) byte;
  }
  pool.buf_size = (int) (length / 2);
  pool.entropy_count = pool.buf_size * 8;
  fd = open("/dev/urandom", O_RDWR);
  if (fd < 0) return 3;
  if (ioctl(fd, RNDADDENTROPY, &pool) != 0) return 4;
  if (ioctl(fd, RNDRESEEDCRNG) != 0) return 5;
  close(fd);
  return 0;
}
