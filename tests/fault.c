/* klog - an LD_PRELOAD shim: injected I/O errors and a power-loss model. MIT licence. */
/*
 *	LD_PRELOAD=tests/libfault.so KLOG_FAULT='fdatasync:EIO:count=1' CMD ...
 *
 * Faults.  Rules come from $KLOG_FAULT and from the file $KLOG_FAULT_FILE,
 * which is read again whenever its inode, size, mtime or ctime changes (so
 * a test arms a fault while the process runs; two changes within one
 * timestamp tick with the same size go unseen: write a new file and
 * rename it over).  One rule per line or ';'-separated, '#' comments:
 *
 *	CALL:ERRNO[:after=N][:count=M][:path=GLOB][:delay=MS][:partial]
 *	CALL:none[:after=N][:count=M][:path=GLOB][:delay=MS]
 *	write:short[:after=N][:count=M][:path=GLOB][:delay=MS]
 *
 * CALL is a family; the names in parentheses are the same family:
 *	write			write
 *	pwrite (pwrite64)	pwrite, pwrite64
 *	writev (pwritev)	writev, pwritev, pwritev64, pwritev2
 *	fsync, fdatasync	on a regular file
 *	dirfsync		fsync or fdatasync on a directory
 *	sync_file_range
 *	ftruncate (truncate)	ftruncate, ftruncate64, truncate, truncate64
 *	open (open64 openat openat64 creat)
 *				every open variant (and the fortify __open_2
 *				ones), only when O_CREAT is given
 *	mkdir (mkdirat)		mkdir, mkdirat
 *	rename (renameat renameat2)
 *				rename, renameat, renameat2; GLOB may match
 *				the old or the new name
 *	unlink (unlinkat rmdir)	unlink, unlinkat, rmdir
 * ERRNO is a name (EIO ENOSPC EDQUOT EMFILE EROFS ...) or a number.  A
 * matching call first lets `after` calls pass, then fails `count` times
 * (default: every time), with nothing done.  `short` (write family only)
 * writes half of the request and returns that count; `:partial` with an
 * errno does the same and the next write-family call on that descriptor
 * fails with ERRNO (a disk filling up).  `none` instead of an errno fires
 * like any rule but lets the call through: with `delay=MS` (any rule may
 * have one) the call sleeps MS milliseconds first, a slow disk; the
 * real call (or the injected error) follows.  GLOB is fnmatch(3)ed against the
 * absolute path ('*' crosses '/'; no ':' in it); a descriptor's path comes
 * from /proc/self/fd, cached per descriptor until it is closed (close,
 * fclose, closedir, dup2, dup3, close_range) or any rename or unlink.  The
 * first rule that fires wins.  A bad rule ends the process with status 2.
 *
 * Only regular files and directories are eligible, never sockets, pipes or
 * terminals, and with $KLOG_FAULT_ROOT only those at or under that
 * directory.  $KLOG_FAULT_LOG names a file that gets one line per injected
 * fault: "CALL PATH ERRNO", "write PATH short DONE/ASKED", "write PATH
 * partial DONE/ASKED ERRNO", "CALL PATH none" (a `none` rule fired); a
 * rule's delay is added as " delay=MS" to the first and the last.
 *
 * Trace.  $KLOG_FAULT_TRACE names a file that gets one line per eligible
 * call once it returned, injected failures included: "CALL RESULT PATH"
 * ("rename RESULT FROM TO"), CALL the family's first name above (write,
 * pwrite, writev, fsync, fdatasync, dirfsync, sync_file_range, ftruncate,
 * open (only with O_CREAT), mkdir, rename, unlink), RESULT 0 or the errno
 * name.  A sync also gets "CALL begin PATH" when it is called (before
 * any delay: the caller asked for it then).  Each line is one write(2)
 * with O_APPEND, so other
 * processes may append to the same file: its order is the order of the
 * events (a test checks that an acknowledgement came after the sync).
 *
 * Power loss.  With $KLOG_SHADOW=DIR (and $KLOG_FAULT_ROOT, required) the
 * shim keeps, in DIR, what a power loss would leave of the files under the
 * root.  The model: a file's data is durable once an fsync or fdatasync
 * of it succeeded, a name once an fsync of its directory did.  The layout
 * of DIR (kpowercut reads it; `kpowercut baseline` seeds it):
 *
 *	DIR/root	one line: the KEY of the root directory
 *	DIR/f/KEY	the durable bytes of regular file KEY: its content, up
 *			to its size, when the latest successful fsync of it began
 *	DIR/d/KEY	the durable entries of directory KEY, as of the latest
 *			successful fsync of it: "TYPE KEY NAME\n" per regular
 *			file (TYPE f) or directory (TYPE d), sorted by name
 *	DIR/[fd]/.tmp.PID.TID	staging, renamed over the above on success
 *
 * KEY names an inode: MAJOR.MINOR-INO-BTIME.NSEC in hex, from statx(2) (a
 * birth time of 0 where the file system keeps none; an inode number
 * reused within one run then cannot be told from its previous file).  A
 * file or directory without an entry in DIR has no durable content.
 * Nothing in DIR is ever deleted: an unlinked file's name comes back after
 * a power loss until its directory is synced.
 *
 * The copy is taken before the real fsync (what the fsync is sure to cover)
 * and committed only if it succeeds.  It is incremental: only the bytes
 * past the last copy are appended, unless the file was written below that
 * length (pwrite or write at a lower offset, ftruncate/truncate below it,
 * an open with O_TRUNC) since, which forces a whole copy.  One fsync at a
 * time is modelled (a mutex); writes from other threads go on meanwhile.
 * Not modelled: O_SYNC/O_DSYNC, sync(2), syncfs, msync, mmap writes,
 * stdio writes (glibc calls write internally), changes by other processes
 * between two copies, fcntl(F_DUPFD), symbolic links.  A failure to keep the
 * shadow aborts the process: a wrong model must not pass for a good one.
 */
