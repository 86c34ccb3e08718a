/* klog - what a directory looks like after a power loss, from libfault's shadow. MIT licence. */
/*
 *	kpowercut baseline ROOT SHADOW
 *		record everything under ROOT as durable now (before the
 *		process under test starts with LD_PRELOAD=libfault.so,
 *		KLOG_FAULT_ROOT=ROOT, KLOG_SHADOW=SHADOW)
 *	kpowercut image ROOT SHADOW OUT [--mode drop|partial|garbage] [--seed N] [-v]
 *		build in OUT (new) what ROOT holds after a power loss now (the
 *		process under test was just killed; the live files under ROOT
 *		stand for the page cache)
 *
 * The shadow's layout and the model are at the top of tests/fault.c.  The
 * image: ROOT's durable listing, recursively (a directory whose own
 * listing never synced is empty); a name exists only if it is in its
 * directory's durable listing.  A file's content is its durable content
 * (empty if it never synced).  --mode partial adds a random prefix of the
 * live bytes past the durable length, --mode garbage a random prefix with
 * a random window of it turned to random bytes, zeros or a shuffle of
 * itself (never what was there), both only when the live inode still exists and is longer.
 * Random choices depend on --seed (default 1) and the file's path only.
 * -v says on stderr, one line per file, what the power loss took.
 * Exit 0, 1 on failure, 2 on usage.
 */
#include "shadow.h"

enum { M_DROP, M_PARTIAL, M_GARBAGE };

static const char *me = "kpowercut";
static int verbose, mode;
static uint64_t seed = 1;
static const char *root, *shadow, *out;
static int64_t lost_bytes, lost_names, files;

/* live files by key */
static struct live {
	char key[SH_KEYLEN];
	char *rel;
	int64_t size;
} *lv;
static size_t nlv;

static void
fail(const char *what, const char *obj)
{
	fprintf(stderr, "%s: %s '%s': %s\n", me, what, obj, strerror(errno));
	exit(1);
}

/* buf = a b c, or a failure when it does not fit */
static void
join(char *buf, size_t n, const char *a, const char *b, const char *c)
{
	if ((size_t)snprintf(buf, n, "%s%s%s", a, b, c) >= n) {
		errno = ENAMETOOLONG;
		fail("path too long", a);
	}
}

static uint64_t
mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_for(const char *rel)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *rel; rel++)
		h = (h ^ (unsigned char)*rel) * 1099511628211ULL;
	return h ^ seed;
}

static int
cmpkey(const void *a, const void *b)
{
	return strcmp(((const struct live *)a)->key, ((const struct live *)b)->key);
}

