/* klog - the sparse offset index and the time index of a segment. MIT licence. */
/*
 * Format (Kafka's, big-endian, no header, no checksum):
 *
 *   <base>.index      8-byte entries: int32 relative offset (offset - base),
 *                     int32 byte position of a batch in <base>.log
 *   <base>.timeindex  12-byte entries: int64 timestamp (ms), int32 relative offset
 *
 * Entries are sorted.  An offset-index entry (o, p) says: the batches that
 * start at byte p hold offsets up to o, so a lookup for offset x binary
 * searches the greatest entry with o <= x and scans batches forward from p.
 * A time-index entry (t, o) says: the largest timestamp up to offset o is t.
 *
 * When written: on an append, if more than index.interval.bytes were appended
 * since the last entry, both files get an entry before the new bytes are
 * counted (the time index only if the segment's largest timestamp grew);
 * a roll adds one last time-index entry.  Kafka preallocates both files
 * (zero-filled, 10 MiB) while a segment is active and trims them on roll;
 * klog never preallocates, so its files hold exactly entries * size bytes,
 * and an all-zero entry after the first one is read as the end (Kafka's
 * padding).  A file whose length is not a multiple of the entry size has a
 * torn last entry: it is ignored here and cut off by recovery.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int
entsize(int kind)
{
	return kind ? 12 : 8;
}

static int
read_entry(int fd, int kind, int64_t i, int64_t base, struct klog_index_entry *e)
{
	unsigned char b[12];
	int sz = entsize(kind);

	if (pread(fd, b, (size_t)sz, i * sz) != sz)
		return -1;
	if (kind) {
		e->position = (int64_t)get64(b);        /* timestamp */
		e->offset = base + (int32_t)get32(b + 8);
	} else {
		e->offset = base + (int32_t)get32(b);
		e->position = (int32_t)get32(b + 4);
	}
	return 0;
}

static int
is_zero(int fd, int kind, int64_t i)
{
	unsigned char b[12] = {0}, z[12] = {0};
	int sz = entsize(kind);

	if (pread(fd, b, (size_t)sz, i * sz) != sz)
		return 1;
	return !memcmp(b, z, (size_t)sz);
}

int64_t
kindex_count(int fd, int kind)
{
	struct stat st;
	int64_t n, lo, hi;

	if (fstat(fd, &st) < 0)
		return -1;
	n = st.st_size / entsize(kind);
	if (n <= 1 || !is_zero(fd, kind, n - 1))
		return n;
	/* Kafka's zero padding: find the first zero entry after entry 0 */
	lo = 1;
	hi = n - 1;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (is_zero(fd, kind, mid))
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == 1 && is_zero(fd, kind, 0))
		return 0;
	return lo;
}

int
kindex_entry(int fd, int kind, int64_t i, int64_t base, struct klog_index_entry *e)
{
	return read_entry(fd, kind, i, base, e);
}

/* greatest entry with offset (kind 0) or timestamp (kind 1) <= key; -1 if none */
int64_t
kindex_lookup(int fd, int kind, int64_t n, int64_t base, int64_t key,
    struct klog_index_entry *e)
{
	int64_t lo = 0, hi = n - 1, found = -1;
	struct klog_index_entry x;

	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (read_entry(fd, kind, mid, base, &x) < 0)
			return -1;
		if ((kind ? x.position : x.offset) <= key) {
			found = mid;
			*e = x;
			lo = mid + 1;
		} else
			hi = mid - 1;
	}
	return found;
}

int
kindex_append(int fd, int kind, int64_t base, int64_t offset, int64_t value)
{
	unsigned char b[12];
	int sz = entsize(kind);

	if (kind) {
		put64(b, (uint64_t)value);
		put32(b + 8, (uint32_t)(offset - base));
	} else {
		put32(b, (uint32_t)(offset - base));
		put32(b + 4, (uint32_t)value);
	}
	return write(fd, b, (size_t)sz) == sz ? 0 : -1;
}

int
klog_index_read(const char *path, int kind, int64_t base,
    struct klog_index_entry **out, size_t *nout, char *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int64_t n, i;
	struct klog_index_entry *e;

	if (fd < 0)
		return kerr_sys(err, "cannot open index '%s'", path);
	if ((n = kindex_count(fd, kind)) < 0) {
		kerr_sys(err, "cannot read index '%s'", path);
		close(fd);
		return -1;
	}
	if (!(e = calloc((size_t)n + 1, sizeof *e))) {
		close(fd);
		return kerr_sys(err, "index '%s'", path);
	}
	for (i = 0; i < n; i++)
		if (read_entry(fd, kind, i, base, &e[i]) < 0) {
			kerr_sys(err, "cannot read index '%s'", path);
			free(e);
			close(fd);
			return -1;
		}
	close(fd);
	*out = e;
	*nout = (size_t)n;
	return 0;
}