#include <dlfcn.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "shadow.h"

/* the fortify and 64-bit entry points have no prototype without
 * _FORTIFY_SOURCE or on every libc */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
int close_range(unsigned int, unsigned int, int);

enum {
	F_WRITE, F_PWRITE, F_WRITEV, F_FSYNC, F_FDATASYNC, F_DIRFSYNC, F_SFR, F_FTRUNCATE,
	F_OPEN, F_MKDIR, F_RENAME, F_UNLINK, F_N
};

static const struct {
	const char *name;
	int fam;
} famnames[] = {
	{ "write", F_WRITE }, { "pwrite", F_PWRITE }, { "writev", F_WRITEV },
	{ "fsync", F_FSYNC }, { "fdatasync", F_FDATASYNC }, { "dirfsync", F_DIRFSYNC },
	{ "sync_file_range", F_SFR }, { "ftruncate", F_FTRUNCATE }, { "open", F_OPEN },
	{ "mkdir", F_MKDIR }, { "rename", F_RENAME }, { "unlink", F_UNLINK },
	/* aliases */
	{ "pwrite64", F_PWRITE }, { "pwritev", F_WRITEV }, { "pwritev64", F_WRITEV },
	{ "pwritev2", F_WRITEV }, { "ftruncate64", F_FTRUNCATE }, { "truncate", F_FTRUNCATE },
	{ "truncate64", F_FTRUNCATE }, { "open64", F_OPEN }, { "openat", F_OPEN },
	{ "openat64", F_OPEN }, { "creat", F_OPEN }, { "creat64", F_OPEN },
	{ "mkdirat", F_MKDIR }, { "renameat", F_RENAME }, { "renameat2", F_RENAME },
	{ "unlinkat", F_UNLINK }, { "rmdir", F_UNLINK },
};

static const struct {
	const char *name;
	int e;
} errnames[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EMFILE", EMFILE },
	{ "ENFILE", ENFILE }, { "EROFS", EROFS }, { "EACCES", EACCES }, { "EPERM", EPERM },
	{ "ENOENT", ENOENT }, { "EEXIST", EEXIST }, { "EINTR", EINTR }, { "EAGAIN", EAGAIN },
	{ "EBADF", EBADF }, { "EFBIG", EFBIG }, { "EINVAL", EINVAL }, { "ENOMEM", ENOMEM },
	{ "EXDEV", EXDEV }, { "EBUSY", EBUSY }, { "ENOTDIR", ENOTDIR }, { "EISDIR", EISDIR },
	{ "ENAMETOOLONG", ENAMETOOLONG }, { "ENOTEMPTY", ENOTEMPTY }, { "ETIMEDOUT", ETIMEDOUT },
	{ "ECANCELED", ECANCELED }, { "ESTALE", ESTALE }, { "ENOLCK", ENOLCK },
};

enum { A_NONE, A_ERR, A_SHORT, A_PARTIAL, A_PASS };

struct rule {
	int fam;
	int act;                /* A_ERR, A_SHORT, A_PARTIAL, A_PASS */
	int err;
	long after, count;      /* count < 0: no limit */
	long delay;             /* ms to sleep before the call */
	char *glob;
	long seen, fired;
};

/* what to do with one call (A_NONE, A_ERR, A_SHORT, A_PARTIAL), and
 * with trace set, its path(s) for the trace line */
struct act {
	int act, err;
	long delay;
	int trace;              /* 1: path, 2: path and path2 */
	char path[PATH_MAX], path2[PATH_MAX];
};

/* what a descriptor is, as of path generation gen (0: not known) */
struct fdent {
	unsigned gen;
	char type, elig, append;
	int pend;               /* errno owed after a partial write */
	char key[SH_KEYLEN];
	char *path;
};

/* an inode's shadow: durable length and whether it was written below it */
struct inode {
	struct inode *next;
	char key[SH_KEYLEN];
	int64_t synced;
	int dirty;
	unsigned seq;
};

#define NBUCKET 1024

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread int in_shim __attribute__((tls_model("initial-exec")));
static int ready, on;
static char *root, *shadow, *rules_file, *log_path, *trace_path;
static size_t rootlen;
static struct rule *rules;
static size_t nrules, nenv;
static unsigned famask;
static struct stat rules_st;
static int rules_seen;
static struct fdent *fds;
static size_t nfds;
static unsigned pgen = 1;
static struct inode *itab[NBUCKET];

/* --- the real functions ---------------------------------------------- */

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_sync_file_range)(int, off64_t, off64_t, unsigned int);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off64_t);
static int (*r_truncate)(const char *, off_t);
static int (*r_truncate64)(const char *, off64_t);
static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);
static int (*r___open_2)(const char *, int);
static int (*r___open64_2)(const char *, int);
static int (*r___openat_2)(int, const char *, int);
static int (*r___openat64_2)(int, const char *, int);
static int (*r_creat)(const char *, mode_t);
static int (*r_creat64)(const char *, mode_t);
static int (*r_mkdir)(const char *, mode_t);
static int (*r_mkdirat)(int, const char *, mode_t);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);
static int (*r_rmdir)(const char *);
static int (*r_close)(int);
static int (*r_fclose)(FILE *);
static int (*r_closedir)(DIR *);
static int (*r_dup)(int);
static int (*r_dup2)(int, int);
static int (*r_dup3)(int, int, int);
static int (*r_close_range)(unsigned int, unsigned int, int);

static void
say(const char *a, const char *b, const char *c)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "libfault: %s%s%s\n", a, b, c);

	if (n > 0)
		syscall(SYS_write, 2, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

static void
die(const char *what, const char *obj)
{
	say(what, obj ? " " : "", obj ? obj : "");
	abort();
}

/* the next definition of name (libc's, or a sanitizer's), looked up once */
static void *
next(void **slot, const char *name)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!p) {
		if (!(p = dlsym(RTLD_NEXT, name)))
			die("no next definition of", name);
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	}
	return p;
}

