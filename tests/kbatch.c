/* klog - kbatch, raw RecordBatches for the shell tests, good and hostile. MIT licence. */
/*
 *	kbatch good N [CODEC]   one batch of N records (100-byte values) as a
 *	                        producer builds it, on stdout
 *	kbatch hostile KIND     one hostile batch (CRC-valid unless KIND is crc)
 *	kbatch list             "KIND\tCLIENT\tDISK\tMESSAGE\tWHAT" per kind:
 *	                        what klog_batch_validate answers in client mode
 *	                        and disk mode (errno name or ok), a piece of
 *	                        the client-mode message and what the batch is
 *	kbatch seed DIR [LOGDIR]
 *	                        seed corpora for the fuzz targets (make fuzz):
 *	                        DIR/batch, DIR/append, DIR/codec, DIR/proto from
 *	                        every batch of LOGDIR's .log segments (a Kafka
 *	                        log directory, read in place), klog-built
 *	                        batches of every codec and the hostile kinds
 *	                        but the bombs
 *
 * The batches are the ones t0004 and t0011 use (kbatch.h), so a shell test
 * can send them through kbrokerd's PRODUCE with a raw socket:
 *	{ printf "PRODUCE t 0 1 $(kbatch hostile overrun | wc -c)\n";
 *	  kbatch hostile overrun; } | ...
 * Exit 0, 1 on failure, 2 on usage (an unknown KIND too).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "klog.h"
#include "kbatch.h"

static void
usage(void)
{
	fputs("usage: kbatch good N [CODEC]\n"
	    "       kbatch hostile KIND\n"
	    "       kbatch list\n"
	    "       kbatch seed DIR [LOGDIR]\n", stderr);
	exit(2);
}

static void
die(const char *what, const char *name)
{
	fprintf(stderr, "kbatch: %s '%s': %s\n", what, name, strerror(errno));
	exit(1);
}

static void
put(const char *dir, const char *sub, const char *name, const void *a, size_t an,
    const void *b, size_t bn)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	if (!(f = fopen(path, "wb")) || fwrite(a, 1, an, f) != an ||
	    (bn && fwrite(b, 1, bn, f) != bn) || fclose(f) != 0)
		die("cannot write", path);
}

/* one batch as a seed of every target */
static void
seed_batch(const char *dir, const char *name, const unsigned char *p, size_t n)
{
	struct klog_buf z = { 0 }, req = { 0 };
	char err[KLOG_ERRLEN], nm[PATH_MAX];
	unsigned char pre[2];
	int c;

	put(dir, "batch", name, p, n, NULL, 0);
	for (c = 0; c < 2; c++) {               /* CRC made right; CreateTime, LogAppendTime */
		pre[0] = (unsigned char)(1 | c << 1);
		snprintf(nm, sizeof nm, "%s-%s", name, c ? "lat" : "ct");
		put(dir, "append", nm, pre, 1, p, n);
	}
	klog_buf_printf(&req, "PRODUCE t 0 1 %zu\n", n);
	klog_buf_append(&req, p, n);
	klog_buf_printf(&req, "FETCH t 0 0 100000\n");
	put(dir, "proto", name, req.data, req.len, NULL, 0);
	klog_buf_free(&req);
	if (n <= KLOG_BATCH_OVERHEAD)
		return;
	/* the records area: as it is, and compressed with each codec */
	pre[1] = 20;                            /* a 1 MiB output limit */
	if ((pre[0] = p[22] & KLOG_ATTR_CODEC) != KLOG_CODEC_NONE) {
		put(dir, "codec", name, pre, 2, p + KLOG_BATCH_OVERHEAD, n - KLOG_BATCH_OVERHEAD);
		return;
	}
	for (c = KLOG_CODEC_GZIP; c <= KLOG_CODEC_ZSTD; c++) {
		if (!klog_codec_available(c))
			continue;
		z.len = 0;
		if (klog_compress(c, p + KLOG_BATCH_OVERHEAD, n - KLOG_BATCH_OVERHEAD, &z, err) < 0)
			continue;
		pre[0] = (unsigned char)c;
		snprintf(nm, sizeof nm, "%s-%s", name, klog_codec_name(c));
		put(dir, "codec", nm, pre, 2, z.data, z.len);
	}
	klog_buf_free(&z);
}

