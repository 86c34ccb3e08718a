/* klog - ktest, a fault-injection helper for the shell tests (git's test-tool). MIT licence. */

/*
 * Plain libc only: the tests use it to attack files behind the library's
 * back, so it must not depend on the code it is testing.
 *
 *   ktest flip FILE BYTE [BIT]     flip bit BIT (0-7, default 0) of byte BYTE
 *   ktest truncate FILE SIZE       truncate (or extend with zeros) to SIZE
 *   ktest size FILE                print the size in bytes
 *   ktest garbage FILE N           append N pseudo-random bytes (fixed seed)
 *   ktest zero FILE OFFSET LEN     overwrite LEN bytes at OFFSET with zeros
 *   ktest batches FILE             print "POS SIZE BASE" per record batch
 *   ktest seq N [PREFIX]           print PREFIX0 .. PREFIX<N-1>, one a line
 *
 * A negative BYTE, SIZE or OFFSET counts from the end of the file (-1 is the
 * last byte; truncate FILE -10 cuts ten bytes off).  Exit 0 on success, 1 on
 * an error, 2 on a usage error.
 *
 * batches reads the 12-byte log overhead that starts every batch in a .log
 * segment: int64 baseOffset, int32 batchLength, big-endian; the batch spans
 * batchLength + 12 bytes.  A torn tail (an incomplete header, or a batch
 * running past the end of the file) is reported on stderr, not stdout.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: ktest flip FILE BYTE [BIT]\n"
	"       ktest truncate FILE SIZE\n"
	"       ktest size FILE\n"
	"       ktest garbage FILE N\n"
	"       ktest zero FILE OFFSET LEN\n"
	"       ktest batches FILE\n"
	"       ktest seq N [PREFIX]\n";

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static void
die(const char *what, const char *file)
{
	fprintf(stderr, "ktest: %s '%s': %s\n", what, file, strerror(errno));
	exit(1);
}

/* a whole decimal (or 0x hex) number, or usage error */
static int64_t
number(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "ktest: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int
open_file(const char *file, int flags)
{
	int fd = open(file, flags | O_CLOEXEC);

	if (fd < 0)
		die("cannot open", file);
	return fd;
}

static int64_t
file_size(int fd, const char *file)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("cannot stat", file);
	return st.st_size;
}

/* a position in the file; negative counts from the end */
static int64_t
position(int64_t v, int64_t size, const char *file)
{
	if (v < 0)
		v += size;
	if (v < 0) {
		fprintf(stderr, "ktest: position before the start of '%s'\n", file);
		exit(1);
	}
	return v;
}

static void
write_all(int fd, const void *buf, size_t n, off_t off, const char *file)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = off >= 0 ? pwrite(fd, p, n, off) : write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("cannot write", file);
		}
		p += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
}

static int
cmd_flip(int argc, char **argv)
{
	int fd, bit = 0;
	int64_t size, byte;
	unsigned char c;

	if (argc < 3 || argc > 4)
		usage();
	if (argc == 4)
		bit = (int)number(argv[3]);
	if (bit < 0 || bit > 7)
		usage();
	fd = open_file(argv[1], O_RDWR);
	size = file_size(fd, argv[1]);
	byte = position(number(argv[2]), size, argv[1]);
	if (byte >= size) {
		fprintf(stderr, "ktest: byte %" PRId64 " is past the end of '%s' (%" PRId64 " bytes)\n",
		    byte, argv[1], size);
		return 1;
	}
	if (pread(fd, &c, 1, byte) != 1)
		die("cannot read", argv[1]);
	c ^= (unsigned char)(1u << bit);
	write_all(fd, &c, 1, byte, argv[1]);
	close(fd);
	return 0;
}

static int
cmd_truncate(int argc, char **argv)
{
	int fd;
	int64_t size;

	if (argc != 3)
		usage();
	fd = open_file(argv[1], O_RDWR);
	size = position(number(argv[2]), file_size(fd, argv[1]), argv[1]);
	if (ftruncate(fd, size) < 0)
		die("cannot truncate", argv[1]);
	close(fd);
	return 0;
}

static int
cmd_size(int argc, char **argv)
{
	int fd;

	if (argc != 2)
		usage();
	fd = open_file(argv[1], O_RDONLY);
	printf("%" PRId64 "\n", file_size(fd, argv[1]));
	close(fd);
	return 0;
}