#define REAL(fn) ((__typeof__(r_##fn))next((void **)&r_##fn, #fn))

/* --- state and locking ----------------------------------------------- */

/* the recursion guard goes up before the lock is taken: a signal handler
 * that writes (a self-pipe) while this thread holds the lock passes through */
static void
lock(void)
{
	in_shim++;
	pthread_mutex_lock(&mu);
}

static void
unlock(void)
{
	pthread_mutex_unlock(&mu);
	in_shim--;
}

static void
atfork_prepare(void)
{
	in_shim++;
	pthread_mutex_lock(&sync_mu);
	pthread_mutex_lock(&mu);
}

static void
atfork_after(void)
{
	pthread_mutex_unlock(&mu);
	pthread_mutex_unlock(&sync_mu);
	in_shim--;
}

static const char *
errname(int e)
{
	static __thread char num[16];
	size_t i;

	for (i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
		if (errnames[i].e == e)
			return errnames[i].name;
	snprintf(num, sizeof num, "%d", e);
	return num;
}

static const char *
famname(int fam)
{
	size_t i;

	for (i = 0; i < sizeof famnames / sizeof famnames[0]; i++)
		if (famnames[i].fam == fam)
			return famnames[i].name;
	return "?";
}

/* --- rules ----------------------------------------------------------- */

static int
parse_num(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || end == s || *end || *v < 0 ? -1 : 0;
}

/* one rule, in place (s is modified) */
static int
parse_rule(char *s, struct rule *r)
{
	char *f, *save = NULL;
	size_t i;

	memset(r, 0, sizeof *r);
	r->count = -1;
	r->fam = -1;
	if (!(f = strtok_r(s, ":", &save)))
		return -1;
	for (i = 0; i < sizeof famnames / sizeof famnames[0]; i++)
		if (!strcmp(famnames[i].name, f))
			r->fam = famnames[i].fam;
	if (r->fam < 0 || !(f = strtok_r(NULL, ":", &save)))
		return -1;
	if (!strcmp(f, "short")) {
		if (r->fam != F_WRITE && r->fam != F_PWRITE && r->fam != F_WRITEV)
			return -1;
		r->act = A_SHORT;
	} else if (!strcmp(f, "none")) {
		r->act = A_PASS;
	} else {
		long v;
		r->act = A_ERR;
		for (i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
			if (!strcmp(errnames[i].name, f))
				r->err = errnames[i].e;
		if (!r->err) {
			if (parse_num(f, &v) < 0 || v == 0 || v > 4095)
				return -1;
			r->err = (int)v;
		}
	}
	while ((f = strtok_r(NULL, ":", &save))) {
		if (!strncmp(f, "after=", 6)) {
			if (parse_num(f + 6, &r->after) < 0)
				return -1;
		} else if (!strncmp(f, "count=", 6)) {
			if (parse_num(f + 6, &r->count) < 0)
				return -1;
		} else if (!strncmp(f, "delay=", 6)) {
			if (parse_num(f + 6, &r->delay) < 0 || r->delay > 600000)
				return -1;
		} else if (!strncmp(f, "path=", 5) && f[5]) {
			free(r->glob);
			if (!(r->glob = strdup(f + 5)))
				return -1;
		} else if (!strcmp(f, "partial") && r->act == A_ERR &&
		    (r->fam == F_WRITE || r->fam == F_PWRITE || r->fam == F_WRITEV)) {
			r->act = A_PARTIAL;
		} else
			return -1;
	}
	return 0;
}

/* append the rules in text (modified) to the table; a bad rule aborts */
static void
parse_rules(char *text, const char *from)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, ";\n", &save); line; line = strtok_r(NULL, ";\n", &save)) {
		struct rule r, *nv;
		char copy[1024];
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		snprintf(copy, sizeof copy, "%s", line);
		if (parse_rule(line, &r) < 0) {
			free(r.glob);
			say("bad rule in ", from, ":");
			say("   ", copy, "");
			_exit(2);
		}
		if (!(nv = realloc(rules, (nrules + 1) * sizeof *rules)))
			die("out of memory", NULL);
		rules = nv;
		rules[nrules++] = r;
		famask |= 1u << r.fam;
	}
}

static void
set_mask(void)
{
	size_t i;

	famask = 0;
	for (i = 0; i < nrules; i++)
		famask |= 1u << rules[i].fam;
}

