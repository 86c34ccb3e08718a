/* klog - what the mains in cmd/ share. Private: not installed. MIT licence. */
/*
 * The helpers that print and exit live in libkserver.a, linked by the
 * tools and tests only; libklog (klog.h) never prints and never exits.
 */
#ifndef KLOG_CMDUTIL_H
#define KLOG_CMDUTIL_H

#include "klog.h"

/* cmdutil.c: what the mains in cmd/ share (the one file that prints and exits) */
/* program name for messages; installs a warning printer ("PROG: warning: ...") */
void klog_cmd_init(const char *prog);
const char *klog_cmd_prog(void);
void klog_cmd_quiet(int quiet);                 /* no warnings */
/* print the library's routine events ("PROG: message"), hidden by default */
void klog_cmd_verbose(int verbose);
/* "PROG: message" on stderr */
void klog_cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void klog_cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void klog_cmd_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* "usage: SYNOPSIS" on stderr, exit 2 */
void klog_cmd_usage(const char *synopsis) __attribute__((noreturn));
void klog_cmd_version(void) __attribute__((noreturn));  /* "PROG 0.1.0", exit 0 */
/* -d DIR, else $KLOG_DIR, else exit 2 "no log directory: ..." */
const char *klog_cmd_dir(const char *opt);
struct klog_dir *klog_cmd_open_dir(const char *opt, int flags);        /* exit 1 on error */
/* -b BROKERS (else $KLOG_BROKERS unless -d was given): remote; else the
 * directory of klog_cmd_dir(dir); exit 1 on error */
struct klog_log *klog_cmd_open_log(const char *dir, const char *brokers, int flags);
int klog_cmd_write(int fd, const void *p, size_t n);   /* all of it; -1 errno */
/* progress of long work on stderr, only when it is a terminal: start
 * (total -1 when unknown: no percent), update with running counts (drawn
 * at most a few times a second, first after half a second), end (the
 * line ends with a newline, if one was drawn) */
void klog_cmd_progress_start(int64_t total_bytes);
void klog_cmd_progress(int64_t records, int64_t bytes);
void klog_cmd_progress_end(void);
void klog_cmd_progress_clear(void);     /* erase the line before other talk */

#endif
