# klog - one flat makefile.  make; make test; make install PREFIX=... DESTDIR=...
# make demo; make bench; make clean.  SANITIZE=1 builds with ASan and UBSan.
#
# libklog/ builds two things:
#   libklog.a, libklog.so.$(SOMAJOR) -- the embedding library, klog.h (installed,
#     with klog.pc); objects built -fPIC -fvisibility=hidden, so the shared
#     object exports what klog.h declares and nothing else;
#   libkserver.a -- the event loop, the protocol's request side, the broker
#     (and its followers: the loop's client lclient.c, fetcher.c),
#     and the helpers that print and exit (cmdutil.h, kserver.h; not
#     installed), linked by the tools and the tests only.
# The tools link both archives statically, so they run from the build tree.

CC ?= cc
CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
	-Wstrict-prototypes -Wmissing-prototypes -Ilibklog
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/klog
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

BINS = ktopic kproduce kconsume kgroup kdump kbrokerd kreplicate
MAN1 = $(patsubst %,man/%.1,$(filter-out kbrokerd,$(BINS)))
MAN8 = man/kbrokerd.8
MAN57 = man/klog.5 man/klog.7
MAN3 = man/klog.3

VERSION = 0.1.0
SOMAJOR = 0
SONAME = libklog.so.$(SOMAJOR)
SOFILE = libklog.so.$(VERSION)

ifeq ($(SANITIZE),1)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
endif