/* read $KLOG_FAULT_FILE again if it changed (under the lock) */
static void
rules_refresh(void)
{
	struct stat st;
	size_t i;
	char *text;
	int fd;
	ssize_t n;

	if (!rules_file)
		return;
	if (stat(rules_file, &st) < 0)
		memset(&st, 0, sizeof st);
	if (rules_seen && st.st_ino == rules_st.st_ino && st.st_dev == rules_st.st_dev &&
	    st.st_size == rules_st.st_size &&
	    st.st_mtim.tv_sec == rules_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == rules_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == rules_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == rules_st.st_ctim.tv_nsec)
		return;
	rules_seen = 1;
	rules_st = st;
	for (i = nenv; i < nrules; i++)
		free(rules[i].glob);
	nrules = nenv;
	set_mask();
	if (!st.st_ino || (fd = open(rules_file, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (!(text = malloc((size_t)st.st_size + 1)))
		die("out of memory", NULL);
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	parse_rules(text, rules_file);
	free(text);
}

static void
flog(int fam, const char *path, const char *what)
{
	char line[PATH_MAX + 128];
	int fd, n;

	if (!log_path)
		return;
	n = snprintf(line, sizeof line, "%s %s %s\n", famname(fam), path, what);
	if (n >= (int)sizeof line)
		n = (int)sizeof line - 1;
	if ((fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		die("cannot open the fault log", log_path);
	if (write(fd, line, (size_t)n) != n)
		die("cannot write the fault log", log_path);
	close(fd);
}

/* does a rule fire for this call?  (under the lock; path2: rename's new name) */
static void
fault(int fam, const char *path, const char *path2, struct act *a)
{
	size_t i;

	rules_refresh();
	a->act = A_NONE;
	a->delay = 0;
	if (!(famask & (1u << fam)))
		return;
	for (i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		const char *p = path;
		if (r->fam != fam)
			continue;
		if (r->glob && fnmatch(r->glob, path, 0) != 0) {
			if (!path2 || fnmatch(r->glob, path2, 0) != 0)
				continue;
			p = path2;
		}
		if (path2 && !r->glob)
			p = path2;
		r->seen++;
		if (r->seen <= r->after || (r->count >= 0 && r->fired >= r->count))
			continue;
		r->fired++;
		a->act = r->act == A_PASS ? A_NONE : r->act;
		a->err = r->err;
		a->delay = r->delay;
		if (r->act == A_ERR || r->act == A_PASS) {
			char what[64];
			snprintf(what, sizeof what, "%s", r->act == A_PASS ? "none" : errname(r->err));
			if (r->delay)
				snprintf(what + strlen(what), sizeof what - strlen(what), " delay=%ld",
				    r->delay);
			flog(fam, p, what);
		}
		return;
	}
}

/* a rule's delay (not under the lock) */
static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int e = errno;

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	errno = e;
}

/* one trace line, "CALL RESULT PATH [PATH2]" (errno kept) */
static void
trace(const char *call, const char *result, const char *p1, const char *p2)
{
	char line[2 * PATH_MAX + 64];
	int fd, n, e = errno;

	if (!trace_path)
		return;
	in_shim++;
	n = snprintf(line, sizeof line, "%s %s %s%s%s\n", call, result, p1, p2 ? " " : "",
	    p2 ? p2 : "");
	if (n >= (int)sizeof line) {
		n = (int)sizeof line - 1;
		line[n - 1] = '\n';
	}
	if ((fd = open(trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		die("cannot open the trace", trace_path);
	if (write(fd, line, (size_t)n) != n)
		die("cannot write the trace", trace_path);
	close(fd);
	in_shim--;
	errno = e;
}

/* a call of family fam returned r (errno set when r < 0): trace it */
static ssize_t
fin(int fam, const struct act *a, ssize_t r)
{
	if (a->trace)
		trace(famname(fam), r < 0 ? errname(errno) : "0", a->path,
		    a->trace == 2 ? a->path2 : NULL);
	return r;
}

/* --- paths and descriptors ------------------------------------------- */

static int
under_root(const char *path)
{
	if (path[0] != '/')
		return 0;
	if (!root)
		return 1;
	return !strncmp(path, root, rootlen) && (path[rootlen] == 0 || path[rootlen] == '/');
}

static int
fdpath(int fd, char *buf, size_t n)
{
	char link[64];
	ssize_t k;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((k = readlink(link, buf, n - 1)) < 0)
		return -1;
	buf[k] = 0;
	return 0;
}

/* the absolute, lexically normal form of path relative to dfd */
static int
abspath(int dfd, const char *path, char *out, size_t n)
{
	char tmp[PATH_MAX * 2], *seg, *save = NULL;
	size_t len = 0;

	if (path[0] == '/')
		snprintf(tmp, sizeof tmp, "%s", path);
	else {
		char base[PATH_MAX];
		if (dfd == AT_FDCWD ? !getcwd(base, sizeof base) : fdpath(dfd, base, sizeof base) < 0)
			return -1;
		snprintf(tmp, sizeof tmp, "%s/%s", base, path);
	}
	out[0] = 0;
	for (seg = strtok_r(tmp, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		size_t sl = strlen(seg);
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = 0;
			continue;
		}
		if (len + sl + 2 > n)
			return -1;
		out[len++] = '/';
		memcpy(out + len, seg, sl);
		len += sl;
		out[len] = 0;
	}
	if (!len)
		snprintf(out, n, "/");
	return 0;
}

static void
fd_forget(int fd)
{
	if (fd >= 0 && (size_t)fd < nfds) {
		fds[fd].gen = 0;
		fds[fd].pend = 0;
	}
}

/* the entry of an open descriptor, resolved if needed (under the lock) */
static struct fdent *
fd_get(int fd)
{
	struct fdent *e;
	char path[PATH_MAX];
	struct sh_ent se;
	int fl;

	if (fd < 0)
		return NULL;
	if ((size_t)fd >= nfds) {
		size_t n = (size_t)fd + 64;
		struct fdent *nv = realloc(fds, n * sizeof *fds);
		if (!nv)
			die("out of memory", NULL);
		memset(nv + nfds, 0, (n - nfds) * sizeof *nv);
		fds = nv;
		nfds = n;
	}
	e = &fds[fd];
	if (e->gen == pgen)
		return e;
	if (fdpath(fd, path, sizeof path) < 0 || sh_stat(fd, "", AT_EMPTY_PATH, &se) < 0 ||
	    (fl = fcntl(fd, F_GETFL)) < 0) {
		e->elig = 0;
		return e;
	}
	free(e->path);
	if (!(e->path = strdup(path)))
		die("out of memory", NULL);
	e->type = se.type;
	memcpy(e->key, se.key, sizeof e->key);
	e->append = (fl & O_APPEND) != 0;
	e->elig = se.type && under_root(path);
	e->gen = pgen;
	return e;
}

/* --- the shadow ------------------------------------------------------- */

static struct inode *
ino_get(const char *key)
{
	unsigned h = 5381;
	const char *p;
	struct inode *i;
	struct stat st;
	char path[PATH_MAX];

	for (p = key; *p; p++)
		h = h * 33 + (unsigned char)*p;
	for (i = itab[h % NBUCKET]; i; i = i->next)
		if (!strcmp(i->key, key))
			return i;
	if (!(i = calloc(1, sizeof *i)))
		die("out of memory", NULL);
	snprintf(i->key, sizeof i->key, "%s", key);
	sh_path(path, sizeof path, shadow, 'f', key);
	i->synced = stat(path, &st) == 0 ? st.st_size : 0;
	i->next = itab[h % NBUCKET];
	itab[h % NBUCKET] = i;
	return i;
}

/* the file was (or is about to be) changed at offset pos: below the
 * durable length, the next copy must be a whole one (under the lock) */
static void
touch(const char *key, int64_t pos)
{
	struct inode *i = ino_get(key);

	if (pos < i->synced) {
		i->dirty = 1;
		i->seq++;
	}
}

static long
tid(void)
{
	return (long)syscall(SYS_gettid);
}

/* fsync or fdatasync of an eligible descriptor, with the shadow kept:
 * copy what the sync covers, sync, keep the copy if it worked */
static int
shadow_sync(int fd, int (*real)(int), char type, const char *key)
{
	char tmp[PATH_MAX], dst[PATH_MAX], link[64];
	int64_t from = 0, reached = 0, size;
	struct inode *ino;
	unsigned seq = 0;
	int r, e, src = -1, inc = 0;
	struct sh_ent se;
	struct stat st;

	pthread_mutex_lock(&sync_mu);
	in_shim++;
	sh_tmp(tmp, sizeof tmp, shadow, type == 'd' ? 'd' : 'f', tid());
	sh_path(dst, sizeof dst, shadow, type == 'd' ? 'd' : 'f', key);
	if (type == 'd') {
		if (sh_dir_stage(fd, tmp) < 0)
			die("cannot list the directory being synced into", tmp);
	} else {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		if ((src = open(link, O_RDONLY | O_CLOEXEC)) < 0 ||
		    sh_stat(src, "", AT_EMPTY_PATH, &se) < 0)
			die("cannot read the file being synced:", link);
		size = se.size;
		lock();
		ino = ino_get(key);
		if (!ino->dirty && ino->synced > 0 && size >= ino->synced &&
		    stat(dst, &st) == 0 && st.st_size == ino->synced) {
			inc = 1;
			from = ino->synced;
		}
		seq = ino->seq;
		unlock();
		if (inc) {
			int d = open(dst, O_WRONLY | O_CLOEXEC);
			if (d < 0 || (reached = sh_copy(src, d, from, size)) < 0)
				die("cannot append to", dst);
			close(d);
		} else if ((reached = sh_file_stage(src, size, tmp)) < 0)
			die("cannot copy into", tmp);
		close(src);
	}
	in_shim--;
	r = real(fd);
	e = errno;
	in_shim++;
	if (r == 0) {
		if (!inc && rename(tmp, dst) < 0)
			die("cannot rename into", dst);
		if (type != 'd') {
			lock();
			ino = ino_get(key);
			ino->synced = reached;
			ino->dirty = ino->seq != seq;
			unlock();
		}
	} else if (inc) {
		if (truncate(dst, from) < 0)
			die("cannot truncate", dst);
	} else
		unlink(tmp);
	in_shim--;
	pthread_mutex_unlock(&sync_mu);
	errno = e;
	return r;
}

/* --- set-up ----------------------------------------------------------- */

static char *
env_path(const char *name)
{
	const char *v = getenv(name);
	char buf[PATH_MAX], *p;

	if (!v || !*v)
		return NULL;
	if (abspath(AT_FDCWD, v, buf, sizeof buf) < 0)
		die("bad path in", name);
	if (!(p = realpath(buf, NULL)) && !(p = strdup(buf)))
		die("out of memory", NULL);
	return p;
}

static void
init(void)
{
	const char *env = getenv("KLOG_FAULT");

	in_shim++;
	root = env_path("KLOG_FAULT_ROOT");
	rootlen = root ? strlen(root) : 0;
	shadow = env_path("KLOG_SHADOW");
	rules_file = env_path("KLOG_FAULT_FILE");
	log_path = env_path("KLOG_FAULT_LOG");
	trace_path = env_path("KLOG_FAULT_TRACE");
	if (rootlen == 1)
		rootlen = 0;            /* "/": every path */
	if (shadow && !root)
		die("KLOG_SHADOW needs KLOG_FAULT_ROOT", NULL);
	if (shadow && sh_mkdirs(shadow) < 0)
		die("cannot create the shadow directory", shadow);
	if (env && *env) {
		char *t = strdup(env);
		if (!t)
			die("out of memory", NULL);
		parse_rules(t, "KLOG_FAULT");
		free(t);
	}
	nenv = nrules;
	on = nrules > 0 || rules_file || shadow || trace_path;
	pthread_atfork(atfork_prepare, atfork_after, atfork_after);
	__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	in_shim--;
}

__attribute__((constructor)) static void
fault_init(void)
{
	pthread_once(&once, init);
}

/* wrappers start here: pass through when nothing is configured or when
 * the shim itself is the caller (calls made before the constructor ran
 * set the shim up first) */
static int
pass(void)
{
	if (in_shim)
		return 1;
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
		pthread_once(&once, init);
	return !on;
}

/* --- writes ------------------------------------------------------------ */

/* before a write-family call (or ftruncate, sync_file_range) on fd: the
 * fault to inject, and the shadow's note of a write at pos (-1: at the
 * file position, -2: do not track) */
static void
fd_pre(int fam, int fd, int64_t pos, size_t asked, struct act *a)
{
	struct fdent *e;

	a->act = A_NONE;
	a->delay = 0;
	a->trace = 0;
	lock();
	e = fd_get(fd);
	if (!e || !e->elig)
		goto out;
	if (trace_path) {
		a->trace = 1;
		snprintf(a->path, sizeof a->path, "%s", e->path);
	}
	if (e->pend && (fam == F_WRITE || fam == F_PWRITE || fam == F_WRITEV)) {
		a->act = A_ERR;
		a->err = e->pend;
		e->pend = 0;
		flog(fam, e->path, errname(a->err));
		goto out;
	}
	fault(fam, e->path, NULL, a);
	if ((a->act == A_SHORT || a->act == A_PARTIAL) && asked < 2) {
		if (a->act == A_PARTIAL) {
			a->act = A_ERR;
			flog(fam, e->path, errname(a->err));
		} else
			a->act = A_NONE;
	}
	if (a->act == A_SHORT || a->act == A_PARTIAL) {
		char what[96];
		snprintf(what, sizeof what, "%s %zu/%zu%s%s", a->act == A_SHORT ? "short" : "partial",
		    asked / 2, asked, a->act == A_PARTIAL ? " " : "",
		    a->act == A_PARTIAL ? errname(a->err) : "");
		flog(fam, e->path, what);
		if (a->act == A_PARTIAL)
			e->pend = a->err;
	}
	if (a->act == A_ERR || !shadow || e->type != 'f' || pos == -2)
		goto out;
	if (pos == -1) {
		if (e->append)
			goto out;
		pos = lseek(fd, 0, SEEK_CUR);
	} else if (e->append && fam != F_FTRUNCATE)
		goto out;               /* Linux appends whatever the offset */
	if (pos >= 0)
		touch(e->key, pos);
out:
	unlock();
	nap(a->delay);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	struct act a;

	if (pass())
		return REAL(write)(fd, buf, n);
	fd_pre(F_WRITE, fd, -1, n, &a);
	if (a.act == A_ERR) {
		errno = a.err;
		return fin(F_WRITE, &a, -1);
	}
	return fin(F_WRITE, &a, REAL(write)(fd, buf, a.act ? n / 2 : n));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct act a;

	if (pass())
		return REAL(pwrite)(fd, buf, n, off);
	fd_pre(F_PWRITE, fd, off, n, &a);
	if (a.act == A_ERR) {
		errno = a.err;
		return fin(F_PWRITE, &a, -1);
	}
	return fin(F_PWRITE, &a, REAL(pwrite)(fd, buf, a.act ? n / 2 : n, off));
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	struct act a;

	if (pass())
		return REAL(pwrite64)(fd, buf, n, off);
	fd_pre(F_PWRITE, fd, off, n, &a);
	if (a.act == A_ERR) {
		errno = a.err;
		return fin(F_PWRITE, &a, -1);
	}
	return fin(F_PWRITE, &a, REAL(pwrite64)(fd, buf, a.act ? n / 2 : n, off));
}

static size_t
iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;
	int i;

	for (i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

/* the first half of an iovec (a copy in out, which holds cnt entries) */
static int
iov_half(const struct iovec *iov, int cnt, struct iovec *out)
{
	size_t want = iov_total(iov, cnt) / 2;
	int i;

	for (i = 0; i < cnt && want > 0; i++) {
		out[i] = iov[i];
		if (out[i].iov_len > want)
			out[i].iov_len = want;
		want -= out[i].iov_len;
	}
	return i;
}

enum { V_WRITEV, V_PWRITEV, V_PWRITEV64, V_PWRITEV2 };

static ssize_t
call_writev(int v, int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	switch (v) {
	case V_WRITEV: return REAL(writev)(fd, iov, cnt);
	case V_PWRITEV: return REAL(pwritev)(fd, iov, cnt, (off_t)off);
	case V_PWRITEV64: return REAL(pwritev64)(fd, iov, cnt, off);
	default: return REAL(pwritev2)(fd, iov, cnt, (off_t)off, flags);
	}
}

static ssize_t
writev_common(int v, int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	struct act a;
	struct iovec small[16], *h;
	ssize_t r;

	if (pass())
		return call_writev(v, fd, iov, cnt, off, flags);
	fd_pre(F_WRITEV, fd, v == V_WRITEV || off < 0 ? -1 : off, cnt > 0 ? iov_total(iov, cnt) : 0, &a);
	if (a.act == A_ERR) {
		errno = a.err;
		return fin(F_WRITEV, &a, -1);
	}
	if (a.act == A_NONE)
		return fin(F_WRITEV, &a, call_writev(v, fd, iov, cnt, off, flags));
	h = cnt <= 16 ? small : malloc((size_t)cnt * sizeof *h);
	if (!h) {
		errno = ENOMEM;
		return fin(F_WRITEV, &a, -1);
	}
	r = call_writev(v, fd, h, iov_half(iov, cnt, h), off, flags);
	if (h != small)
		free(h);
	return fin(F_WRITEV, &a, r);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	return writev_common(V_WRITEV, fd, iov, cnt, -1, 0);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return writev_common(V_PWRITEV, fd, iov, cnt, off, 0);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	return writev_common(V_PWRITEV64, fd, iov, cnt, off, 0);
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return writev_common(V_PWRITEV2, fd, iov, cnt, off, flags);
}

int
ftruncate(int fd, off_t len)
{
	struct act a;

	if (pass())
		return REAL(ftruncate)(fd, len);
	fd_pre(F_FTRUNCATE, fd, len, 0, &a);
	if (a.act) {
		errno = a.err;
		return (int)fin(F_FTRUNCATE, &a, -1);
	}
	return (int)fin(F_FTRUNCATE, &a, REAL(ftruncate)(fd, len));
}

int
ftruncate64(int fd, off64_t len)
{
	struct act a;

	if (pass())
		return REAL(ftruncate64)(fd, len);
	fd_pre(F_FTRUNCATE, fd, len, 0, &a);
	if (a.act) {
		errno = a.err;
		return (int)fin(F_FTRUNCATE, &a, -1);
	}
	return (int)fin(F_FTRUNCATE, &a, REAL(ftruncate64)(fd, len));
}

int
sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
	struct act a;

	if (pass())
		return REAL(sync_file_range)(fd, off, n, flags);
	fd_pre(F_SFR, fd, -2, 0, &a);
	if (a.act) {
		errno = a.err;
		return (int)fin(F_SFR, &a, -1);
	}
	return (int)fin(F_SFR, &a, REAL(sync_file_range)(fd, off, n, flags));
}

/* --- syncs ------------------------------------------------------------- */

static int
sync_common(int fd, int data)
{
	int (*real)(int) = data ? REAL(fdatasync) : REAL(fsync);
	struct fdent *e;
	struct act a;
	char key[SH_KEYLEN], type;
	int fam;

	if (pass())
		return real(fd);
	lock();
	e = fd_get(fd);
	if (!e || !e->elig) {
		unlock();
		return real(fd);
	}
	fam = e->type == 'd' ? F_DIRFSYNC : data ? F_FDATASYNC : F_FSYNC;
	fault(fam, e->path, NULL, &a);
	a.trace = trace_path != NULL;
	if (a.trace)
		snprintf(a.path, sizeof a.path, "%s", e->path);
	type = e->type;
	memcpy(key, e->key, sizeof key);
	unlock();
	if (a.trace)
		trace(famname(fam), "begin", a.path, NULL);
	nap(a.delay);
	if (a.act) {
		errno = a.err;
		return (int)fin(fam, &a, -1);
	}
	if (!shadow)
		return (int)fin(fam, &a, real(fd));
	return (int)fin(fam, &a, shadow_sync(fd, real, type, key));
}

int
fsync(int fd)
{
	return sync_common(fd, 0);
}

int
fdatasync(int fd)
{
	return sync_common(fd, 1);
}

/* --- names ------------------------------------------------------------- */

/* a path call's fault: 1 if one fires (errno set); a is set up for fin() */
static int
path_pre(int fam, int dfd, const char *path, int dfd2, const char *path2, struct act *a)
{
	char *p1 = a->path, *p2 = a->path2;
	int e1, e2 = 0;

	a->act = A_NONE;
	a->delay = 0;
	a->trace = 0;
	if (!(e1 = abspath(dfd, path, p1, sizeof a->path) == 0 && under_root(p1)))
		snprintf(p1, sizeof a->path, "%s", path);
	if (path2 && !(e2 = abspath(dfd2, path2, p2, sizeof a->path2) == 0 && under_root(p2)))
		snprintf(p2, sizeof a->path2, "%s", path2);
	if (!e1 && !e2)
		return 0;
	lock();
	fault(fam, e1 ? p1 : p2, e1 && e2 ? p2 : NULL, a);
	unlock();
	if (trace_path)
		a->trace = path2 ? 2 : 1;
	nap(a->delay);
	if (a->act) {
		errno = a->err;
		return 1;
	}
	return 0;
}

/* names changed: every cached descriptor path is to be looked up again */
static void
names_changed(int r)
{
	if (r == 0) {
		lock();
		if (++pgen == 0)
			pgen = 1;
		unlock();
	}
}

enum { O_V_OPEN, O_V_OPEN64, O_V_OPENAT, O_V_OPENAT64, O_V_OPEN2, O_V_OPEN64_2, O_V_OPENAT_2,
	O_V_OPENAT64_2, O_V_CREAT, O_V_CREAT64 };

static int
call_open(int v, int dfd, const char *path, int flags, mode_t mode)
{
	switch (v) {
	case O_V_OPEN: return REAL(open)(path, flags, mode);
	case O_V_OPEN64: return REAL(open64)(path, flags, mode);
	case O_V_OPENAT: return REAL(openat)(dfd, path, flags, mode);
	case O_V_OPENAT64: return REAL(openat64)(dfd, path, flags, mode);
	case O_V_OPEN2: return REAL(__open_2)(path, flags);
	case O_V_OPEN64_2: return REAL(__open64_2)(path, flags);
	case O_V_OPENAT_2: return REAL(__openat_2)(dfd, path, flags);
	case O_V_OPENAT64_2: return REAL(__openat64_2)(dfd, path, flags);
	case O_V_CREAT: return REAL(creat)(path, mode);
	default: return REAL(creat64)(path, mode);
	}
}

static int
open_common(int v, int dfd, const char *path, int flags, mode_t mode)
{
	struct fdent *e;
	struct act a;
	int fd;

	if (pass())
		return call_open(v, dfd, path, flags, mode);
	a.trace = 0;
	if ((flags & O_CREAT) && path_pre(F_OPEN, dfd, path, 0, NULL, &a))
		return (int)fin(F_OPEN, &a, -1);
	fd = call_open(v, dfd, path, flags, mode);
	if (fd < 0)
		return (int)fin(F_OPEN, &a, fd);
	lock();
	fd_forget(fd);
	if ((flags & O_TRUNC) && shadow && (e = fd_get(fd)) && e->elig && e->type == 'f')
		touch(e->key, 0);
	unlock();
	return (int)fin(F_OPEN, &a, fd);
}

static mode_t
open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return open_common(O_V_OPEN, AT_FDCWD, path, flags, m);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return open_common(O_V_OPEN64, AT_FDCWD, path, flags, m);
}

int
openat(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return open_common(O_V_OPENAT, dfd, path, flags, m);
}

int
openat64(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return open_common(O_V_OPENAT64, dfd, path, flags, m);
}

int
__open_2(const char *path, int flags)
{
	return open_common(O_V_OPEN2, AT_FDCWD, path, flags, 0);
}

int
__open64_2(const char *path, int flags)
{
	return open_common(O_V_OPEN64_2, AT_FDCWD, path, flags, 0);
}

int
__openat_2(int dfd, const char *path, int flags)
{
	return open_common(O_V_OPENAT_2, dfd, path, flags, 0);
}

int
__openat64_2(int dfd, const char *path, int flags)
{
	return open_common(O_V_OPENAT64_2, dfd, path, flags, 0);
}

int
creat(const char *path, mode_t mode)
{
	return open_common(O_V_CREAT, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int
creat64(const char *path, mode_t mode)
{
	return open_common(O_V_CREAT64, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

static void
truncate_note(const char *path, int64_t len)
{
	char p[PATH_MAX];
	struct sh_ent se;

	if (!shadow || abspath(AT_FDCWD, path, p, sizeof p) < 0 || !under_root(p))
		return;
	lock();
	if (sh_stat(AT_FDCWD, p, 0, &se) == 0 && se.type == 'f')
		touch(se.key, len);
	unlock();
}

int
truncate(const char *path, off_t len)
{
	struct act a;

	if (pass())
		return REAL(truncate)(path, len);
	if (path_pre(F_FTRUNCATE, AT_FDCWD, path, 0, NULL, &a))
		return (int)fin(F_FTRUNCATE, &a, -1);
	truncate_note(path, len);
	return (int)fin(F_FTRUNCATE, &a, REAL(truncate)(path, len));
}

int
truncate64(const char *path, off64_t len)
{
	struct act a;

	if (pass())
		return REAL(truncate64)(path, len);
	if (path_pre(F_FTRUNCATE, AT_FDCWD, path, 0, NULL, &a))
		return (int)fin(F_FTRUNCATE, &a, -1);
	truncate_note(path, len);
	return (int)fin(F_FTRUNCATE, &a, REAL(truncate64)(path, len));
}

int
mkdir(const char *path, mode_t mode)
{
	struct act a;

	if (pass())
		return REAL(mkdir)(path, mode);
	if (path_pre(F_MKDIR, AT_FDCWD, path, 0, NULL, &a))
		return (int)fin(F_MKDIR, &a, -1);
	return (int)fin(F_MKDIR, &a, REAL(mkdir)(path, mode));
}

int
mkdirat(int dfd, const char *path, mode_t mode)
{
	struct act a;

	if (pass())
		return REAL(mkdirat)(dfd, path, mode);
	if (path_pre(F_MKDIR, dfd, path, 0, NULL, &a))
		return (int)fin(F_MKDIR, &a, -1);
	return (int)fin(F_MKDIR, &a, REAL(mkdirat)(dfd, path, mode));
}

int
rename(const char *from, const char *to)
{
	struct act a;
	int r;

	if (pass())
		return REAL(rename)(from, to);
	if (path_pre(F_RENAME, AT_FDCWD, from, AT_FDCWD, to, &a))
		return (int)fin(F_RENAME, &a, -1);
	r = REAL(rename)(from, to);
	names_changed(r);
	return (int)fin(F_RENAME, &a, r);
}

int
renameat(int fd1, const char *from, int fd2, const char *to)
{
	struct act a;
	int r;

	if (pass())
		return REAL(renameat)(fd1, from, fd2, to);
	if (path_pre(F_RENAME, fd1, from, fd2, to, &a))
		return (int)fin(F_RENAME, &a, -1);
	r = REAL(renameat)(fd1, from, fd2, to);
	names_changed(r);
	return (int)fin(F_RENAME, &a, r);
}

int
renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags)
{
	struct act a;
	int r;

	if (pass())
		return REAL(renameat2)(fd1, from, fd2, to, flags);
	if (path_pre(F_RENAME, fd1, from, fd2, to, &a))
		return (int)fin(F_RENAME, &a, -1);
	r = REAL(renameat2)(fd1, from, fd2, to, flags);
	names_changed(r);
	return (int)fin(F_RENAME, &a, r);
}

int
unlink(const char *path)
{
	struct act a;
	int r;

	if (pass())
		return REAL(unlink)(path);
	if (path_pre(F_UNLINK, AT_FDCWD, path, 0, NULL, &a))
		return (int)fin(F_UNLINK, &a, -1);
	r = REAL(unlink)(path);
	names_changed(r);
	return (int)fin(F_UNLINK, &a, r);
}

int
unlinkat(int dfd, const char *path, int flags)
{
	struct act a;
	int r;

	if (pass())
		return REAL(unlinkat)(dfd, path, flags);
	if (path_pre(F_UNLINK, dfd, path, 0, NULL, &a))
		return (int)fin(F_UNLINK, &a, -1);
	r = REAL(unlinkat)(dfd, path, flags);
	names_changed(r);
	return (int)fin(F_UNLINK, &a, r);
}

int
rmdir(const char *path)
{
	struct act a;
	int r;

	if (pass())
		return REAL(rmdir)(path);
	if (path_pre(F_UNLINK, AT_FDCWD, path, 0, NULL, &a))
		return (int)fin(F_UNLINK, &a, -1);
	r = REAL(rmdir)(path);
	names_changed(r);
	return (int)fin(F_UNLINK, &a, r);
}

/* --- descriptors come and go -------------------------------------------- */

static void
forget(int fd)
{
	lock();
	fd_forget(fd);
	unlock();
}

int
close(int fd)
{
	if (!pass())
		forget(fd);
	return REAL(close)(fd);
}

int
fclose(FILE *f)
{
	if (!pass())
		forget(fileno(f));
	return REAL(fclose)(f);
}

int
closedir(DIR *d)
{
	if (!pass())
		forget(dirfd(d));
	return REAL(closedir)(d);
}

int
dup(int fd)
{
	int r = REAL(dup)(fd);

	if (r >= 0 && !pass())
		forget(r);
	return r;
}

int
dup2(int fd, int to)
{
	int r = REAL(dup2)(fd, to);

	if (r >= 0 && !pass())
		forget(r);
	return r;
}

int
dup3(int fd, int to, int flags)
{
	int r = REAL(dup3)(fd, to, flags);

	if (r >= 0 && !pass())
		forget(r);
	return r;
}

int
close_range(unsigned int first, unsigned int last, int flags)
{
	if (!pass()) {
		size_t i;
		lock();
		for (i = first; i < nfds && i <= last; i++)
			fd_forget((int)i);
		unlock();
	}
	return REAL(close_range)(first, last, flags);
}