static void
live_walk(int dfd, const char *rel, int depth)
{
	struct sh_ent *v;
	size_t n, i;

	if (depth > 64 || sh_list(dfd, &v, &n) < 0)
		fail("cannot list", *rel ? rel : root);
	for (i = 0; i < n; i++) {
		char r[PATH_MAX];
		join(r, sizeof r, rel, *rel ? "/" : "", v[i].name);
		if (v[i].type == 'f') {
			struct live *nv = realloc(lv, (nlv + 1) * sizeof *lv);
			if (!nv || !(nv[nlv].rel = strdup(r)))
				fail("out of memory at", r);
			lv = nv;
			memcpy(lv[nlv].key, v[i].key, SH_KEYLEN);
			lv[nlv++].size = v[i].size;
		} else {
			int sub = openat(dfd, v[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub < 0)
				fail("cannot open", r);
			live_walk(sub, r, depth + 1);
			close(sub);
		}
	}
	sh_list_free(v, n);
}

static struct live *
live_find(const char *key)
{
	struct live k;

	snprintf(k.key, sizeof k.key, "%s", key);
	return nlv ? bsearch(&k, lv, nlv, sizeof *lv, cmpkey) : NULL;
}

/* --- baseline ----------------------------------------------------------- */

static void
commit(const char *tmp, char kind, const char *key)
{
	char dst[PATH_MAX];

	sh_path(dst, sizeof dst, shadow, kind, key);
	if (rename(tmp, dst) < 0)
		fail("cannot rename into", dst);
}

static void
baseline_dir(int dfd, const char *key, const char *rel, int depth)
{
	char tmp[PATH_MAX];
	struct sh_ent *v;
	size_t n, i;

	sh_tmp(tmp, sizeof tmp, shadow, 'd', 0);
	if (depth > 64 || sh_dir_stage(dfd, tmp) < 0)
		fail("cannot record the directory", *rel ? rel : root);
	commit(tmp, 'd', key);
	if (sh_list(dfd, &v, &n) < 0)
		fail("cannot list", *rel ? rel : root);
	for (i = 0; i < n; i++) {
		char r[PATH_MAX];
		int fd;
		join(r, sizeof r, rel, *rel ? "/" : "", v[i].name);
		fd = openat(dfd, v[i].name, O_RDONLY | O_CLOEXEC | (v[i].type == 'd' ? O_DIRECTORY : 0));
		if (fd < 0)
			fail("cannot open", r);
		if (v[i].type == 'd')
			baseline_dir(fd, v[i].key, r, depth + 1);
		else {
			sh_tmp(tmp, sizeof tmp, shadow, 'f', 0);
			if (sh_file_stage(fd, v[i].size, tmp) < 0)
				fail("cannot copy", r);
			commit(tmp, 'f', v[i].key);
		}
		close(fd);
	}
	sh_list_free(v, n);
}

static int
baseline(void)
{
	struct sh_ent e;
	char p[PATH_MAX];
	FILE *f;
	int fd;

	if (sh_mkdirs(shadow) < 0)
		fail("cannot create", shadow);
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    sh_stat(fd, "", AT_EMPTY_PATH, &e) < 0)
		fail("cannot open", root);
	baseline_dir(fd, e.key, "", 0);
	close(fd);
	snprintf(p, sizeof p, "%s/root", shadow);
	if (!(f = fopen(p, "w")) || fprintf(f, "%s\n", e.key) < 0 || fclose(f) != 0)
		fail("cannot write", p);
	return 0;
}

/* --- image -------------------------------------------------------------- */

struct dent {
	char type;
	char key[SH_KEYLEN];
	char *name;
};

/* a durable listing; a directory never synced has none: empty */
static struct dent *
read_listing(const char *key, size_t *n)
{
	char p[PATH_MAX], line[PATH_MAX + SH_KEYLEN + 8];
	struct dent *v = NULL;
	FILE *f;

	*n = 0;
	sh_path(p, sizeof p, shadow, 'd', key);
	if (!(f = fopen(p, "re"))) {
		if (errno == ENOENT)
			return NULL;
		fail("cannot read", p);
	}
	while (fgets(line, sizeof line, f)) {
		char *k, *name, *nl;
		struct dent *nv;
		if ((nl = strchr(line, '\n')))
			*nl = 0;
		if ((line[0] != 'f' && line[0] != 'd') || line[1] != ' ' ||
		    !(name = strchr(line + 2, ' ')) || !name[1]) {
			errno = EINVAL;
			fail("bad listing", p);
		}
		*name++ = 0;
		k = line + 2;
		if (!(nv = realloc(v, (*n + 1) * sizeof *v)) || !(nv[*n].name = strdup(name)))
			fail("out of memory reading", p);
		v = nv;
		v[*n].type = line[0];
		if (strlen(k) >= sizeof v[*n].key) {
			errno = EINVAL;
			fail("bad key in", p);
		}
		memcpy(v[*n].key, k, strlen(k) + 1);
		(*n)++;
	}
	fclose(f);
	return v;
}

static void
put(int fd, const char *buf, size_t n, int64_t off, const char *what)
{
	ssize_t k;

	for (; n > 0; buf += k, n -= (size_t)k, off += k)
		if ((k = pwrite(fd, buf, n, off)) < 0)
			fail("cannot write", what);
}

