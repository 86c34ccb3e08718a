/* klog - embedded consumer groups: processes sharing a log directory. MIT licence. */
/*
 * No daemon: the members of a group coordinate through files and
 * flock(2) locks in the log directory.  A lock is released by the kernel
 * when its holder dies (SIGKILL included), so a dead member is noticed at
 * once, not after a timeout.
 *
 *	DIR/.klog-groups/GROUP/
 *	  lock               flock(LOCK_EX) while changing membership or the state
 *	  state              the group's current generation and assignment
 *	  members/ID         one per member, locked LOCK_EX by it for its life
 *	  owners/TOPIC-P     locked LOCK_EX by the member owning the partition
 *
 * members/ID holds "key=value" lines: member.id, instance.id (static
 * members only), client.id, host, pid, strategy, session.ms and topics
 * (comma-separated).  A member is alive while the lock on its file is
 * held: others probe with flock(LOCK_SH|LOCK_NB), which fails with
 * EWOULDBLOCK while the member lives.  The file of a dead member is
 * removed by whoever finds it, under the group lock.
 *
 * state is written whole (temp file, rename; not synced: it describes
 * live processes, which a reboot ends) under the group lock:
 *
 *	generation N
 *	strategy range|roundrobin|sticky
 *	topic NAME PARTITIONS                    (sorted by name)
 *	member ID static|dynamic SESSION_MS GONE_MS TOPIC[,TOPIC...]   (sorted by id)
 *	assign NAME PARTITION ID
 *
 * GONE_MS is 0 for a live member; for a static member (instance id) whose
 * lock was found released, the time (ms since the epoch) it was found so:
 * it stays a member, its partitions reserved, for SESSION_MS after that,
 * so a member restarted with the same instance id (its member id is the
 * instance id) gets its partitions back and the others do not move.  A
 * dynamic member that dies or leaves is dropped at once.
 *
 * Any member that sees the live members differ from state (inotify on
 * members/ -- a member's death closes its file, IN_CLOSE_WRITE -- and a
 * full look every second), a reservation expire, or a subscribed topic's
 * partition count change, takes the group lock, looks again, and writes
 * the next state: generation + 1 and a new assignment computed with
 * kg_assign over the members sorted by id (strategy: that of the first
 * live member), the previous assignment given as the previous owners.
 * Every member then reads state and reconciles: a partition it owns that
 * is now another's is REVOKEd (the caller commits, then releases: the
 * lock is dropped); a partition now its own is taken with
 * flock(LOCK_EX|LOCK_NB) on owners/TOPIC-P, retried at each poll until the
 * previous owner released it or died, then ASSIGNed with the committed
 * offset read after the lock was taken, so the previous owner's last
 * commit is seen.  So each partition has at most one owner at a time.
 * The owner writes its member id in owners/TOPIC-P (emptied on release).
 *
 * A commit is fenced: every partition in it must be held by this member
 * (its lock, on the file still at that name), else ESTALE and nothing is
 * written.  A member whose own file was removed (by hand) is dropped from
 * state like a dead one, so its partitions are REVOKEd (it still holds
 * their locks, so committing them is safe); when it finds its file gone
 * it reports anything still held as LOST and joins again.  A member that hangs keeps its locks: embedded groups have no
 * session timeout for a live process.  Descriptors are close-on-exec; a
 * child forked without exec shares the locks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "group-local.h"

#define SCAN_MS 1000            /* full look at members and topics at least this often */
#define POLL_MS 20              /* klog_group_interval */
#define DEFAULT_SESSION_MS 10000

enum { P_PENDING, P_NEW, P_OWNED, P_REVOKING };

struct owned {
	char *topic;
	int partition;
	int fd;                         /* owners/TOPIC-P */
	int st;
	int64_t committed;              /* P_NEW: for the ASSIGN */
};

struct kgl {
	struct klog_dir *d;
	int gfd;                        /* the group directory */
	int mfd;                        /* members/ID, locked */
	int ino;                        /* inotify, -1 none */
	int64_t next_scan;
	int lost;                       /* our member file vanished: LOST everything, rejoin */
	int reconcile;                  /* a new state read: compare what we hold with it */
	char **topics;
	size_t ntopics;
	char strategy[16];
	char *instance;
	char *client;
	int session_ms;
	struct kstate st;
	struct owned *own;
	size_t nown;
	char evtopic[KLOG_TOPIC_MAX + 1];
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
kgf_cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmpmember(const void *a, const void *b)
{
	return strcmp(((const struct kmember *)a)->id, ((const struct kmember *)b)->id);
}

static void
member_free(struct kmember *m)
{
	free(m->id);
	free(m->instance);
	free(m->client);
	free(m->host);
	free(m->strategy);
	klog_strv_free(m->topics, m->ntopics);
	memset(m, 0, sizeof *m);
}

void
kgf_members_free(struct kmember *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		member_free(&m[i]);
	free(m);
}

void
kgf_state_free(struct kstate *s)
{
	klog_strv_free(s->topics, s->ntopics);
	free(s->parts);
	kgf_members_free(s->m, s->nm);
	free(s->tp);
	free(s->owner);
	memset(s, 0, sizeof *s);
}

/* "a,b,c" -> sorted vector */
static int
split_topics(const char *s, char ***v, size_t *n)
{
	char *copy, *tok, *save = NULL;

	*v = NULL;
	*n = 0;
	if (!(copy = strdup(s)))
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char **nv = realloc(*v, (*n + 1) * sizeof **v);

		if (!nv || !(nv[*n] = strdup(tok))) {
			if (nv)
				*v = nv;
			free(copy);
			return -1;
		}
		*v = nv;
		(*n)++;
	}
	free(copy);
	if (*n)
		qsort(*v, *n, sizeof **v, kgf_cmpstr);
	return 0;
}