/* every batch of every .log segment in a log directory's partitions */
static void
seed_logdir(const char *dir, const char *logdir)
{
	char path[PATH_MAX], name[PATH_MAX], err[KLOG_ERRLEN];
	struct dirent *pe, *se;
	DIR *pd, *sd;

	if (!(pd = opendir(logdir)))
		return;                         /* no fixture: klog's own seeds only */
	while ((pe = readdir(pd))) {
		if (pe->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", logdir, pe->d_name);
		if (!(sd = opendir(path)))
			continue;
		while ((se = readdir(sd))) {
			size_t len, off = 0, nl = strlen(se->d_name);
			struct klog_batch b;
			char *data;
			if (nl < 5 || strcmp(se->d_name + nl - 4, ".log"))
				continue;
			snprintf(path, sizeof path, "%s/%s/%s", logdir, pe->d_name, se->d_name);
			if (klog_read_file(path, &data, &len, err) < 0)
				continue;
			while (off < len &&
			    klog_batch_parse((unsigned char *)data + off, len - off, &b, err) == 1) {
				snprintf(name, sizeof name, "kafka-%s-%zu", pe->d_name, off);
				seed_batch(dir, name, (unsigned char *)data + off, klog_batch_size(&b));
				off += klog_batch_size(&b);
			}
			/* the whole segment too: batches back to back */
			snprintf(name, sizeof name, "kafka-%s-segment", pe->d_name);
			put(dir, "batch", name, data, len, NULL, 0);
			free(data);
		}
		closedir(sd);
	}
	closedir(pd);
}

static void
seed(const char *dir, const char *logdir)
{
	static const char *const sub[] = { "", "batch", "append", "codec", "proto" };
	static const int sizes[] = { 1, 5, 50 };
	struct klog_buf q = { 0 };
	char path[PATH_MAX], err[KLOG_ERRLEN];
	size_t i;
	int c, k;

	for (i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			die("cannot create", path);
	}
	seed_logdir(dir, logdir);
	for (c = KLOG_CODEC_NONE; c <= KLOG_CODEC_ZSTD; c++)
		for (i = 0; i < sizeof sizes / sizeof sizes[0] && klog_codec_available(c); i++) {
			if (kb_good(&q, sizes[i], c, err) < 0) {
				fprintf(stderr, "kbatch: %s\n", err);
				exit(1);
			}
			snprintf(path, sizeof path, "klog-%s-%d", klog_codec_name(c), sizes[i]);
			seed_batch(dir, path, q.data, q.len);
		}
	for (k = 0; k < KB_NKINDS; k++) {
		if (!strncmp(kb_kinds[k].name, "bomb", 4) || kb_hostile(k, &q, err) < 0)
			continue;               /* a bomb takes 64 MiB and 0.2 s a run */
		snprintf(path, sizeof path, "hostile-%s", kb_kinds[k].name);
		seed_batch(dir, path, q.data, q.len);
	}
	klog_buf_free(&q);
}

static const char *
errname(int e)
{
	switch (e) {
	case 0: return "ok";
	case EILSEQ: return "EILSEQ";
	case EBADMSG: return "EBADMSG";
	case ENOTSUP: return "ENOTSUP";
	default: return "?";
	}
}

int
main(int argc, char **argv)
{
	struct klog_buf out = { 0 };
	char err[KLOG_ERRLEN] = "";
	int64_t n;
	int k, codec = KLOG_CODEC_NONE;

	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "seed")) {
		seed(argv[2], argc == 4 ? argv[3] : "");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (k = 0; k < KB_NKINDS; k++)
			printf("%s\t%s\t%s\t%s\t%s\n", kb_kinds[k].name, errname(kb_kinds[k].client),
			    errname(kb_kinds[k].disk), kb_kinds[k].msg, kb_kinds[k].what);
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "good")) {
		if (klog_parse_i64(argv[2], &n) < 0 || n < 0 || n > 10000000)
			usage();
		if (argc == 4 && (codec = klog_codec_parse(argv[3])) < 0)
			usage();
		if (kb_good(&out, (int)n, codec, err) < 0) {
			fprintf(stderr, "kbatch: %s\n", err);
			return 1;
		}
	} else if (argc == 3 && !strcmp(argv[1], "hostile")) {
		if ((k = kb_kind(argv[2])) < 0)
			usage();
		if (kb_hostile(k, &out, err) < 0) {
			fprintf(stderr, "kbatch: %s: %s\n", argv[2], err);
			return 1;
		}
	} else
		usage();
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		fprintf(stderr, "kbatch: cannot write: %s\n", strerror(errno));
		return 1;
	}
	klog_buf_free(&out);
	return 0;
}