/* one file of the image: durable bytes, then what the mode keeps of the tail */
static void
image_file(int outdfd, const struct dent *d, const char *rel)
{
	char p[PATH_MAX], lp[PATH_MAX], *tail = NULL, *was;
	int64_t dur = 0, t = 0, k = 0, ga = 0, gb = 0;
	int ofd, sfd, gv = -1;
	struct live *l = live_find(d->key);
	struct sh_ent at;
	uint64_t r = rng_for(rel);
	struct stat st;
	const char *why = NULL;

	files++;
	if ((ofd = openat(outdfd, d->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		fail("cannot create", rel);
	sh_path(p, sizeof p, shadow, 'f', d->key);
	if ((sfd = open(p, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (fstat(sfd, &st) < 0 || (dur = sh_copy(sfd, ofd, 0, st.st_size)) < 0)
			fail("cannot copy", p);
		close(sfd);
	} else if (errno != ENOENT)
		fail("cannot open", p);
	if (l && l->size > dur)
		t = l->size - dur;
	if (t > 0 && mode != M_DROP) {
		uint64_t c = mix(&r);
		if (mode == M_GARBAGE)
			k = 1 + (int64_t)(mix(&r) % (uint64_t)t);
		else
			k = c % 4 == 0 ? 0 : c % 4 == 1 ? t : (int64_t)(mix(&r) % (uint64_t)(t + 1));
	}
	if (k > 0) {
		int lfd;
		join(lp, sizeof lp, root, "/", l->rel);
		if (!(tail = malloc((size_t)k)) || (lfd = open(lp, O_RDONLY | O_CLOEXEC)) < 0)
			fail("cannot read", lp);
		if (pread(lfd, tail, (size_t)k, dur) != k)
			fail("short read of", lp);
		close(lfd);
		if (mode == M_GARBAGE) {
			int64_t i;
			ga = (int64_t)(mix(&r) % (uint64_t)k);
			gb = ga + 1 + (int64_t)(mix(&r) % (uint64_t)(k - ga));
			gv = (int)(mix(&r) % 3);
			if (!(was = malloc((size_t)(gb - ga))))
				fail("out of memory for", rel);
			memcpy(was, tail + ga, (size_t)(gb - ga));
			for (i = ga; i < gb; i++) {
				if (gv == 0)
					tail[i] = (char)mix(&r);
				else if (gv == 1)
					tail[i] = 0;
				else {
					int64_t j = i + (int64_t)(mix(&r) % (uint64_t)(gb - i));
					char x = tail[i];
					tail[i] = tail[j];
					tail[j] = x;
				}
			}
			/* garbage is never the bytes that were there */
			if (!memcmp(was, tail + ga, (size_t)(gb - ga)))
				for (i = ga; i < gb; i++)
					tail[i] = (char)~tail[i];
			free(was);
		}
		put(ofd, tail, (size_t)k, dur, rel);
		free(tail);
	}
	if (close(ofd) < 0)
		fail("cannot write", rel);
	lost_bytes += t - k;
	if (!verbose)
		return;
	/* what stands at this name now */
	join(lp, sizeof lp, root, "/", rel);
	if (sh_stat(AT_FDCWD, lp, 0, &at) < 0)
		why = "removed, not durably: back";
	else if (strcmp(at.key, d->key))
		why = "replaced, not durably: the old file is back";
	if (why)
		fprintf(stderr, "%s: %s: %s with %" PRId64 " bytes\n", me, rel, why, dur + k);
	if (t > 0 || (l && l->size < dur))
		fprintf(stderr, "%s: %s: %" PRId64 " bytes live, %" PRId64 " synced, kept %" PRId64
		    " unsynced, lost %" PRId64 "%s%s\n", me, rel, l ? l->size : 0, dur, k, t - k,
		    l && l->size < dur ? " (a truncation after the sync undone)" : "",
		    gv == 0 ? ", random bytes over the kept tail" : gv == 1 ?
		    ", zeros over the kept tail" : gv == 2 ? ", the kept tail partly shuffled" : "");
	if (gv >= 0)
		fprintf(stderr, "%s: %s: garbage at bytes %" PRId64 "..%" PRId64 "\n", me, rel,
		    dur + ga, dur + gb);
}

static void
image_dir(int outdfd, const char *key, const char *rel, int depth)
{
	struct dent *v;
	size_t n, i;

	if (depth > 64) {
		errno = ELOOP;
		fail("directories too deep at", rel);
	}
	v = read_listing(key, &n);
	for (i = 0; i < n; i++) {
		char r[PATH_MAX];
		join(r, sizeof r, rel, *rel ? "/" : "", v[i].name);
		if (v[i].type == 'd') {
			int sub;
			if (mkdirat(outdfd, v[i].name, 0755) < 0 ||
			    (sub = openat(outdfd, v[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
				fail("cannot create", r);
			image_dir(sub, v[i].key, r, depth + 1);
			close(sub);
		} else
			image_file(outdfd, &v[i], r);
		free(v[i].name);
	}
	free(v);
}

/* -v: live names the image does not have */
static void
report_dropped(int dfd, const char *rel, int depth)
{
	struct sh_ent *v;
	size_t n, i;
	struct stat st;

	if (depth > 64 || sh_list(dfd, &v, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		char r[PATH_MAX], o[PATH_MAX];
		join(r, sizeof r, rel, *rel ? "/" : "", v[i].name);
		join(o, sizeof o, out, "/", r);
		if (lstat(o, &st) < 0) {
			lost_names++;
			if (v[i].type == 'd')
				fprintf(stderr, "%s: %s/: dropped, the directory's name never synced\n",
				    me, r);
			else {
				fprintf(stderr, "%s: %s: dropped, the name never synced (%" PRId64
				    " bytes live)\n", me, r, v[i].size);
			}
			continue;
		}
		if (v[i].type == 'd' && S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, v[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub >= 0) {
				report_dropped(sub, r, depth + 1);
				close(sub);
			}
		}
	}
	sh_list_free(v, n);
}

static int
image(void)
{
	char p[PATH_MAX], key[SH_KEYLEN + 2];
	FILE *f;
	int fd, ofd;

	snprintf(p, sizeof p, "%s/root", shadow);
	if (!(f = fopen(p, "re")) || !fgets(key, sizeof key, f))
		fail("cannot read (run kpowercut baseline first)", p);
	fclose(f);
	key[strcspn(key, "\n")] = 0;
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		fail("cannot open", root);
	live_walk(fd, "", 0);
	if (nlv)
		qsort(lv, nlv, sizeof *lv, cmpkey);
	if (mkdir(out, 0755) < 0 || (ofd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		fail("cannot create", out);
	image_dir(ofd, key, "", 0);
	close(ofd);
	if (verbose) {
		report_dropped(fd, "", 0);
		fprintf(stderr, "%s: image of '%s' in '%s' (%s, seed %" PRIu64 "): %" PRId64
		    " files, %" PRId64 " unsynced bytes and %" PRId64 " names lost\n", me, root, out,
		    mode == M_DROP ? "drop" : mode == M_PARTIAL ? "partial" : "garbage", seed,
		    files, lost_bytes, lost_names);
	}
	close(fd);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s baseline ROOT SHADOW\n"
	    "       %s image ROOT SHADOW OUT [--mode drop|partial|garbage] [--seed N] [-v]\n", me, me);
	exit(2);
}

int
main(int argc, char **argv)
{
	int i;

	if (argc < 4)
		usage();
	root = argv[2];
	shadow = argv[3];
	if (!strcmp(argv[1], "baseline") && argc == 4)
		return baseline();
	if (strcmp(argv[1], "image") || argc < 5)
		usage();
	out = argv[4];
	for (i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			const char *m = argv[++i];
			if (!strcmp(m, "drop"))
				mode = M_DROP;
			else if (!strcmp(m, "partial"))
				mode = M_PARTIAL;
			else if (!strcmp(m, "garbage"))
				mode = M_GARBAGE;
			else
				usage();
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			char *end;
			errno = 0;
			seed = strtoull(argv[++i], &end, 10);
			if (errno || *end || end == argv[i])
				usage();
		} else
			usage();
	}
	return image();
}
