/* klog - kdump: list, verify and repair segments, indexes and checkpoints offline. MIT licence. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klog.h"
#include "cmdutil.h"

#define SYNOPSIS "kdump [-r] [-i] [--decode=text|json|none] [--verify] [--repair [--force]] [-q] [-v] FILE|DIR..."

static const char help[] =
"usage: kdump [options] FILE|DIR...\n"
"Inspect a log directory offline: segments (.log), indexes (.index, .timeindex),\n"
"Kafka's checkpoint files, partition directories and whole log directories.\n"
"\n"
"  -r, --records   list every record of each batch too\n"
"  -i, --indexes   with a directory or a .log: list index and checkpoint files too\n"
"      --decode=text|json|none\n"
"                  with -r, each record of __consumer_offsets-N decoded on a\n"
"                  line of its own, \"    offsets ...\" (default text)\n"
"      --verify    check CRCs, offsets and index entries instead of listing;\n"
"                  prints \"ok SEGMENT batches=N records=M\" per good segment\n"
"      --repair    (partition directories) cut the log at its first bad batch,\n"
"                  keeping the cut bytes in <segment>.log.damaged, and rebuild\n"
"                  indexes; says what it did on stderr.  Refused while a\n"
"                  kbrokerd serves the log directory\n"
"      --force     with --repair: repair even under a running kbrokerd\n"
"  -d, --dir DIR   the log directory, when no FILE or DIR is given ($KLOG_DIR)\n"
"  -q, --quiet     no warnings\n"
"  -v, --verbose   routine events too (an index rebuilt, retention)\n"
"  -h, --help      this help\n"
"  -V, --version   print the version\n"
"\n"
"Exit 0 on success, 1 when something is damaged or cannot be read, 2 on a\n"
"usage error.\n";

static int
flush_out(void *arg, struct klog_buf *out)
{
	(void)arg;
	if (klog_cmd_write(1, out->data, out->len) < 0) {
		if (errno == EPIPE)
			exit(0);
		return -1;
	}
	out->len = 0;
	return 0;
}

static void
problem(void *arg, const char *msg)
{
	(void)arg;
	klog_cmd_error("%s", msg);
}

/* progress: records and segment bytes verified, or partitions repaired */
static int64_t prog_records, prog_bytes;

/* the bytes of the .log files under path (a segment, a partition or a
 * log directory), for the percent of the progress line */
static int64_t
log_bytes(const char *path, int depth)
{
	char sub[PATH_MAX];
	struct dirent *e;
	struct stat st;
	int64_t total = 0;
	size_t n;
	DIR *dp;

	if (stat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		n = strlen(path);
		return n > 4 && !strcmp(path + n - 4, ".log") ? st.st_size : 0;
	}
	if (depth > 1 || !(dp = opendir(path)))
		return 0;
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.' && snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) <
		    (int)sizeof sub)
			total += log_bytes(sub, depth + 1);
	closedir(dp);
	return total;
}

static void
done(void *arg, const char *segment, const struct klog_verify_report *r)
{
	(void)arg;
	prog_records += r->records;
	prog_bytes += r->log_bytes;
	klog_cmd_progress(prog_records, prog_bytes);
	if (!r->bad)
		printf("ok %s batches=%" PRId64 " records=%" PRId64 "\n", segment, r->batches,
		    r->records);
}

/* repair every partition under path (a partition or a log directory) */
static int
repair(const char *path, int flags)
{
	struct klog_buf report = {0};
	char err[KLOG_ERRLEN];
	struct stat st;
	int rc;

	if (stat(path, &st) < 0)
		klog_cmd_die(1, "cannot open '%s': %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		klog_cmd_die(2, "--repair needs a partition directory, not '%s'", path);
	rc = klog_repair_partition(NULL, path, flags, &report, err);
	if (report.len)
		klog_cmd_progress_clear();
	if (report.len)
		fprintf(stderr, "%.*s", (int)report.len, (char *)report.data);
	fflush(stderr);
	klog_buf_free(&report);
	if (rc < 0 && errno == EBUSY) {
		klog_cmd_error("%s (or use --force: the repair then holds the partition's "
		    "writer lock, which the broker also takes for each append)", err);
		return 1;
	}
	if (rc < 0) {
		klog_cmd_error("%s", err);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "records", no_argument, NULL, 'r' },
		{ "indexes", no_argument, NULL, 'i' },
		{ "decode", required_argument, NULL, 'D' },
		{ "verify", no_argument, NULL, 'Y' },
		{ "repair", no_argument, NULL, 'R' },
		{ "force", no_argument, NULL, 'F' },
		{ "dir", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct klog_dump dp = { .flush = flush_out };
	const char *dir = NULL;
	char err[KLOG_ERRLEN];
	int verify = 0, fix = 0, force = 0, c, i, r, rc = 0;

	klog_cmd_init("kdump");
	while ((c = getopt_long(argc, argv, "riqvd:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			dp.flags |= KLOG_DUMP_RECORDS;
			break;
		case 'i':
			dp.flags |= KLOG_DUMP_INDEXES;
			break;
		case 'D':
			dp.flags &= ~(KLOG_DUMP_NODECODE | KLOG_DUMP_DECODE_JSON);
			if (!strcmp(optarg, "none"))
				dp.flags |= KLOG_DUMP_NODECODE;
			else if (!strcmp(optarg, "json"))
				dp.flags |= KLOG_DUMP_DECODE_JSON;
			else if (strcmp(optarg, "text"))
				klog_cmd_usage(SYNOPSIS);
			break;
		case 'Y':
			verify = 1;
			break;
		case 'R':
			fix = 1;
			break;
		case 'F':
			force = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'q':
			klog_cmd_quiet(1);
			break;
		case 'v':
			klog_cmd_verbose(1);
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		case 'V':
			klog_cmd_version();
		default:
			klog_cmd_usage(SYNOPSIS);
		}
	}
	if ((verify && fix) || (force && !fix))
		klog_cmd_usage(SYNOPSIS);
	if (optind >= argc) {
		if (!dir && !getenv("KLOG_DIR"))
			klog_cmd_usage(SYNOPSIS);
		argv[--optind] = (char *)klog_cmd_dir(dir);
	}
	signal(SIGPIPE, SIG_IGN);
	if (argc - optind > 1)
		dp.flags |= KLOG_DUMP_NAMES;
	/* a long --verify or --repair shows progress when its output is not on
	 * the terminal already */
	if ((verify || fix) && !isatty(1)) {
		int64_t total = 0;
		for (i = optind; i < argc; i++)
			total += log_bytes(argv[i], 0);
		klog_cmd_progress_start(total);
	}
	for (i = optind; i < argc; i++) {
		if (fix) {
			int64_t b = log_bytes(argv[i], 0);
			if (repair(argv[i], force ? KLOG_REPAIR_FORCE : 0))
				rc = 1;
			prog_bytes += b;
			klog_cmd_progress(-1, prog_bytes);
			continue;
		}
		if (verify) {
			r = klog_verify_path(argv[i], problem, done, NULL, err);
			fflush(stdout);
			if (r < 0)
				klog_cmd_error("%s", err);
			if (r != 0)
				rc = 1;
			continue;
		}
		if ((r = klog_dump_path(&dp, argv[i], err)) < 0)
			klog_cmd_error("%s", err);
		if (r != 0)
			rc = 1;
	}
	klog_cmd_progress_end();
	klog_buf_free(&dp.out);
	if (fflush(stdout) == EOF && errno != EPIPE) {
		klog_cmd_error("cannot write output: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}
