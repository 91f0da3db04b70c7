# ingestd - a directory as a reliable, parallel job queue.
# Plain make + pkg-config. The user's CFLAGS/LDFLAGS are kept; ours are added.

VERSION    = 0.1.0
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR   ?=

CC        ?= cc
CFLAGS    ?= -O2 -g
PKGS       = libarchive yaml-0.1 libcurl expat libcrypto libnats
WARN       = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
# SANITIZE=1 builds everything under ASan + UBSan into build-asan/.
ifeq ($(SANITIZE),1)
BUILD     ?= build-asan
SANFLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD     ?= build
SANFLAGS   =
endif
FINAL_CFLAGS  = $(WARN) $(CFLAGS) $(SANFLAGS) $(shell pkg-config --cflags $(PKGS)) \
                -DINGESTD_VERSION='"$(VERSION)"' -MMD -MP
FINAL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LIBS          = $(shell pkg-config --libs $(PKGS)) -linotifytools -lrt

SRCS     = $(wildcard src/*.c)
OBJS     = $(SRCS:src/%.c=$(BUILD)/%.o)
LIBOBJS  = $(filter-out $(BUILD)/main.o,$(OBJS))
UNITSRCS = $(wildcard test/unit/test_*.c)
UNITBINS = $(UNITSRCS:test/unit/%.c=$(BUILD)/%)
FUZZSRCS = $(wildcard test/fuzz/fuzz_*.c)
FUZZBINS = $(FUZZSRCS:test/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60

# Debian 12 packages: what building needs, and what the whole test suite needs.
BUILD_DEPS = gcc make pkg-config libarchive-dev libyaml-dev libcurl4-openssl-dev libexpat1-dev libssl-dev \
             libinotifytools0-dev libnats-dev
TEST_DEPS  = $(BUILD_DEPS) clang libclang-rt-14-dev libcmocka-dev bats runit mandoc \
             zip unzip python3 libarchive-tools cppcheck clang-tidy inotify-tools \
             debhelper dh-runit lintian dpkg-dev fakeroot procps psmisc adduser systemd man-db \
             nginx-light curl nodejs jq xfsprogs strace ceph-mon ceph-osd radosgw nats-server
SUDO       = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all run check quick deps deps-test unit unit-asan integration asan lint mancheck \
        fuzz fuzz-smoke install uninstall deb deb-test bench bench-throughput bench-scale-out chaos \
        powercut faultinject clean FORCE

all: ingestd

# ingestd is a small launcher (src/launcher/) that blocks the daemon's signals
# and executes ingestd-core beside it, or the installed one: see its comment.
# Replace by rename: cp onto a running daemon fails with "Text file busy".
ingestd: $(BUILD)/ingestd $(BUILD)/ingestd-core
	cp $(BUILD)/ingestd-core ingestd-core.tmp && mv -f ingestd-core.tmp ingestd-core
	cp $(BUILD)/ingestd $@.tmp && mv -f $@.tmp $@

$(BUILD)/ingestd-core: $(OBJS)
	$(CC) $(FINAL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

# libc only, never sanitized: its whole point is to run before a loader would.
LAUNCHER = $(CC) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ src/launcher/ingestd.c \
	   -DINGESTD_CORE='"$(LIBEXECDIR)/ingestd/ingestd-core"'
$(BUILD)/ingestd: src/launcher/ingestd.c $(BUILD)/ingestd-core
	$(LAUNCHER)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(FINAL_CFLAGS) -c -o $@ $<

$(BUILD)/test_%: test/unit/test_%.c $(LIBOBJS) | $(BUILD)
	$(CC) $(FINAL_CFLAGS) -Isrc $(shell pkg-config --cflags cmocka) -o $@ $< $(LIBOBJS) \
	    $(FINAL_LDFLAGS) $(LIBS) $(shell pkg-config --libs cmocka)

$(BUILD) build-fuzz:
	mkdir -p $@

-include $(OBJS:.o=.d)

# --- set-up -----------------------------------------------------------------
define apt_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing missing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt_missing,$(BUILD_DEPS))

deps-test:
	$(call apt_missing,$(TEST_DEPS))
	@# npm ships inside NodeSource's nodejs; Debian's comes as its own package.
	@command -v npm >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends npm
	test/remote/install-s3rver

# Run the daemon in the foreground on ./spool with a demo handler.
run: deps
	$(MAKE) ingestd
	@mkdir -p spool/inbox
	@echo "ingestd: drop packets into $(CURDIR)/spool/inbox (e.g. cp x.zip spool/inbox/);"
	@echo "ingestd: the demo handler's output shows here and in spool/done/NAME.log;"
	@echo "ingestd: results appear in spool/done and spool/failed; Ctrl-C stops."
	./ingestd -c etc/demo.yml -d $(CURDIR)/spool

# --- tests ------------------------------------------------------------------
check: deps-test
	$(MAKE) all unit
	$(MAKE) SANITIZE=1 unit build-asan/ingestd
	$(MAKE) lint mancheck
	$(MAKE) fuzz-smoke
	$(MAKE) integration
	test/chaos/run short
	test/chaos/powercut short
	test/chaos/faultinject short
	$(MAKE) deb-test
	@echo "make check: all suites passed"

unit: $(UNITBINS)
	@set -e; for t in $(UNITBINS); do echo "== $$t"; ./$$t; done

# The integration suites run against the sanitized binary: every path the
# daemon takes under real signals is also checked for memory errors.
INGESTD_BIN ?= $(CURDIR)/build-asan/ingestd
integration:
	INGESTD=$(INGESTD_BIN) bats --timing test/integration

# The edit-build-test loop, about a minute: the unit tests and the suites of
# the daemon's own paths against the sanitized binary. No package, fuzz,
# chaos, remote, privilege or supervision suites: make check is the gate.
QUICK_SUITES = core signals inbox filing config handler hostile failures
quick:
	$(MAKE) unit
	$(MAKE) SANITIZE=1 build-asan/ingestd
	INGESTD=$(INGESTD_BIN) bats --timing $(QUICK_SUITES:%=test/integration/%.bats)

lint:
	test/logcheck.sh --self-test && test/logcheck.sh
	test/depcheck.py --self-test && test/depcheck.py
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --std=c11 --inline-suppr -D_GNU_SOURCE --suppress=missingIncludeSystem src
	echo $(SRCS) src/launcher/ingestd.c | tr ' ' '\n' | xargs -P 2 -n 1 sh -c 'clang-tidy --quiet "$$@" -- \
	    $(WARN) $(shell pkg-config --cflags $(PKGS)) -DINGESTD_VERSION="\"$(VERSION)\"" \
	    2>/dev/null' clang-tidy

mancheck:
	mandoc -T lint -W warning man/ingestd.8 man/ingestd.yml.5
	test/mancheck.sh

build-fuzz/fuzz_%: test/fuzz/fuzz_%.c $(filter-out src/main.c,$(SRCS)) | build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc \
	    $(shell pkg-config --cflags $(PKGS)) -DINGESTD_VERSION='"$(VERSION)"' \
	    -o $@ $< $(filter-out src/main.c,$(SRCS)) $(LIBS)

fuzz: $(FUZZBINS)
	@set -e; for f in $(FUZZBINS); do n=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus-$$n; \
	    ./$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 build-fuzz/corpus-$$n test/fuzz/corpus/$$n; done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=15

# Benchmarks against the peers a user would pick instead (see docs/BENCHMARKS.md).
# They work under build-bench/ (BENCH_DIR): the repository's own filesystem.
BENCH_DEPS = libarchive-dev libarchive-tools aria2 nginx-light xfsprogs linux-perf strace
bench: all
	$(call apt_missing,$(BENCH_DEPS))
	@rc=0; for b in test/bench/*; do [ -f "$$b" ] && [ -x "$$b" ] || continue; \
	    "$$b" || rc=1; done; exit $$rc

# Issue 10's figures: 2,000 and 20,000 packets on the repository's disk and,
# as root, on loop-mounted ext4 and xfs images.
BENCH_THROUGHPUT_ARGS ?= -n 2000,20000 $(if $(filter 0,$(shell id -u)),--fs repo --fs ext4 --fs xfs)
bench-throughput: all
	$(call apt_missing,$(BENCH_DEPS))
	test/bench/throughput $(BENCH_THROUGHPUT_ARGS)

# Issue 14's figures: 1, 2 and 3 hosts draining one bucket through NATS JetStream
# (s3rver and nats-server, from the test dependencies).
bench-scale-out: all
	test/bench/scale-out

chaos: all
	test/chaos/run full
	test/chaos/faultinject full

# Power cuts (FS_IOC_SHUTDOWN) on loop-mounted ext4 and xfs images; root only.
powercut: all
	test/chaos/powercut full

# Every call of one job, strict: the known failures of the current job core count too.
faultinject: all
	CHAOS_STRICT=1 test/chaos/faultinject full

# --- install and package ------------------------------------------------------
# The launcher is built again for where the core goes, whatever PREFIX the build had.
$(BUILD)/ingestd.install: src/launcher/ingestd.c FORCE
	$(LAUNCHER)
FORCE:

install: ingestd $(BUILD)/ingestd.install
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR)/ingestd $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/ingestd
	install -m 0755 $(BUILD)/ingestd.install $(DESTDIR)$(SBINDIR)/ingestd
	install -m 0755 ingestd-core $(DESTDIR)$(LIBEXECDIR)/ingestd/ingestd-core
	install -m 0644 man/ingestd.8 $(DESTDIR)$(MANDIR)/man8/ingestd.8
	install -m 0644 man/ingestd.yml.5 $(DESTDIR)$(MANDIR)/man5/ingestd.yml.5
	@# never overwrite an admin's config; a DESTDIR staging tree always gets it
	test -e $(DESTDIR)$(SYSCONFDIR)/ingestd/ingestd.yml || \
	    install -m 0644 etc/ingestd.yml $(DESTDIR)$(SYSCONFDIR)/ingestd/ingestd.yml

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ingestd $(DESTDIR)$(LIBEXECDIR)/ingestd/ingestd-core \
	    $(DESTDIR)$(MANDIR)/man8/ingestd.8 \
	    $(DESTDIR)$(MANDIR)/man5/ingestd.yml.5

# Built from a copy of what the package needs in build-deb/: dpkg-buildpackage
# cleans its tree first and writes its results to ../, and neither should touch
# the working tree (build/, ./ingestd) while other builds and tests use it.
DEB_SRC = Makefile src man etc debian
deb:
	rm -rf build-deb && mkdir -p build-deb/ingestd-$(VERSION) dist
	cp -a $(DEB_SRC) build-deb/ingestd-$(VERSION)/
	cd build-deb/ingestd-$(VERSION) && dpkg-buildpackage -us -uc -b
	mv build-deb/ingestd_$(VERSION)-*_*.deb dist/

# Needs root: builds, lints, installs, runs, removes and purges the package.
deb-test:
	test/deb/run.sh

clean:
	rm -rf build build-asan build-fuzz build-deb ingestd ingestd-core dist
