/* klog - embedded groups: list, describe, set offsets, delete. MIT licence. */
/* The group files are specified at the top of group-local.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "group-local.h"

/* ---- administration ------------------------------------------------------ */

static int
add_name(char ***v, size_t *n, const char *s)
{
	char **nv;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0;
	if (!(nv = realloc(*v, (*n + 1) * sizeof *nv)) || !(nv[*n] = strdup(s))) {
		if (nv)
			*v = nv;
		return -1;
	}
	*v = nv;
	(*n)++;
	return 0;
}

int
kgl_list(struct klog_dir *d, char ***names, size_t *n, char *err)
{
	char **v = NULL, **gs = NULL;
	size_t nv = 0, ngs = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	*names = NULL;
	*n = 0;
	if (kgf_refuse_broker(d, "*", err) < 0)
		return -1;
	if ((fd = openat(d->fd, GROUPS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (!(dir = fdopendir(fd))) {
			close(fd);
			return kerr_sys(err, "log directory '%s': cannot read '%s'", d->path,
			    GROUPS_DIR);
		}
		while ((de = readdir(dir))) {
			char e[KLOG_ERRLEN];

			if (klog_group_name_check(de->d_name, e) < 0 || de->d_name[0] == '.')
				continue;
			if (add_name(&v, &nv, de->d_name) < 0) {
				closedir(dir);
				goto nomem;
			}
		}
		closedir(dir);
	}
	if (klog_gstore_groups(d, &gs, &ngs, err) < 0)
		goto fail;
	for (size_t i = 0; i < ngs; i++)
		if (add_name(&v, &nv, gs[i]) < 0)
			goto nomem;
	klog_strv_free(gs, ngs);
	if (nv)
		qsort(v, nv, sizeof *v, kgf_cmpstr);
	*names = v;
	*n = nv;
	return 0;
nomem:
	kerr_sys(err, "log directory '%s'", d->path);
fail:
	klog_strv_free(gs, ngs);
	klog_strv_free(v, nv);
	return -1;
}

/* committed offsets */
static int
load_commits(struct klog_dir *d, const char *group, struct klog_gcommit **c, size_t *n, char *err)
{
	*c = NULL;
	*n = 0;
	return klog_gstore_load(d, group, c, n, err);
}

/* "ID (host H, pid N), ..." of the live members */
static void
name_members(char *buf, size_t len, const struct kmember *m, size_t n)
{
	size_t at = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && at < len; i++) {
		int w = snprintf(buf + at, len - at, "%s%s (host %s, pid %d)", i ? ", " : "",
		    m[i].id, m[i].host ? m[i].host : "?", m[i].pid);

		if (w < 0)
			break;
		at += (size_t)w;
	}
}

static int
gpart_add(struct klog_group_info *gi, struct klog_dir *d, const char *topic, int p,
    int64_t committed)
{
	struct klog_gpart_info *np = realloc(gi->parts, (gi->nparts + 1) * sizeof *np);
	struct klog_gpart_info *x;
	struct klog_part_info pi = { 0 };
	struct klog_part *part;
	char e[KLOG_ERRLEN];

	if (!np)
		return -1;
	gi->parts = np;
	x = &np[gi->nparts];
	memset(x, 0, sizeof *x);
	if (!(x->topic = strdup(topic)))
		return -1;
	gi->nparts++;
	x->partition = p;
	x->committed = committed;
	x->owner = -1;
	if ((part = klog_part_open(d, topic, p, KLOG_RDONLY, e))) {
		if (klog_part_info(part, &pi, e) < 0)
			memset(&pi, 0, sizeof pi);
		klog_part_close(part);
	}
	x->log_end = pi.log_end;
	x->lag = committed >= 0 ? pi.log_end - committed : pi.log_end - pi.log_start;
	if (x->lag < 0)
		x->lag = 0;
	return 0;
}

static int
cmpgpart(const void *a, const void *b)
{
	const struct klog_gpart_info *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

int
kgl_describe(struct klog_dir *d, const char *group, struct klog_group_info *gi, char *err)
{
	struct klog_gcommit *c = NULL;
	struct kmember *live = NULL;
	struct kstate st = { 0 };
	size_t nc = 0, nlive = 0;
	int gfd = -1, rc = -1, stable = 1;

	memset(gi, 0, sizeof *gi);
	if (kgf_refuse_broker(d, group, err) < 0)
		return -1;
	if (load_commits(d, group, &c, &nc, err) < 0)
		return -1;
	if ((gfd = kgf_group_open(d, group, 0, err)) < 0) {
		if (errno != ENOENT)
			goto out;
		if (nc == 0) {
			errno = ENOENT;
			kerr(err, "group '%s' does not exist", group);
			goto out;
		}
	} else {
		if (kgf_state_read(gfd, &st) < 0)
			memset(&st, 0, sizeof st);
		if (kgf_members_scan(gfd, group, 1, 0, &live, &nlive, err) < 0)
			goto out;
	}
	gi->generation = st.generation;
	snprintf(gi->strategy, sizeof gi->strategy, "%s", st.strategy);
	if (nlive && !(gi->members = calloc(nlive, sizeof *gi->members)))
		goto nomem;
	for (size_t i = 0; i < nlive; i++) {
		struct klog_gmember_info *mi = &gi->members[gi->nmembers++];

		mi->pid = live[i].pid;
		if (!(mi->member_id = strdup(live[i].id)) ||
		    (live[i].instance && !(mi->instance_id = strdup(live[i].instance))) ||
		    !(mi->client_id = strdup(live[i].client ? live[i].client : "")) ||
		    !(mi->host = strdup(live[i].host ? live[i].host : "")))
			goto nomem;
		if (kgf_state_index(&st, live[i].id) < 0)
			stable = 0;
	}
	for (size_t i = 0; i < st.nm; i++)
		if (!st.m[i].gone_ms) {
			int alive = 0;

			for (size_t j = 0; j < nlive; j++)
				alive |= !strcmp(live[j].id, st.m[i].id);
			if (!alive)
				stable = 0;
		}
	/* every partition of the subscribed topics, and any with a commit */
	for (size_t i = 0; i < st.ntp; i++)
		if (gpart_add(gi, d, st.tp[i].topic, st.tp[i].partition, -1) < 0)
			goto nomem;
	for (size_t j = 0; j < nc; j++) {
		size_t i;

		for (i = 0; i < gi->nparts; i++)
			if (gi->parts[i].partition == c[j].partition &&
			    !strcmp(gi->parts[i].topic, c[j].topic))
				break;
		if (i == gi->nparts &&
		    gpart_add(gi, d, c[j].topic, c[j].partition, c[j].offset) < 0)
			goto nomem;
		if (i < gi->nparts) {
			gi->parts[i].committed = c[j].offset;
			gi->parts[i].lag = gi->parts[i].log_end - c[j].offset;
			if (gi->parts[i].lag < 0)
				gi->parts[i].lag = 0;
		}
	}
	if (gi->nparts)
		qsort(gi->parts, gi->nparts, sizeof *gi->parts, cmpgpart);
	/* owners: the member named in owners/TOPIC-P, if it is alive */
	for (size_t i = 0; gfd >= 0 && i < gi->nparts; i++) {
		struct klog_gpart_info *x = &gi->parts[i];
		char path[KLOG_TOPIC_MAX + 32], *text;
		long ti = kgf_state_tp_index(&st, x->topic, x->partition);
		int fd;

		snprintf(path, sizeof path, "owners/%s-%d", x->topic, x->partition);
		if ((fd = openat(gfd, path, O_RDONLY | O_CLOEXEC)) >= 0) {
			if ((text = kgf_slurp_fd(fd))) {
				text[strcspn(text, "\n")] = 0;
				for (size_t m = 0; m < gi->nmembers; m++)
					if (!strcmp(gi->members[m].member_id, text))
						x->owner = (int)m;
				free(text);
			}
			close(fd);
		}
		/* stable: each assigned partition held by its assignee */
		if (ti >= 0 && st.owner[ti] >= 0 && !st.m[st.owner[ti]].gone_ms &&
		    (x->owner < 0 || strcmp(gi->members[x->owner].member_id,
		    st.m[st.owner[ti]].id)))
			stable = 0;
	}
	/* klog.h's state[16] cannot hold Kafka's "PreparingRebalance" */
	snprintf(gi->state, sizeof gi->state, "%s", nlive == 0 ? "Empty" :
	    stable ? "Stable" : "Rebalancing");
	rc = 0;
	goto out;
nomem:
	kerr_sys(err, "group '%s'", group);
out:
	if (rc < 0)
		klog_group_info_free(gi);
	klog_gcommits_free(c, nc);
	kgf_members_free(live, nlive);
	kgf_state_free(&st);
	if (gfd >= 0)
		close(gfd);
	return rc;
}

/* remove every entry of a subdirectory, then it */
static void
remove_sub(int gfd, const char *sub)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = openat(gfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(dir);
	unlinkat(gfd, sub, AT_REMOVEDIR);
}

/* a group's files and directory (under its lock), and .klog-groups when
 * it was the last */
static int
remove_group(struct klog_dir *d, int gfd, const char *group, char *err)
{
	char path[KLOG_GROUP_MAX + 64];

	remove_sub(gfd, "members");
	remove_sub(gfd, "owners");
	unlinkat(gfd, "state", 0);
	unlinkat(gfd, "lock", 0);
	snprintf(path, sizeof path, GROUPS_DIR "/%s", group);
	if (unlinkat(d->fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return kerr_sys(err, "group '%s': cannot remove '%s'", group, path);
	unlinkat(d->fd, GROUPS_DIR, AT_REMOVEDIR);
	return 0;
}

int
kgl_set_offsets(struct klog_dir *d, const char *group, const struct klog_gcommit *c,
    size_t n, char *err)
{
	struct kmember *live = NULL;
	char path[KLOG_GROUP_MAX + 64];
	struct stat sb;
	size_t nlive = 0;
	int gfd, lfd = -1, rc = -1, made;

	if (kgf_refuse_broker(d, group, err) < 0)
		return -1;
	/* the group directory and its lock keep members from joining meanwhile */
	snprintf(path, sizeof path, GROUPS_DIR "/%s", group);
	made = fstatat(d->fd, path, &sb, 0) < 0;
	if ((gfd = kgf_group_open(d, group, 1, err)) < 0)
		return -1;
	if ((lfd = kgf_group_lock(gfd, group, err)) < 0)
		goto out;
	if (kgf_members_scan(gfd, group, 1, 1, &live, &nlive, err) < 0)
		goto out;
	if (nlive) {
		char who[KLOG_ERRLEN];

		name_members(who, sizeof who / 2, live, nlive);
		errno = EBUSY;
		kerr(err, "group '%s' has live members: %s", group, who);
		goto out;
	}
	if ((rc = klog_gstore_commit(d, group, c, n, err)) < 0 && made) {
		int e = errno;
		char e2[KLOG_ERRLEN];

		remove_group(d, gfd, group, e2);
		errno = e;
	}
out:
	kgf_members_free(live, nlive);
	if (lfd >= 0)
		close(lfd);
	close(gfd);
	return rc;
}

int
kgl_delete(struct klog_dir *d, const char *group, char *err)
{
	struct klog_gcommit *c = NULL;
	struct kmember *live = NULL;
	size_t nc = 0, nlive = 0;
	int gfd = -1, lfd = -1, rc = -1;

	if (kgf_refuse_broker(d, group, err) < 0)
		return -1;
	if (load_commits(d, group, &c, &nc, err) < 0)
		return -1;
	if ((gfd = kgf_group_open(d, group, 0, err)) < 0) {
		if (errno != ENOENT || nc == 0) {
			if (errno == ENOENT)
				kerr(err, "group '%s' does not exist", group);
			goto out;
		}
	} else {
		if ((lfd = kgf_group_lock(gfd, group, err)) < 0)
			goto out;
		if (kgf_members_scan(gfd, group, 1, 1, &live, &nlive, err) < 0)
			goto out;
		if (nlive) {
			char who[KLOG_ERRLEN];

			name_members(who, sizeof who / 2, live, nlive);
			errno = EBUSY;
			kerr(err, "group '%s' has live members: %s", group, who);
			goto out;
		}
	}
	/* ENOENT: no commits, only a directory */
	if (klog_gstore_delete(d, group, err) < 0 && errno != ENOENT)
		goto out;
	if (gfd >= 0 && remove_group(d, gfd, group, err) < 0)
		goto out;
	rc = 0;
out:
	klog_gcommits_free(c, nc);
	kgf_members_free(live, nlive);
	if (lfd >= 0)
		close(lfd);
	if (gfd >= 0)
		close(gfd);
	return rc;
}