# optional codecs: on when the Debian -dev package is installed
have = $(shell echo '\#include <$(1)>' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
LDLIBS = -lz -lxxhash -lpthread
PCLIBS = -lz -lxxhash  # Libs.private: what a static link of libklog.a needs (no threads in it)
ifeq ($(call have,zstd.h),1)
override CFLAGS += -DHAVE_ZSTD
LDLIBS += -lzstd
PCLIBS += -lzstd
endif
ifeq ($(call have,lz4frame.h),1)
override CFLAGS += -DHAVE_LZ4
LDLIBS += -llz4
PCLIBS += -llz4
endif
ifeq ($(call have,snappy-c.h),1)
override CFLAGS += -DHAVE_SNAPPY
LDLIBS += -lsnappy
PCLIBS += -lsnappy -lstdc++ -lm   # snappy is C++
endif

# the embedding library, and the server side (not installed)
SERVSRC = libklog/loop.c libklog/proto.c libklog/cmdutil.c libklog/cmd-member.c libklog/cmd-exec.c \
	libklog/lclient.c libklog/fetcher.c $(wildcard libklog/broker*.c)
LIBSRC = $(filter-out $(SERVSRC),$(sort $(wildcard libklog/*.c)))
LIBOBJ = $(LIBSRC:.c=.o)
SERVOBJ = $(SERVSRC:.c=.o)
KLIBS = libklog/libkserver.a libklog/libklog.a
CTESTS = $(patsubst %.c,%.t,$(sort $(wildcard tests/t*.c)))
HELPERS = tests/ktest tests/kswitch tests/kbclient tests/kfakenode tests/notify-listen tests/kbatch tests/kgroupdrv tests/libfault.so \
	tests/kpowercut tests/kfaultprobe tests/kgroupr tests/kgmember

all: $(BINS) libklog/libklog.a libklog/$(SOFILE) libklog/klog.pc

$(LIBOBJ) $(SERVOBJ): libklog/klog.h libklog/internal.h libklog/kserver.h
$(filter libklog/broker%,$(SERVOBJ)): libklog/broker.h
$(filter libklog/partition%,$(LIBOBJ)) libklog/compact.o: libklog/partition.h
$(filter libklog/group%,$(LIBOBJ)): libklog/group.h libklog/group-local.h
libklog/cmdutil.o: libklog/cmdutil.h
libklog/cmd-member.o libklog/cmd-exec.o: libklog/cmdutil.h libklog/cmdgroup.h
# one set of objects serves the archive and the shared object
$(LIBOBJ) $(SERVOBJ): override CFLAGS += -fPIC -fvisibility=hidden

libklog/libklog.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $^
libklog/libkserver.a: $(SERVOBJ)
	rm -f $@
	$(AR) rcs $@ $^
# --no-undefined: the library must not lean on libkserver.a (or anything unlisted)
libklog/$(SOFILE): $(LIBOBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -Wl,--as-needed \
		-o $@ $^ $(LDLIBS)
	ln -sf $(SOFILE) libklog/$(SONAME)
	ln -sf $(SONAME) libklog/libklog.so

# pkg-config file; written again at install time for that PREFIX
PCFMT = 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: klog\nDescription: Kafka log directories from C\nVersion: $(VERSION)\nLibs: -L$${libdir} -lklog\nLibs.private: %s\nCflags: -I$${includedir}\n'
libklog/klog.pc: Makefile
	printf $(PCFMT) '$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' '$(PCLIBS)' > $@

$(BINS): %: cmd/%.o $(KLIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(KLIBS) $(LDLIBS)
cmd/%.o: cmd/%.c libklog/klog.h libklog/cmdutil.h libklog/cmdgroup.h libklog/kserver.h
	$(CC) $(CFLAGS) -c -o $@ $<

tests/%.t: tests/%.c tests/tap.h tests/kbatch.h $(KLIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KLIBS) $(LDLIBS)
tests/ktest: tests/ktest.c $(KLIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KLIBS) $(LDLIBS)
tests/kbclient tests/kfakenode tests/notify-listen tests/kbatch tests/kgroupdrv tests/kgroupr tests/kgmember: %: %.c tests/kbatch.h $(KLIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KLIBS) $(LDLIBS)
# the fault and power-loss shim (LD_PRELOAD): never sanitized, it must load into anything
tests/libfault.so: tests/fault.c tests/shadow.h
	$(CC) $(filter-out -fsanitize=% -fno-sanitize%,$(CFLAGS)) -fPIC -shared \
		$(filter-out -fsanitize=%,$(LDFLAGS)) -o $@ $< -ldl -lpthread
tests/kpowercut: tests/kpowercut.c tests/shadow.h
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
tests/kswitch: tests/kswitch.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
tests/kfaultprobe: tests/kfaultprobe.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# libFuzzer targets (clang, ASan, UBSan): the protocol parser, batch parsing
# and validation, the decompressors, appends read back, __consumer_offsets
# records.  make fuzz runs each
# for FUZZTIME seconds (default 20) on its corpus in tests/fuzz-corpus/
# (ignored), seeded by kbatch from the Kafka fixture and klog's own batches;
# a crash stops make and leaves the input in tests/fuzz-corpus/TARGET-crash-*.
FUZZTIME ?= 20
FUZZ = proto batch codec append offsets
FUZZCC ?= clang
FUZZFIXTURE ?= ../shared/fixtures/kafka-logdir
FUZZCFLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -Ilibklog $(filter -DHAVE_%,$(CFLAGS)) \
	-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZOPTS_proto = -max_len=4096
FUZZOPTS_batch = -max_len=65536
FUZZOPTS_codec = -max_len=65536
FUZZOPTS_append = -max_len=16384
FUZZOPTS_offsets = -max_len=4096
FUZZOBJ = $(patsubst libklog/%.c,tests/fuzz-obj/%.o,$(LIBSRC) $(SERVSRC))

fuzz: $(FUZZ:%=fuzz-%)
fuzz-seed: tests/kbatch
	./tests/kbatch seed tests/fuzz-corpus $(FUZZFIXTURE)
$(FUZZ:%=fuzz-%): fuzz-%: tests/fuzz-% fuzz-seed
	@echo "== fuzz-$*, $(FUZZTIME) s"
	@mkdir -p tests/fuzz-corpus/$*
	@./tests/fuzz-$* -max_total_time=$(FUZZTIME) -print_final_stats=1 $(FUZZOPTS_$*) \
		-artifact_prefix=tests/fuzz-corpus/$*- tests/fuzz-corpus/$* \
		>tests/fuzz-corpus/$*.log 2>&1 || { tail -n 80 tests/fuzz-corpus/$*.log; exit 1; }
	@grep -E '^#[0-9]+[[:space:]]+INITED' tests/fuzz-corpus/$*.log
	@grep -E '^#[0-9]+[[:space:]].* cov: ' tests/fuzz-corpus/$*.log | tail -n 1
	@grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^fuzz-' \
		tests/fuzz-corpus/$*.log
tests/fuzz-obj/%.o: libklog/%.c libklog/klog.h libklog/internal.h libklog/kserver.h \
		libklog/cmdutil.h libklog/cmdgroup.h libklog/broker.h libklog/partition.h
	@mkdir -p tests/fuzz-obj
	$(FUZZCC) $(FUZZCFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
tests/fuzz-obj/libklog.a: $(FUZZOBJ)
	rm -f $@
	$(AR) rcs $@ $^
$(FUZZ:%=tests/fuzz-%): tests/fuzz-%: tests/fuzz-%.c tests/fuzz-obj/libklog.a
	$(FUZZCC) $(FUZZCFLAGS) -fsanitize=fuzzer -o $@ $< tests/fuzz-obj/libklog.a $(LDLIBS)

# Debian packages the build and the tests need; installed when missing and
# root.  pkg-config and g++: the embedding test (t0050) builds the man page's
# example through klog.pc, as C and as C++.  apt waits up to 10 minutes for
# another apt or dpkg to let go of its locks instead of failing at once.
DEBS = gcc g++ make libc6-dev pkg-config strace zlib1g-dev libxxhash-dev libzstd-dev liblz4-dev libsnappy-dev \
	perl procps time python3
APT = DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
deps:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing:" $$missing; \
			n=0; until $(APT) update -qq; do \
				n=$$((n + 1)); [ $$n -lt 60 ] || exit 1; \
				echo "apt-get update failed (another apt running?), again in 10 s"; sleep 10; \
			done; \
			$(APT) install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "warning: missing Debian packages:" $$missing; fi; \
	fi

# the scenarios that reach the log only through the tools run twice:
# embedded, then through a kbrokerd (KLOG_TEST_REMOTE, see tests/lib.sh);
# CHECK_REMOTE=0 skips the second run (CI's sanitizer pass, for time)
REMOTE_TESTS = $(sort $(wildcard tests/t1*.t tests/t2*.t tests/t3*.t tests/t8000-*.t tests/t9*.t))
CHECK_REMOTE ?= 1

PROVEFLAGS ?= --failures --comments

check: all $(CTESTS) $(HELPERS)
	PATH="$(CURDIR):$(CURDIR)/tests:$$PATH" prove $(PROVEFLAGS) tests/ </dev/null
	test "$(CHECK_REMOTE)" = 0 || \
	PATH="$(CURDIR):$(CURDIR)/tests:$$PATH" KLOG_TEST_REMOTE=1 prove $(PROVEFLAGS) $(REMOTE_TESTS) </dev/null

test: deps
	$(MAKE) check

demo: deps
	$(MAKE) all
	./share/demo.sh

# share/bench*.sh run the tools and tests/kbclient (latency, load) from this tree
BENCH_HELPERS = tests/kbclient
bench: deps
	$(MAKE) all $(BENCH_HELPERS)
	./share/bench.sh

# the library with its soname and dev links; the systemd units start the
# kbrokerd installed here (BINDIR), not /usr/local/bin's
install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) $(DESTDIR)$(DATADIR)
	install -m0755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m0644 libklog/libklog.a $(DESTDIR)$(LIBDIR)
	install -m0755 libklog/$(SOFILE) $(DESTDIR)$(LIBDIR)
	ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libklog.so
	printf $(PCFMT) '$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' '$(PCLIBS)' > $(DESTDIR)$(LIBDIR)/pkgconfig/klog.pc
	install -m0644 libklog/klog.h $(DESTDIR)$(INCDIR)
	install -m0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m0644 $(MAN3) $(DESTDIR)$(MANDIR)/man3
	install -m0644 man/*.5 $(DESTDIR)$(MANDIR)/man5
	install -m0644 man/*.7 $(DESTDIR)$(MANDIR)/man7
	install -m0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8
	install -m0644 completions/klog.bash $(DESTDIR)$(BASHCOMPDIR)/klog
	for b in $(BINS); do ln -sf klog $(DESTDIR)$(BASHCOMPDIR)/$$b; done
	install -m0644 completions/_klog $(DESTDIR)$(ZSHCOMPDIR)
	install -m0644 completions/klog.fish $(DESTDIR)$(FISHCOMPDIR)
	for b in $(BINS); do ln -sf klog.fish $(DESTDIR)$(FISHCOMPDIR)/$$b.fish; done
	cp -R share/. $(DESTDIR)$(DATADIR)
	for u in kbrokerd.service kbrokerd@.service kbrokerd.socket; do \
		sed 's|/usr/local/bin/|$(BINDIR)/|g' share/$$u > $(DESTDIR)$(DATADIR)/$$u || exit 1; \
	done

clean:
	rm -f $(BINS) cmd/*.o libklog/*.o libklog/*.a libklog/libklog.so* libklog/klog.pc \
		tests/*.t.tmp \
		$(CTESTS) $(HELPERS) $(FUZZ:%=tests/fuzz-%)
	rm -rf tests/fuzz-corpus tests/fuzz-obj
	rm -rf tests/trash.* demo-data

.PHONY: all check test demo bench install clean deps fuzz fuzz-seed $(FUZZ:%=fuzz-%)
