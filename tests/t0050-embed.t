#!/bin/sh
# klog - libklog as others link it: make install, pkg-config, C and C++. MIT licence.

test_description='the installed library: soname, exports, klog.pc, the man page example in C and C++, a static link'
. "$(dirname "$0")/lib.sh"

# a sanitized build's libklog.so needs the ASan runtime loaded first, which
# a program built through klog.pc does not have
if nm -D "$TOP/libklog/libklog.so" 2>/dev/null | grep -q '__asan_init\|__ubsan_handle'; then
	test_skip_all 'libklog.so is built with sanitizers (SANITIZE=1)'
fi
command -v cc >/dev/null || test_skip_all 'no cc'
command -v make >/dev/null || test_skip_all 'no make'
command -v pkg-config >/dev/null && test_set_prereq PKGCONFIG
if command -v c++ >/dev/null && printf 'int main() { return 0; }\n' >probe.cc &&
    c++ -o probe probe.cc 2>/dev/null; then
	test_set_prereq CXX
fi
if printf 'int main(void) { return 0; }\n' >probe.c && cc -static -o probe probe.c 2>/dev/null; then
	test_set_prereq STATIC
fi

R="$TRASH/root"
LIB="$R/usr/local/lib"

# through pkg-config on the tree installed under $R
kpc() {
	PKG_CONFIG_PATH="$LIB/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$R" pkg-config "$@"
}

cat >expect <<\EOT
greetings-0 offset 0: k0 = one [lang: en]
greetings-0 offset 1: k1 = two [lang: en]
greetings-0 offset 2: k2 = three [lang: en]
EOT

test_expect_success 'make install DESTDIR PREFIX=/usr/local' '
	make -s -C "$TOP" install DESTDIR="$R" PREFIX=/usr/local >install.out 2>&1 &&
	test -f "$LIB/libklog.so.0.1.0" &&
	test "$(readlink "$LIB/libklog.so.0")" = libklog.so.0.1.0 &&
	test "$(readlink "$LIB/libklog.so")" = libklog.so.0 &&
	test -f "$LIB/libklog.a" &&
	test -f "$R/usr/local/include/klog.h" &&
	test -f "$LIB/pkgconfig/klog.pc" &&
	test -f "$R/usr/local/share/man/man3/klog.3" &&
	test -f "$R/usr/local/share/klog/examples/klog-example.c" &&
	test -x "$R/usr/local/bin/kbrokerd" &&
	! test -e "$R/usr/local/include/kserver.h" &&
	! test -e "$R/usr/local/include/cmdutil.h" &&
	! test -e "$LIB/libkserver.a"
'

test_expect_success 'the soname is libklog.so.0' '
	LC_ALL=C readelf -d "$LIB/libklog.so.0.1.0" >dyn &&
	grep -q "SONAME.*\[libklog\.so\.0\]" dyn
'

test_expect_success 'libklog.so exports what klog.h declares, nothing that prints, exits or serves' '
	nm -D --defined-only "$LIB/libklog.so.0.1.0" | awk "{ print \$NF }" | sort >exported &&
	test -s exported &&
	# every exported name is klog_..., and declared in the installed header
	! grep -v "^klog_" exported &&
	while read -r f; do
		grep -q "[ *]$f(" "$R/usr/local/include/klog.h" || echo "$f"
	done <exported >undeclared &&
	test_cmp /dev/null undeclared &&
	! grep -E "^klog_(cmd|broker|loop|proto|net|verb)_" exported &&
	! grep -E "^klog_(cmd|broker|loop|proto|net)_" "$R/usr/local/include/klog.h" &&
	# and it does not reach for them either
	nm -D --undefined-only "$LIB/libklog.so.0.1.0" | awk "{ sub(/@.*/, \"\", \$NF); print \$NF }" \
		>imported &&
	grep -q "^snprintf$" imported &&
	! grep "^klog_" imported &&
	! grep -E "^(exit|_exit|abort|printf|vprintf|fprintf|vfprintf|puts|fputs|perror|stderr|stdout|syslog)$" \
		imported