static int
cmd_garbage(int argc, char **argv)
{
	unsigned char buf[4096];
	uint64_t x = 0x9e3779b97f4a7c15u;      /* xorshift64: reproducible */
	int64_t n;
	int fd;

	if (argc != 3)
		usage();
	n = number(argv[2]);
	if (n < 0)
		usage();
	fd = open_file(argv[1], O_WRONLY | O_APPEND);
	while (n > 0) {
		size_t k = n < (int64_t)sizeof buf ? (size_t)n : sizeof buf;

		for (size_t i = 0; i < k; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (unsigned char)(x >> 24);
		}
		write_all(fd, buf, k, -1, argv[1]);
		n -= (int64_t)k;
	}
	close(fd);
	return 0;
}

static int
cmd_zero(int argc, char **argv)
{
	static const unsigned char zeros[4096];
	int64_t off, len;
	int fd;

	if (argc != 4)
		usage();
	len = number(argv[3]);
	if (len < 0)
		usage();
	fd = open_file(argv[1], O_RDWR);
	off = position(number(argv[2]), file_size(fd, argv[1]), argv[1]);
	while (len > 0) {
		size_t k = len < (int64_t)sizeof zeros ? (size_t)len : sizeof zeros;

		write_all(fd, zeros, k, off, argv[1]);
		off += (int64_t)k;
		len -= (int64_t)k;
	}
	close(fd);
	return 0;
}

static uint64_t
be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
cmd_batches(int argc, char **argv)
{
	unsigned char h[12];
	int64_t size, pos = 0;
	int fd;

	if (argc != 2)
		usage();
	fd = open_file(argv[1], O_RDONLY);
	size = file_size(fd, argv[1]);
	while (pos < size) {
		ssize_t r = pread(fd, h, sizeof h, pos);
		int64_t base, len;

		if (r < 0)
			die("cannot read", argv[1]);
		if (r < (ssize_t)sizeof h) {
			fprintf(stderr, "ktest: '%s': torn batch header at byte %" PRId64 " (%zd bytes)\n",
			    argv[1], pos, r);
			break;
		}
		base = (int64_t)be64(h);
		len = (int32_t)be32(h + 8);
		if (len < 0 || pos + 12 + len > size) {
			fprintf(stderr, "ktest: '%s': torn batch at byte %" PRId64
			    " (length %" PRId64 ", %" PRId64 " bytes left)\n",
			    argv[1], pos, len, size - pos);
			break;
		}
		printf("%" PRId64 " %" PRId64 " %" PRId64 "\n", pos, len + 12, base);
		pos += len + 12;
	}
	close(fd);
	return 0;
}

static int
cmd_seq(int argc, char **argv)
{
	static char buf[1 << 16];
	const char *prefix = argc == 3 ? argv[2] : "";
	size_t plen = strlen(prefix), used = 0;
	int64_t n;

	if (argc < 2 || argc > 3)
		usage();
	n = number(argv[1]);
	if (n < 0 || plen > sizeof buf - 32)
		usage();
	for (int64_t i = 0; i < n; i++) {
		if (used + plen + 32 > sizeof buf) {
			if (fwrite(buf, 1, used, stdout) != used)
				return 1;
			used = 0;
		}
		memcpy(buf + used, prefix, plen);
		used += plen;
		used += (size_t)sprintf(buf + used, "%" PRId64 "\n", i);
	}
	if (fwrite(buf, 1, used, stdout) != used)
		return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "flip", cmd_flip },
		{ "truncate", cmd_truncate },
		{ "size", cmd_size },
		{ "garbage", cmd_garbage },
		{ "zero", cmd_zero },
		{ "batches", cmd_batches },
		{ "seq", cmd_seq },
	};
	int rc;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		rc = cmds[i].fn(argc - 1, argv + 1);
		if (fflush(stdout) == EOF && errno != EPIPE) {
			fprintf(stderr, "ktest: cannot write output: %s\n", strerror(errno));
			return 1;
		}
		return rc;
	}
	fprintf(stderr, "ktest: unknown command '%s'\n", argv[1]);
	usage();
	return 2;
}