static int
join_topics(struct klog_buf *b, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (klog_buf_printf(b, "%s%s", i ? "," : "", v[i]) < 0)
			return -1;
	return 0;
}

/* a whole small file, NUL-terminated; -1 errno */
char *
kgf_slurp_fd(int fd)
{
	struct klog_buf b = { 0 };
	off_t pos = 0;

	for (;;) {
		ssize_t r;

		if (klog_buf_reserve(&b, 1024) < 0)
			goto fail;
		r = pread(fd, b.data + b.len, b.cap - b.len - 1, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		b.len += (size_t)r;
		pos += r;
	}
	if (klog_buf_reserve(&b, 1) < 0)
		goto fail;
	b.data[b.len] = 0;
	return (char *)b.data;
fail:
	klog_buf_free(&b);
	return NULL;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
lock_fd(int fd, int op)
{
	int r;

	do
		r = flock(fd, op);
	while (r < 0 && errno == EINTR);
	return r;
}

/* ---- the group directory ---------------------------------------------- */

int
kgf_refuse_broker(struct klog_dir *d, const char *group, char *err)
{
	char who[128];

	if (!klog_dir_broker(d, who, sizeof who))
		return 0;
	errno = EBUSY;
	return kerr(err, "group '%s': log directory '%s' is served by kbrokerd %s: use its "
	    "groups (-b)", group, klog_dir_path(d), who);
}

/* open DIR/.klog-groups/GROUP (made when create); -1 ENOENT when absent */
int
kgf_group_open(struct klog_dir *d, const char *group, int create, char *err)
{
	char path[KLOG_GROUP_MAX + 64];
	int fd;

	snprintf(path, sizeof path, GROUPS_DIR "/%s", group);
	if (create) {
		if (mkdirat(d->fd, GROUPS_DIR, 0755) < 0 && errno != EEXIST)
			return kerr_sys(err, "group '%s': cannot create '%s'", group, GROUPS_DIR);
		if (mkdirat(d->fd, path, 0755) < 0 && errno != EEXIST)
			return kerr_sys(err, "group '%s': cannot create '%s'", group, path);
	}
	if ((fd = openat(d->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return kerr(err, "group '%s' does not exist", group);
		return kerr_sys(err, "group '%s': cannot open '%s'", group, path);
	}
	if (create && ((mkdirat(fd, "members", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(fd, "owners", 0755) < 0 && errno != EEXIST))) {
		kerr_sys(err, "group '%s': cannot create its directories", group);
		close(fd);
		return -1;
	}
	return fd;
}

/* the group lock; -1 ESTALE when the group was deleted meanwhile */
int
kgf_group_lock(int gfd, const char *group, char *err)
{
	struct stat st;
	int fd;

	if ((fd = openat(gfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "group '%s': cannot open its lock", group);
	if (lock_fd(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		kerr_sys(err, "group '%s': cannot lock", group);
		close(fd);
		return -1;
	}
	if (st.st_nlink == 0) {
		close(fd);
		errno = ESTALE;
		return kerr(err, "group '%s' was deleted", group);
	}
	return fd;
}

static int
member_parse(const char *text, struct kmember *m)
{
	char *copy, *line, *save = NULL;
	int rc = -1;

	memset(m, 0, sizeof *m);
	if (!(copy = strdup(text)))
		return -1;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		char **dst = NULL;

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "member.id"))
			dst = &m->id;
		else if (!strcmp(line, "instance.id"))
			dst = &m->instance;
		else if (!strcmp(line, "client.id"))
			dst = &m->client;
		else if (!strcmp(line, "host"))
			dst = &m->host;
		else if (!strcmp(line, "strategy"))
			dst = &m->strategy;
		else if (!strcmp(line, "pid"))
			m->pid = atoi(v);
		else if (!strcmp(line, "session.ms"))
			m->session_ms = atoi(v);
		else if (!strcmp(line, "topics")) {
			klog_strv_free(m->topics, m->ntopics);
			if (split_topics(v, &m->topics, &m->ntopics) < 0)
				goto out;
		}
		if (dst) {
			free(*dst);
			if (!(*dst = strdup(v)))
				goto out;
		}
	}
	rc = m->id ? 0 : -1;
out:
	free(copy);
	if (rc < 0)
		member_free(m);
	return rc;
}

/*
 * The live members, sorted by id, their files read (info) or not.  With
 * reap (under the group lock), files of dead members are removed.
 */
int
kgf_members_scan(int gfd, const char *group, int info, int reap, struct kmember **out, size_t *n,
    char *err)
{
	struct kmember *v = NULL;
	struct dirent *de;
	size_t cnt = 0;
	DIR *dir;
	int dfd, rc = -1;

	*out = NULL;
	*n = 0;
	if ((dfd = openat(gfd, "members", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return kerr_sys(err, "group '%s': cannot open its members", group);
	}
	if (!(dir = fdopendir(dfd))) {
		close(dfd);
		return kerr_sys(err, "group '%s': cannot read its members", group);
	}
	while ((de = readdir(dir))) {
		struct kmember m = { 0 };
		struct kmember *nv;
		char *text = NULL;
		int fd, alive = 0;

		if (de->d_name[0] == '.')
			continue;
		if ((fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (flock(fd, LOCK_SH | LOCK_NB) < 0)
			alive = errno == EWOULDBLOCK;
		if (!alive) {
			if (reap)
				unlinkat(dfd, de->d_name, 0);
			close(fd);
			continue;
		}
		if (info)
			text = kgf_slurp_fd(fd);
		close(fd);
		if (info && (!text || member_parse(text, &m) < 0 || strcmp(m.id, de->d_name))) {
			/* a member still writing its file (we hold no group lock): by name */
			member_free(&m);
			m.id = NULL;
		}
		free(text);
		if (!m.id && !(m.id = strdup(de->d_name)))
			goto nomem;
		if (!(nv = realloc(v, (cnt + 1) * sizeof *v))) {
			member_free(&m);
			goto nomem;
		}
		v = nv;
		v[cnt++] = m;
	}
	if (cnt)
		qsort(v, cnt, sizeof *v, cmpmember);
	*out = v;
	*n = cnt;
	v = NULL;
	rc = 0;
	goto out;
nomem:
	kerr_sys(err, "group '%s'", group);
out:
	kgf_members_free(v, v ? cnt : 0);
	closedir(dir);
	return rc;
}

/* ---- state -------------------------------------------------------------- */

int
kgf_state_index(const struct kstate *s, const char *id)
{
	for (size_t i = 0; i < s->nm; i++)
		if (!strcmp(s->m[i].id, id))
			return (int)i;
	return -1;
}

/* s->tp and s->owner from s->topics and s->parts */
static int
state_build_tp(struct kstate *s)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < s->ntopics; i++)
		n += (size_t)s->parts[i];
	free(s->tp);
	free(s->owner);
	s->tp = calloc(n + 1, sizeof *s->tp);
	s->owner = calloc(n + 1, sizeof *s->owner);
	if (!s->tp || !s->owner)
		return -1;
	for (size_t i = 0; i < s->ntopics; i++)
		for (int p = 0; p < s->parts[i]; p++) {
			s->tp[k] = (struct kg_tp){ s->topics[i], p };
			s->owner[k++] = -1;
		}
	s->ntp = n;
	return 0;
}

long
kgf_state_tp_index(const struct kstate *s, const char *topic, int p)
{
	for (size_t i = 0; i < s->ntp; i++)
		if (s->tp[i].partition == p && !strcmp(s->tp[i].topic, topic))
			return (long)i;
	return -1;
}

static int
add_topic(struct kstate *s, const char *name, int parts)
{
	char **nt = realloc(s->topics, (s->ntopics + 1) * sizeof *nt);
	int *np;

	if (!nt)
		return -1;
	s->topics = nt;
	if (!(np = realloc(s->parts, (s->ntopics + 1) * sizeof *np)))
		return -1;
	s->parts = np;
	if (!(nt[s->ntopics] = strdup(name)))
		return -1;
	np[s->ntopics++] = parts;
	return 0;
}

/* read state; a missing or unreadable one is an empty state */
int
kgf_state_read(int gfd, struct kstate *s)
{
	char *text = NULL, *line, *save = NULL;
	char **assign = NULL;
	size_t nassign = 0;
	int fd, rc = -1;

	memset(s, 0, sizeof *s);
	if ((fd = openat(gfd, "state", O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	text = kgf_slurp_fd(fd);
	close(fd);
	if (!text)
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char a[5][256];
		int k = sscanf(line, "%255s %255s %255s %255s %255s", a[0], a[1], a[2], a[3], a[4]);

		if (k >= 2 && !strcmp(a[0], "generation")) {
			s->generation = (int32_t)strtol(a[1], NULL, 10);
		} else if (k >= 2 && !strcmp(a[0], "strategy") && strlen(a[1]) < sizeof s->strategy) {
			strcpy(s->strategy, a[1]);
		} else if (k >= 3 && !strcmp(a[0], "topic")) {
			if (add_topic(s, a[1], atoi(a[2])) < 0)
				goto out;
		} else if (k >= 5 && !strcmp(a[0], "member")) {
			/* the topics field may be longer than 255 bytes: take the line's rest */
			const char *t = line;
			struct kmember *nm = realloc(s->m, (s->nm + 1) * sizeof *nm);

			if (!nm)
				goto out;
			s->m = nm;
			memset(&nm[s->nm], 0, sizeof *nm);
			for (int f = 0; f < 5 && t; f++) {
				t = strchr(t, ' ');
				if (t)
					t++;
			}
			if (!(nm[s->nm].id = strdup(a[1])))
				goto out;
			if (!strcmp(a[2], "static") && !(nm[s->nm].instance = strdup(a[1])))
				goto out;
			nm[s->nm].session_ms = atoi(a[3]);
			nm[s->nm].gone_ms = strtoll(a[4], NULL, 10);
			s->nm++;
			if (t && split_topics(t, &nm[s->nm - 1].topics, &nm[s->nm - 1].ntopics) < 0)
				goto out;
		} else if (k >= 1 && !strcmp(a[0], "assign")) {
			char **na = realloc(assign, (nassign + 1) * sizeof *na);

			if (!na)
				goto out;
			assign = na;
			assign[nassign++] = line;
		}
	}
	if (state_build_tp(s) < 0)
		goto out;
	for (size_t i = 0; i < nassign; i++) {
		char t[256], id[256];
		int p, mi;
		long ti;

		if (sscanf(assign[i], "assign %255s %d %255s", t, &p, id) != 3)
			continue;
		if ((ti = kgf_state_tp_index(s, t, p)) >= 0 && (mi = kgf_state_index(s, id)) >= 0)
			s->owner[ti] = mi;
	}
	rc = 0;
out:
	free(assign);
	free(text);
	if (rc < 0)
		kgf_state_free(s);
	return rc;
}

static int
state_write(int gfd, const char *group, const struct kstate *s, char *err)
{
	struct klog_buf b = { 0 };
	char tmp[64];
	int fd = -1, rc = -1;

	if (klog_buf_printf(&b, "generation %" PRId32 "\nstrategy %s\n", s->generation,
	    s->strategy) < 0)
		goto nomem;
	for (size_t i = 0; i < s->ntopics; i++)
		if (klog_buf_printf(&b, "topic %s %d\n", s->topics[i], s->parts[i]) < 0)
			goto nomem;
	for (size_t i = 0; i < s->nm; i++) {
		const struct kmember *m = &s->m[i];

		if (klog_buf_printf(&b, "member %s %s %d %" PRId64 " ", m->id,
		    m->instance ? "static" : "dynamic", m->session_ms, m->gone_ms) < 0 ||
		    join_topics(&b, m->topics, m->ntopics) < 0 || klog_buf_printf(&b, "\n") < 0)
			goto nomem;
	}
	for (size_t i = 0; i < s->ntp; i++)
		if (s->owner[i] >= 0 && klog_buf_printf(&b, "assign %s %d %s\n", s->tp[i].topic,
		    s->tp[i].partition, s->m[s->owner[i]].id) < 0)
			goto nomem;
	snprintf(tmp, sizeof tmp, "state.tmp.%ld", (long)getpid());
	if ((fd = openat(gfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
	    write_all(fd, b.data, b.len) < 0 || close(fd) < 0) {
		fd = -1;
		kerr_sys(err, "group '%s': cannot write its state", group);
		unlinkat(gfd, tmp, 0);
		goto out;
	}
	fd = -1;
	if (renameat(gfd, tmp, gfd, "state") < 0) {
		kerr_sys(err, "group '%s': cannot write its state", group);
		unlinkat(gfd, tmp, 0);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	kerr_sys(err, "group '%s'", group);
out:
	if (fd >= 0)
		close(fd);
	klog_buf_free(&b);
	return rc;
}

static int
same_topics(const struct kmember *a, const struct kmember *b)
{
	if (a->ntopics != b->ntopics)
		return 0;
	for (size_t i = 0; i < a->ntopics; i++)
		if (strcmp(a->topics[i], b->topics[i]))
			return 0;
	return 1;
}

/* copy what state keeps of a member */
static int
member_copy(struct kmember *dst, const struct kmember *src, int64_t gone)
{
	memset(dst, 0, sizeof *dst);
	if (!(dst->id = strdup(src->id)) ||
	    (src->instance && !(dst->instance = strdup(src->instance))))
		return -1;
	dst->session_ms = src->session_ms;
	dst->gone_ms = gone;
	if (src->ntopics && !(dst->topics = calloc(src->ntopics, sizeof *dst->topics)))
		return -1;
	for (size_t i = 0; i < src->ntopics; i++) {
		if (!(dst->topics[i] = strdup(src->topics[i])))
			return -1;
		dst->ntopics++;
	}
	return 0;
}

/* a reservation (static member gone) that has run out */
static int
expired(const struct kmember *m, int64_t now)
{
	return m->gone_ms && (now - m->gone_ms >= m->session_ms || m->gone_ms > now + 60000);
}

/*
 * The next state from the old one and the live members (with info): 1
 * when it differs (write it), 0 the same.
 */
static int
state_next(struct klog_dir *d, const struct kstate *old, const struct kmember *live, size_t nlive,
    struct kstate *s, char *err)
{
	int64_t now = klog_now_ms();
	int changed = 0, regen = 0;
	int *prev = NULL;

	memset(s, 0, sizeof *s);
	if (!(s->m = calloc(nlive + old->nm + 1, sizeof *s->m)))
		goto nomem;
	for (size_t i = 0; i < nlive; i++)
		if (member_copy(&s->m[s->nm++], &live[i], 0) < 0)
			goto nomem;
	for (size_t i = 0; i < old->nm; i++) {
		const struct kmember *o = &old->m[i];
		int64_t gone = o->gone_ms ? o->gone_ms : now;
		int found = 0;

		for (size_t j = 0; j < nlive; j++)
			if (!strcmp(live[j].id, o->id))
				found = 1;
		if (found || !o->instance)
			continue;
		if (expired(&(struct kmember){ .gone_ms = gone, .session_ms = o->session_ms }, now))
			continue;
		if (member_copy(&s->m[s->nm++], o, gone) < 0)
			goto nomem;
	}
	if (s->nm)
		qsort(s->m, s->nm, sizeof *s->m, cmpmember);
	/* membership: ids and subscriptions */
	if (s->nm != old->nm)
		regen = 1;
	for (size_t i = 0; !regen && i < s->nm; i++)
		if (strcmp(s->m[i].id, old->m[i].id) || !same_topics(&s->m[i], &old->m[i]))
			regen = 1;
	for (size_t i = 0; !regen && i < s->nm; i++)
		if (!s->m[i].gone_ms != !old->m[i].gone_ms)
			changed = 1;
	/* topics: the union of subscriptions, partition counts as they are now */
	for (size_t i = 0; i < s->nm; i++)
		for (size_t t = 0; t < s->m[i].ntopics; t++) {
			struct klog_config cfg;
			char e[KLOG_ERRLEN];
			size_t k;

			for (k = 0; k < s->ntopics; k++)
				if (!strcmp(s->topics[k], s->m[i].topics[t]))
					break;
			if (k < s->ntopics)
				continue;
			if (klog_topic_load(d, s->m[i].topics[t], &cfg, e) < 0 || cfg.partitions < 1)
				continue;
			if (add_topic(s, s->m[i].topics[t], cfg.partitions) < 0)
				goto nomem;
		}
	if (s->ntopics > 1) {
		/* sort topics with their counts */
		for (size_t i = 1; i < s->ntopics; i++)
			for (size_t j = i; j > 0 && strcmp(s->topics[j - 1], s->topics[j]) > 0; j--) {
				char *t = s->topics[j];
				int p = s->parts[j];

				s->topics[j] = s->topics[j - 1];
				s->parts[j] = s->parts[j - 1];
				s->topics[j - 1] = t;
				s->parts[j - 1] = p;
			}
	}
	if (s->ntopics != old->ntopics)
		regen = 1;
	for (size_t i = 0; !regen && i < s->ntopics; i++)
		if (strcmp(s->topics[i], old->topics[i]) || s->parts[i] != old->parts[i])
			regen = 1;
	if (state_build_tp(s) < 0)
		goto nomem;
	snprintf(s->strategy, sizeof s->strategy, "%s", old->strategy[0] ? old->strategy : "range");
	for (size_t i = 0; i < nlive; i++)
		if (live[i].strategy && kg_strategy_check(live[i].strategy, err) == 0) {
			if (strcmp(s->strategy, live[i].strategy))
				regen = 1;
			snprintf(s->strategy, sizeof s->strategy, "%s", live[i].strategy);
			break;
		}
	s->generation = old->generation;
	if (!regen) {
		memcpy(s->owner, old->owner, s->ntp * sizeof *s->owner);
		return changed;
	}
	s->generation = old->generation + 1;
	if (s->ntp && !(prev = malloc(s->ntp * sizeof *prev)))
		goto nomem;
	for (size_t i = 0; i < s->ntp; i++) {
		long oi = kgf_state_tp_index(old, s->tp[i].topic, s->tp[i].partition);

		prev[i] = -1;
		if (oi >= 0 && old->owner[oi] >= 0)
			prev[i] = kgf_state_index(s, old->m[old->owner[oi]].id);
	}
	{
		struct kg_member *km = calloc(s->nm + 1, sizeof *km);

		if (!km)
			goto nomem;
		for (size_t i = 0; i < s->nm; i++)
			km[i] = (struct kg_member){ s->m[i].id, s->m[i].topics, s->m[i].ntopics };
		if (kg_assign(s->strategy, km, s->nm, s->tp, s->ntp, prev, s->owner, err) < 0) {
			free(km);
			goto fail;
		}
		free(km);
	}
	free(prev);
	return 1;
nomem:
	kerr_sys(err, "group state");
fail:
	free(prev);
	kgf_state_free(s);
	return -1;
}

/* under the group lock: look at the members and write the next state */
static int
rebalance_locked(struct klog_dir *d, int gfd, const char *group, char *err)
{
	struct kmember *live = NULL;
	struct kstate old, s;
	size_t nlive = 0;
	int rc = -1, r;

	if (kgf_state_read(gfd, &old) < 0) {
		memset(&old, 0, sizeof old);
	}
	if (kgf_members_scan(gfd, group, 1, 1, &live, &nlive, err) < 0)
		goto out;
	if ((r = state_next(d, &old, live, nlive, &s, err)) < 0)
		goto out;
	rc = r ? state_write(gfd, group, &s, err) : 0;
	kgf_state_free(&s);
out:
	kgf_state_free(&old);
	kgf_members_free(live, nlive);
	return rc;
}

static int
rebalance(struct klog_dir *d, int gfd, const char *group, char *err)
{
	int lfd, rc;

	if ((lfd = kgf_group_lock(gfd, group, err)) < 0)
		return -1;
	rc = rebalance_locked(d, gfd, group, err);
	close(lfd);
	return rc;
}

/* does state need redoing: live members, reservations, topics */
static int
state_stale(struct kgl *k, const char *group, int topics, char *err)
{
	struct kmember *live = NULL;
	size_t nlive = 0;
	int64_t now = klog_now_ms();
	int stale = 0;

	if (kgf_members_scan(k->gfd, group, 0, 0, &live, &nlive, err) < 0)
		return -1;
	for (size_t i = 0; !stale && i < nlive; i++)
		if (kgf_state_index(&k->st, live[i].id) < 0)
			stale = 1;
	for (size_t i = 0; !stale && i < k->st.nm; i++) {
		const struct kmember *m = &k->st.m[i];
		int alive = 0;

		for (size_t j = 0; j < nlive; j++)
			if (!strcmp(live[j].id, m->id))
				alive = 1;
		if (alive ? m->gone_ms != 0 : m->gone_ms == 0 || expired(m, now))
			stale = 1;
	}
	kgf_members_free(live, nlive);
	/* subscribed topics that appeared or changed partition count */
	for (size_t i = 0; topics && !stale && i < k->st.nm; i++)
		for (size_t t = 0; !stale && t < k->st.m[i].ntopics; t++) {
			struct klog_config cfg;
			char e[KLOG_ERRLEN];
			int have = 0, now_parts = 0;

			if (klog_topic_load(k->d, k->st.m[i].topics[t], &cfg, e) == 0)
				now_parts = cfg.partitions;
			for (size_t x = 0; x < k->st.ntopics; x++)
				if (!strcmp(k->st.topics[x], k->st.m[i].topics[t]))
					have = k->st.parts[x];
			if (have != now_parts)
				stale = 1;
		}
	return stale;
}

/* ---- a member ------------------------------------------------------------ */

static int
valid_id(const char *what, const char *s, char *err)
{
	char e[KLOG_ERRLEN];

	if (klog_topic_name_check(s, e) < 0 || strlen(s) > 200) {
		errno = EINVAL;
		return kerr(err, "invalid %s '%s': [A-Za-z0-9._-], 1 to 200 bytes, not . or ..",
		    what, s);
	}
	return 0;
}

/* members/ID made, locked and written, under the group lock */
static int
register_member(struct klog_group *g, struct kgl *k, char *err)
{
	struct klog_buf b = { 0 };
	char path[300], host[256];
	int fd = -1, r = -1;

	snprintf(path, sizeof path, "members/%s", g->member_id);
	if ((fd = openat(k->gfd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "group '%s': cannot create '%s'", g->group, path);
	/* others probe with a shared lock for an instant: try for a while */
	for (int i = 0; i < 200; i++) {
		if ((r = flock(fd, LOCK_EX | LOCK_NB)) == 0 || errno != EWOULDBLOCK)
			break;
		usleep(1000);
	}
	if (r < 0) {
		if (errno == EWOULDBLOCK) {
			errno = EBUSY;
			kerr(err, "group '%s': member '%s' is already a live member%s", g->group,
			    g->member_id, k->instance ? " (instance id in use)" : "");
		} else {
			kerr_sys(err, "group '%s': cannot lock '%s'", g->group, path);
		}
		close(fd);
		return -1;
	}
	if (gethostname(host, sizeof host) < 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = 0;
	if (klog_buf_printf(&b, "member.id=%s\n", g->member_id) < 0 ||
	    (k->instance && klog_buf_printf(&b, "instance.id=%s\n", k->instance) < 0) ||
	    klog_buf_printf(&b, "client.id=%s\nhost=%s\npid=%ld\nstrategy=%s\nsession.ms=%d\n"
	    "topics=", k->client, host, (long)getpid(), k->strategy, k->session_ms) < 0 ||
	    join_topics(&b, k->topics, k->ntopics) < 0 || klog_buf_printf(&b, "\n") < 0 ||
	    ftruncate(fd, 0) < 0 || pwrite(fd, b.data, b.len, 0) != (ssize_t)b.len) {
		kerr_sys(err, "group '%s': cannot write '%s'", g->group, path);
		klog_buf_free(&b);
		close(fd);
		return -1;
	}
	klog_buf_free(&b);
	if (k->mfd >= 0)
		close(k->mfd);
	k->mfd = fd;
	return 0;
}

/* register and write the next state, under the group lock (made again if
 * the group was deleted meanwhile) */
static int
enter_group(struct klog_group *g, struct kgl *k, char *err)
{
	for (int tries = 0; tries < 5; tries++) {
		int lfd, rc;

		if (k->gfd < 0 && (k->gfd = kgf_group_open(k->d, g->group, 1, err)) < 0)
			return -1;
		if ((lfd = kgf_group_lock(k->gfd, g->group, err)) < 0) {
			if (errno != ESTALE)
				return -1;
			close(k->gfd);
			k->gfd = -1;
			continue;
		}
		rc = register_member(g, k, err);
		if (rc == 0)
			rc = rebalance_locked(k->d, k->gfd, g->group, err);
		close(lfd);
		return rc;
	}
	return -1;
}

/* inotify on the group directory (state renamed in) and members/ (joins,
 * leaves, and deaths: a dying member's file is closed); without it (no
 * instances left) every poll looks */
static void
watch(struct klog_group *g, struct kgl *k)
{
	char path[PATH_MAX];
	int n;

	if (k->ino >= 0)
		close(k->ino);
	k->ino = -1;
	if ((k->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return;
	n = snprintf(path, sizeof path, "%s/" GROUPS_DIR "/%s", k->d->path, g->group);
	if (n < 0 || (size_t)n + 10 >= sizeof path ||
	    inotify_add_watch(k->ino, path, IN_MOVED_TO | IN_DELETE_SELF) < 0)
		goto fail;
	strcat(path, "/members");
	if (inotify_add_watch(k->ino, path, IN_CREATE | IN_DELETE | IN_CLOSE_WRITE |
	    IN_MOVED_FROM | IN_MOVED_TO) < 0)
		goto fail;
	return;
fail:
	close(k->ino);
	k->ino = -1;
}

static void
kgl_state_free(struct kgl *k)
{
	klog_strv_free(k->topics, k->ntopics);
	free(k->instance);
	free(k->client);
	kgf_state_free(&k->st);
	for (size_t i = 0; i < k->nown; i++) {
		free(k->own[i].topic);
		close(k->own[i].fd);
	}
	free(k->own);
	if (k->ino >= 0)
		close(k->ino);
	if (k->mfd >= 0)
		close(k->mfd);
	if (k->gfd >= 0)
		close(k->gfd);
	free(k);
}

int
kgl_join(struct klog_group *g, const struct klog_group_opts *o, char *err)
{
	struct kgl *k;
	const char *strategy = o->strategy ? o->strategy : "range";

	if (!(g->impl = k = calloc(1, sizeof *k)))
		return kerr_sys(err, "group '%s'", g->group);
	k->gfd = k->mfd = k->ino = -1;
	k->d = klog_log_dir(g->lg);
	k->session_ms = o->session_ms > 0 ? o->session_ms : DEFAULT_SESSION_MS;
	snprintf(k->strategy, sizeof k->strategy, "%s", strategy);
	if (kgf_refuse_broker(k->d, g->group, err) < 0)
		goto fail;
	if (o->instance_id && valid_id("instance id", o->instance_id, err) < 0)
		goto fail;
	if (o->client_id && valid_id("client id", o->client_id, err) < 0)
		goto fail;
	if (!(k->client = strdup(o->client_id ? o->client_id : "klog")) ||
	    (o->instance_id && !(k->instance = strdup(o->instance_id))) ||
	    !(k->topics = calloc(o->ntopics, sizeof *k->topics))) {
		kerr_sys(err, "group '%s'", g->group);
		goto fail;
	}
	for (size_t i = 0; i < o->ntopics; i++) {
		if (klog_topic_name_check(o->topics[i], err) < 0) {
			errno = EINVAL;
			goto fail;
		}
		if (!klog_topic_exists(k->d, o->topics[i])) {
			errno = ENOENT;
			kerr(err, "group '%s': topic '%s' does not exist", g->group, o->topics[i]);
			goto fail;
		}
		for (size_t j = 0; j < k->ntopics; j++)
			if (!strcmp(k->topics[j], o->topics[i]))
				goto dup;
		if (!(k->topics[k->ntopics] = strdup(o->topics[i]))) {
			kerr_sys(err, "group '%s'", g->group);
			goto fail;
		}
		k->ntopics++;
dup:;
	}
	qsort(k->topics, k->ntopics, sizeof *k->topics, kgf_cmpstr);
	if (k->instance) {
		snprintf(g->member_id, sizeof g->member_id, "%s", k->instance);
	} else {
		uint64_t r;

		if (getrandom(&r, sizeof r, 0) != sizeof r)
			r = (uint64_t)mono_ms() * 2654435761u ^ (uint64_t)getpid() << 32;
		snprintf(g->member_id, sizeof g->member_id, "%s-%016" PRIx64, k->client, r);
	}
	if (enter_group(g, k, err) < 0)
		goto fail;
	watch(g, k);
	if (kgf_state_read(k->gfd, &k->st) < 0)
		memset(&k->st, 0, sizeof k->st);
	g->generation = k->st.generation;
	g->interval_ms = POLL_MS;
	k->reconcile = 1;
	k->next_scan = mono_ms() + SCAN_MS;
	return 0;
fail:
	kgl_state_free(k);
	g->impl = NULL;
	return -1;
}

static struct owned *
find_owned(struct kgl *k, const char *topic, int p)
{
	for (size_t i = 0; i < k->nown; i++)
		if (k->own[i].partition == p && !strcmp(k->own[i].topic, topic))
			return &k->own[i];
	return NULL;
}

static void
drop_owned(struct kgl *k, struct owned *o, int held)
{
	if (held && ftruncate(o->fd, 0) < 0) {
		/* only describe reads it */
	}
	close(o->fd);
	free(o->topic);
	*o = k->own[--k->nown];
}

static int
assigned_to_me(struct klog_group *g, struct kgl *k, const char *topic, int p)
{
	long ti = kgf_state_tp_index(&k->st, topic, p);
	int mi;

	if (ti < 0 || (mi = k->st.owner[ti]) < 0)
		return 0;
	return !strcmp(k->st.m[mi].id, g->member_id);
}

/* the partitions now ours that we do not hold yet: open, try the lock;
 * those taken get the committed offsets, read once after the locks */
static int
take_partitions(struct klog_group *g, struct kgl *k, int full, char *err)
{
	struct klog_gcommit *c = NULL;
	size_t nc = 0;
	int taken = 0;

	for (size_t i = 0; full && i < k->st.ntp; i++) {
		const struct kg_tp *tp = &k->st.tp[i];
		struct owned *o;

		if (k->st.owner[i] < 0 || strcmp(k->st.m[k->st.owner[i]].id, g->member_id))
			continue;
		if (!(o = find_owned(k, tp->topic, tp->partition))) {
			char path[KLOG_TOPIC_MAX + 32];
			struct owned *no = realloc(k->own, (k->nown + 1) * sizeof *no);
			int fd;

			if (!no)
				return kerr_sys(err, "group '%s'", g->group);
			k->own = no;
			snprintf(path, sizeof path, "owners/%s-%d", tp->topic, tp->partition);
			if ((fd = openat(k->gfd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
				return kerr_sys(err, "group '%s': cannot open '%s'", g->group, path);
			o = &k->own[k->nown];
			*o = (struct owned){ strdup(tp->topic), tp->partition, fd, P_PENDING, -1 };
			if (!o->topic) {
				close(fd);
				return kerr_sys(err, "group '%s'", g->group);
			}
			k->nown++;
		}
	}
	for (size_t i = 0; i < k->nown; i++) {
		struct owned *o = &k->own[i];

		if (o->st == P_PENDING && flock(o->fd, LOCK_EX | LOCK_NB) == 0) {
			o->st = P_NEW;
			taken++;
		}
	}
	if (!taken)
		return 0;
	if (klog_gstore_load(k->d, g->group, &c, &nc, err) < 0) {
		/* no ASSIGN without the committed offset: give them back, try later */
		for (size_t i = 0; i < k->nown; i++)
			if (k->own[i].st == P_NEW) {
				lock_fd(k->own[i].fd, LOCK_UN);
				k->own[i].st = P_PENDING;
			}
		return -1;
	}
	for (size_t i = 0; i < k->nown; i++) {
		struct owned *o = &k->own[i];
		char line[300];
		int n;

		if (o->st != P_NEW)
			continue;
		o->committed = -1;
		for (size_t j = 0; j < nc; j++)
			if (c[j].partition == o->partition && !strcmp(c[j].topic, o->topic))
				o->committed = c[j].offset;
		n = snprintf(line, sizeof line, "%s\n", g->member_id);
		if (ftruncate(o->fd, 0) < 0 || pwrite(o->fd, line, (size_t)n, 0) != n) {
			/* only describe reads it */
		}
	}
	klog_gcommits_free(c, nc);
	return 0;
}

/* is our member file still ours (not removed by hand or by a delete) */
static int
self_present(struct klog_group *g, struct kgl *k)
{
	char path[300];
	struct stat a, b;

	snprintf(path, sizeof path, "members/%s", g->member_id);
	if (fstat(k->mfd, &a) < 0 || fstatat(k->gfd, path, &b, 0) < 0)
		return 0;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static int
event(struct klog_group *g, struct kgl *k, struct klog_gevent *ev, int type, struct owned *o)
{
	snprintf(k->evtopic, sizeof k->evtopic, "%s", o->topic);
	ev->type = type;
	ev->topic = k->evtopic;
	ev->partition = o->partition;
	ev->committed = type == KLOG_GEV_ASSIGN ? o->committed : -1;
	return 1;
}

int
kgl_poll(struct klog_group *g, struct klog_gevent *ev, char *err)
{
	struct kgl *k = g->impl;
	int64_t now = mono_ms();
	int look = 0, full = 0;

	memset(ev, 0, sizeof *ev);
	if (k->ino >= 0) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t r;

		while ((r = read(k->ino, buf, sizeof buf)) > 0)
			look = 1;
	} else {
		look = 1;
	}
	if (now >= k->next_scan) {
		look = full = 1;
		k->next_scan = now + SCAN_MS;
		if (!k->lost && !self_present(g, k))
			k->lost = 1;
	}
	/* fenced: our member file is gone; every partition is LOST, then rejoin */
	if (k->lost) {
		for (size_t i = 0; i < k->nown; i++) {
			struct owned *o = &k->own[i];

			if (o->st == P_OWNED || o->st == P_REVOKING) {
				event(g, k, ev, KLOG_GEV_LOST, o);
				drop_owned(k, o, 0);
				return 1;
			}
		}
		while (k->nown)
			drop_owned(k, &k->own[0], 0);
		if (k->gfd >= 0)
			close(k->gfd);
		k->gfd = -1;
		if (enter_group(g, k, err) < 0)
			return -1;
		watch(g, k);
		k->lost = 0;
		look = 1;
	}
	if (look) {
		struct kstate s;
		int stale = k->gfd >= 0 ? state_stale(k, g->group, full, err) : 0;

		if (stale < 0)
			return -1;
		if (stale && rebalance(k->d, k->gfd, g->group, err) < 0) {
			if (errno != ESTALE)
				return -1;
			k->lost = 1;
			return 0;
		}
		if (kgf_state_read(k->gfd, &s) == 0) {
			kgf_state_free(&k->st);
			k->st = s;
			g->generation = s.generation;
			k->reconcile = 1;
		}
		/* look again when the first reservation runs out */
		for (size_t i = 0; i < k->st.nm; i++) {
			const struct kmember *m = &k->st.m[i];
			int64_t left = m->gone_ms + m->session_ms - klog_now_ms();

			if (m->gone_ms && now + left + 1 < k->next_scan)
				k->next_scan = now + (left > 0 ? left : 0) + 1;
		}
	}
	/* after a new state, what we hold that is now another's: REVOKE (or
	 * drop if never announced); then what is now ours is tracked */
	for (size_t i = 0; k->reconcile && i < k->nown; i++) {
		struct owned *o = &k->own[i];

		if (assigned_to_me(g, k, o->topic, o->partition))
			continue;
		if (o->st == P_OWNED) {
			o->st = P_REVOKING;
			return event(g, k, ev, KLOG_GEV_REVOKE, o);
		}
		if (o->st == P_PENDING || o->st == P_NEW) {
			drop_owned(k, o, o->st == P_NEW);
			i--;
		}
	}
	if (take_partitions(g, k, k->reconcile, err) < 0)
		return -1;
	k->reconcile = 0;
	for (size_t i = 0; i < k->nown; i++) {
		struct owned *o = &k->own[i];

		if (o->st == P_NEW) {
			o->st = P_OWNED;
			return event(g, k, ev, KLOG_GEV_ASSIGN, o);
		}
	}
	return 0;
}

/* held: the lock is ours and the file still has that name */
static int
holds(struct kgl *k, const struct owned *o)
{
	char path[KLOG_TOPIC_MAX + 32];
	struct stat a, b;

	if (o->st != P_OWNED && o->st != P_REVOKING)
		return 0;
	snprintf(path, sizeof path, "owners/%s-%d", o->topic, o->partition);
	if (fstat(o->fd, &a) < 0 || fstatat(k->gfd, path, &b, 0) < 0)
		return 0;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int
kgl_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err)
{
	struct kgl *k = g->impl;

	for (size_t i = 0; i < n; i++) {
		struct owned *o = find_owned(k, c[i].topic, c[i].partition);

		if (!o || !holds(k, o)) {
			errno = ESTALE;
			return kerr(err, "group '%s': member '%s' does not own partition '%s-%d' "
			    "(generation %" PRId32 "): commit refused", g->group, g->member_id,
			    c[i].topic, c[i].partition, g->generation);
		}
	}
	return klog_gstore_commit(k->d, g->group, c, n, err);
}

int
kgl_release(struct klog_group *g, const char *topic, int partition, char *err)
{
	struct kgl *k = g->impl;
	struct owned *o = find_owned(k, topic, partition);

	if (!o || (o->st != P_OWNED && o->st != P_REVOKING)) {
		errno = EINVAL;
		return kerr(err, "group '%s': member '%s' does not own partition '%s-%d'",
		    g->group, g->member_id, topic, partition);
	}
	drop_owned(k, o, 1);
	return 0;
}

int
kgl_leave(struct klog_group *g, char *err)
{
	struct kgl *k = g->impl;
	char path[300];
	int lfd, rc;

	if (!k)
		return 0;
	while (k->nown)
		drop_owned(k, &k->own[0], k->own[0].st != P_PENDING);
	if (k->gfd < 0)
		return 0;
	if ((lfd = kgf_group_lock(k->gfd, g->group, err)) < 0)
		return errno == ESTALE ? 0 : -1;
	snprintf(path, sizeof path, "members/%s", g->member_id);
	if (self_present(g, k))
		unlinkat(k->gfd, path, 0);
	close(k->mfd);
	k->mfd = -1;
	rc = rebalance_locked(k->d, k->gfd, g->group, err);
	close(lfd);
	return rc;
}

void
kgl_free(struct klog_group *g)
{
	if (g->impl)
		kgl_state_free(g->impl);
	g->impl = NULL;
}