'

test_expect_success 'the units name the BINDIR they were installed with' '
	make -s -C "$TOP" install DESTDIR="$TRASH/opt" PREFIX=/opt/klog >install2.out 2>&1 &&
	U="$TRASH/opt/opt/klog/share/klog" &&
	grep -q "^ExecStart=/opt/klog/bin/kbrokerd " "$U/kbrokerd.service" &&
	grep -q "^ExecStart=/opt/klog/bin/kbrokerd " "$U/kbrokerd@.service" &&
	! grep -n /usr/local "$U/kbrokerd.service" "$U/kbrokerd@.service" "$U/kbrokerd.socket" &&
	grep "^libdir=/opt/klog/lib$" "$TRASH/opt/opt/klog/lib/pkgconfig/klog.pc"
'

test_expect_success 'the example in klog(3) is share/examples/klog-example.c, verbatim' '
	sed -n "/^\.\\\\\" example begins/,/^\.\\\\\" example ends/p" "$TOP/man/klog.3" |
		sed "1,2d;\$d" | sed "\$d" | sed "s/\\\\e/\\\\/g; s/^\\\\&//" >from-man.c &&
	test $(wc -l <from-man.c) -gt 30 &&
	test_cmp "$TOP/share/examples/klog-example.c" from-man.c &&
	test_cmp "$TOP/share/examples/klog-example.c" "$R/usr/local/share/klog/examples/klog-example.c"
'

test_expect_success PKGCONFIG 'klog.pc: -lklog with no extra flags, Libs.private for a static link' '
	kpc --cflags --libs klog >flags &&
	grep -q -- "-I$R/usr/local/include" flags &&
	grep -q -- "-L$LIB -lklog" flags &&
	! grep -q -- "-lz" flags &&
	kpc --static --libs klog >sflags &&
	grep -q -- "-lklog .*-lz" sflags
'

test_expect_success PKGCONFIG 'the example builds as C against libklog.so and runs' '
	cc -Wall -Wextra -Werror -o example from-man.c $(kpc --cflags --libs klog) &&
	LC_ALL=C readelf -d example >dyn &&
	grep -q "NEEDED.*\[libklog\.so\.0\]" dyn &&
	LD_LIBRARY_PATH="$LIB" ./example "$TRASH/c-log" >actual &&
	test_cmp expect actual &&
	# a second run appends three more
	LD_LIBRARY_PATH="$LIB" ./example "$TRASH/c-log" >actual &&
	test $(wc -l <actual) -eq 6 &&
	grep -q "^greetings-0 offset 5: k2 = three \[lang: en\]$" actual
'

test_expect_success PKGCONFIG 'it runs on the installed libklog.so.0, not on another' '
	if test -e /usr/local/lib/libklog.so.0 || test -e /usr/lib/libklog.so.0; then
		echo "# a libklog.so.0 is installed system-wide: not checked"
	else
		! env LD_LIBRARY_PATH= ./example "$TRASH/c-log2" >out 2>err &&
		grep -q "libklog\.so\.0" err
	fi
'

test_expect_success PKGCONFIG,CXX 'the example builds as C++ and runs' '
	cp from-man.c example.cc &&
	c++ -Wall -Wextra -Werror -o example-cxx example.cc $(kpc --cflags --libs klog) &&
	LD_LIBRARY_PATH="$LIB" ./example-cxx "$TRASH/cxx-log" >actual &&
	test_cmp expect actual
'

test_expect_success PKGCONFIG,STATIC 'pkg-config --static links the archive' '
	cc -static -o example-static from-man.c $(kpc --static --cflags --libs klog) 2>static.err &&
	LC_ALL=C readelf -d example-static >dyn 2>&1;
	! grep -q NEEDED dyn &&
	env LD_LIBRARY_PATH= ./example-static "$TRASH/static-log" >actual &&
	test_cmp expect actual
'

test_done
