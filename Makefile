# Switchboard build. `make` builds the library, the server and the examples;
# `make run` and `make test` also install missing system and npm dependencies.

CC      ?= cc
PREFIX  ?= /usr/local
PKGS    := openssl zlib jansson sqlite3 hiredis msgpack
# libpq and libcurl stay out of switchboard.pc's Requires: their static link
# lines name libraries Debian ships only with other -dev packages (libpq:
# libpgcommon/libpgport; libcurl: ldap, zstd, ...), so the .pc file lists
# -lpq and -lcurl (the shared libraries) in Libs.private instead.
ALL_PKGS := $(PKGS) libpq libcurl
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Wvla
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Isrc -Iinclude $(WARN) -pthread \
               $(shell pkg-config --cflags $(ALL_PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(ALL_PKGS) 2>/dev/null || echo -lssl -lcrypto -lz -ljansson -lsqlite3 -lhiredis -lmsgpackc -lcurl -lpq) -pthread -lm

# Short build lines ("  CC  src/core/log.c"); make V=1 prints the commands.
V ?= 0
ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
endif

# Release build in build/, sanitizer build in build/asan/.
B       ?= build
MODE    ?= release
ifeq ($(MODE),asan)
CFLAGS  := $(CFLAGS_BASE) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DSB_DEBUG
LDFLAGS := -fsanitize=address,undefined
else
CFLAGS  := $(CFLAGS_BASE) -O2 -g
LDFLAGS :=
endif

LIB_SRC  := $(shell find src -name '*.c' ! -path src/main.c | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
EX_SRC   := $(sort $(wildcard examples/*.c))
EX_BIN   := $(EX_SRC:examples/%.c=$(B)/examples/%)

.PHONY: FORCE all lib run run-deps test test-unit test-asan deps install clean check-layers format format-check soak fuzz bench bench-cluster100k

all: $(B)/switchboard $(B)/libswitchboard.a $(B)/switchboard.pc $(UNIT_BIN) $(EX_BIN)

lib: $(B)/libswitchboard.a

# Examples see the public header only, as an embedder does.
EX_CFLAGS := $(filter-out -Isrc,$(CFLAGS))
# The library's version, from the public header.
VERSION := $(shell sed -n 's/^\#define SB_VERSION_STRING "\(.*\)"/\1/p' include/switchboard.h)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Every object, every symbol: for the switchboard binary and the unit tests.
$(B)/libswitchboard_internal.a: $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

# The installed library: one relocatable object in which only the functions
# declared in include/switchboard.h stay global (tests/symbols_check.sh).
$(B)/switchboard.sym: include/switchboard.h scripts/public-symbols.sh
	@mkdir -p $(B)
	$(call say,GEN,$@)
	$(Q)scripts/public-symbols.sh $< > $@

$(B)/libswitchboard.a: $(LIB_OBJ) $(B)/switchboard.sym
	@rm -f $@ $(B)/switchboard.o
	$(call say,AR,$@)
	$(Q)$(LD) -r -o $(B)/switchboard.o $(LIB_OBJ)
	$(Q)objcopy --keep-global-symbols=$(B)/switchboard.sym $(B)/switchboard.o
	$(Q)ar rcs $@ $(B)/switchboard.o

# The Socket.IO browser client from the pinned npm package, compiled into the
# binary only (not the library). Looked at on every make, since npm may bring
# it during this very run (make run); the source changes only when it did.
BROWSER_CLIENT := scripts/browser-client/node_modules/socket.io-client/dist/socket.io.min.js
$(B)/gen/browser_client.c: FORCE
	@mkdir -p $(dir $@)
	@scripts/gen-browser-client.sh $(BROWSER_CLIENT) > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; printf '  %-7s %s\n' GEN $@; fi

FORCE:

$(B)/gen/browser_client.o: $(B)/gen/browser_client.c
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(B)/switchboard: $(B)/obj/src/main.o $(B)/gen/browser_client.o $(B)/libswitchboard_internal.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libswitchboard_internal.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(B)/libswitchboard_internal.a $(LDFLAGS) $(LDLIBS)
# test_pg_store is test_store.c's tests against PostgreSQL.
$(B)/tests/test_pg_store: tests/unit/test_store.c tests/unit/testlib_pg.h
$(B)/tests/test_pg_schema: tests/unit/testlib_pg.h

$(B)/examples/%: examples/%.c $(B)/libswitchboard.a include/switchboard.h
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(EX_CFLAGS) -o $@ $< $(B)/libswitchboard.a $(LDFLAGS) $(LDLIBS)

$(B)/switchboard.pc: scripts/switchboard.pc.in include/switchboard.h
	@mkdir -p $(B)
	$(call say,GEN,$@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PKGS@|$(PKGS)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

-include $(LIB_OBJ:.o=.d) $(B)/obj/src/main.d

deps:
	@scripts/install-deps.sh test

# Only what building and running needs; the test tools come with make test.
run-deps:
	@scripts/install-deps.sh run

# Prints the command it runs as it runs it (the secret itself is not shown).
run: run-deps all
	@mkdir -p data
	@set -- --port "$${SWITCHBOARD_PORT:-3000}" --data-dir ./data; \
	if [ -n "$${SWITCHBOARD_JWT_SECRET:-}" ]; then \
		echo "$(B)/switchboard $$* (secret from SWITCHBOARD_JWT_SECRET)"; \
	else \
		set -- "$$@" --dev; echo "$(B)/switchboard $$*"; \
	fi; \
	echo "open http://localhost:$${SWITCHBOARD_PORT:-3000} (the demo chat; /admin: the dashboard)"; \
	exec $(B)/switchboard "$$@"

# Every suite, first on the optimized build, then under AddressSanitizer + UBSan.
# The e2e suite runs on SQLite and again on PostgreSQL (all but PG_E2E_SKIP in
# tests/run.sh), in both builds.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory MODE=asan B=build/asan all
	@scripts/check-layers.sh
	@tests/run.sh build build/asan

test-asan: deps
	@$(MAKE) --no-print-directory MODE=asan B=build/asan all
	@tests/run.sh build/asan

# Side by side with Node.js Socket.IO and uWebSockets.js (bench/README.md);
# the cluster over Redis (bench/cluster.sh, then 100,000 connections on 6
# processes: bench/cluster100k.sh, alone as `make bench-cluster100k`); then
# stored messages on PostgreSQL against socket.io + pg (bench/store.mjs).
bench: deps all
	bench/run.sh
	node bench/tls.mjs
	[ "$${BENCH_CLUSTER:-1}" = 0 ] || bench/cluster.sh
	[ "$${BENCH_C100K:-1}" = 0 ] || bench/cluster100k.sh
	node bench/store.mjs

bench-cluster100k: deps all
	bench/cluster100k.sh

# Churn and soak: thousands of clients for a minute (SOAK_CLIENTS, SOAK_SECONDS),
# then delivery chaos: devices dropping and recovering while senders stream
# (CHAOS_USERS x 3 devices, CHAOS_SECONDS).
soak: deps all
	node tests/e2e/soak.mjs --clients $${SOAK_CLIENTS:-2000} --seconds $${SOAK_SECONDS:-60} --build $(B)
	node tests/e2e/chaos.mjs --users $${CHAOS_USERS:-200} --devices 3 --senders 40 --seconds $${CHAOS_SECONDS:-60} --upgrade --build $(B)

# libFuzzer targets for every codec (clang): FUZZ_SECONDS each, two at a time.
fuzz: deps
	FUZZ_JOBS=$${FUZZ_JOBS:-2} tests/fuzz/run.sh $${FUZZ_SECONDS:-60}

check-layers:
	@scripts/check-layers.sh

# One header is the whole contract (docs/embedding.md); the library exports
# nothing else. Also the man page and the systemd unit (contrib/).
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(B)/libswitchboard.a $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PKGS@|$(PKGS)|g' -e 's|@VERSION@|$(VERSION)|g' \
		scripts/switchboard.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/switchboard.pc
	install -m 755 $(B)/switchboard $(DESTDIR)$(PREFIX)/bin/
	install -D -m 644 include/switchboard.h $(DESTDIR)$(PREFIX)/include/switchboard.h
	install -D -m 644 docs/switchboard.1 $(DESTDIR)$(PREFIX)/share/man/man1/switchboard.1
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' contrib/switchboard.service.in \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/switchboard.service

format:
	clang-format -i $(shell find src include tests examples bench -name '*.[ch]')

# The C lines this branch changes against main follow .clang-format.
format-check:
	@tests/format_check.sh

clean:
	rm -rf build
