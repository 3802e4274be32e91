# Switchboard build. `make` builds the library, the server and the examples;
# `make run` and `make test` also install missing system and npm dependencies.

CC      ?= cc
PREFIX  ?= /usr/local
PKGS    := openssl zlib jansson sqlite3
# libpq stays out of switchboard.pc's Requires: its static link line names
# libpgcommon/libpgport, which Debian ships only with the server headers, so
# the .pc file lists -lpq (the shared library) in Libs.private instead.
ALL_PKGS := $(PKGS) libpq
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Wvla
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Isrc -Iinclude $(WARN) -pthread \
               $(shell pkg-config --cflags $(ALL_PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(ALL_PKGS) 2>/dev/null || echo -lssl -lcrypto -lz -ljansson -lsqlite3 -lpq) -pthread -lm

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

.PHONY: all lib run test test-unit test-asan deps install clean check-layers format soak fuzz bench

all: $(B)/switchboard $(B)/libswitchboard.a $(B)/switchboard.pc $(UNIT_BIN) $(EX_BIN)

lib: $(B)/libswitchboard.a

# Examples see the public header only, as an embedder does.
EX_CFLAGS := $(filter-out -Isrc,$(CFLAGS))
# The library's version, from the public header.
VERSION := $(shell sed -n 's/^\#define SB_VERSION_STRING "\(.*\)"/\1/p' include/switchboard.h)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Every object, every symbol: for the switchboard binary and the unit tests.
$(B)/libswitchboard_internal.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The installed library: one relocatable object in which only the functions
# declared in include/switchboard.h stay global (tests/symbols_check.sh).
$(B)/switchboard.sym: include/switchboard.h scripts/public-symbols.sh
	@mkdir -p $(B)
	scripts/public-symbols.sh $< > $@

$(B)/libswitchboard.a: $(LIB_OBJ) $(B)/switchboard.sym
	@rm -f $@ $(B)/switchboard.o
	$(LD) -r -o $(B)/switchboard.o $(LIB_OBJ)
	objcopy --keep-global-symbols=$(B)/switchboard.sym $(B)/switchboard.o
	ar rcs $@ $(B)/switchboard.o

$(B)/switchboard: $(B)/obj/src/main.o $(B)/libswitchboard_internal.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libswitchboard_internal.a tests/unit/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(B)/libswitchboard_internal.a $(LDFLAGS) $(LDLIBS)

$(B)/examples/%: examples/%.c $(B)/libswitchboard.a include/switchboard.h
	@mkdir -p $(dir $@)
	$(CC) $(EX_CFLAGS) -o $@ $< $(B)/libswitchboard.a $(LDFLAGS) $(LDLIBS)

$(B)/switchboard.pc: scripts/switchboard.pc.in include/switchboard.h
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PKGS@|$(PKGS)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

-include $(LIB_OBJ:.o=.d) $(B)/obj/src/main.d

deps:
	@scripts/install-deps.sh

run: deps all
	@mkdir -p data
	$(B)/switchboard --port $${SWITCHBOARD_PORT:-3000} --data-dir ./data $${SWITCHBOARD_JWT_SECRET:+--jwt-secret "$$SWITCHBOARD_JWT_SECRET"} $${SWITCHBOARD_JWT_SECRET:---dev}

# Every suite, first on the optimized build, then under AddressSanitizer + UBSan.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory MODE=asan B=build/asan all
	@scripts/check-layers.sh
	@tests/run.sh build build/asan

test-asan: deps
	@$(MAKE) --no-print-directory MODE=asan B=build/asan all
	@tests/run.sh build/asan

# Side by side with Node.js Socket.IO and uWebSockets.js (bench/README.md).
bench: deps all
	bench/run.sh

# Churn and soak: thousands of clients for a minute (SOAK_CLIENTS, SOAK_SECONDS).
soak: deps all
	node tests/e2e/soak.mjs --clients $${SOAK_CLIENTS:-2000} --seconds $${SOAK_SECONDS:-60} --build $(B)

# libFuzzer targets for every codec (clang): FUZZ_SECONDS each, two at a time.
fuzz: deps
	FUZZ_JOBS=$${FUZZ_JOBS:-2} tests/fuzz/run.sh $${FUZZ_SECONDS:-60}

check-layers:
	@scripts/check-layers.sh

# One header is the whole contract (docs/embedding.md); the library exports
# nothing else.
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(B)/libswitchboard.a $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PKGS@|$(PKGS)|g' -e 's|@VERSION@|$(VERSION)|g' \
		scripts/switchboard.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/switchboard.pc
	install -m 755 $(B)/switchboard $(DESTDIR)$(PREFIX)/bin/
	install -D -m 644 include/switchboard.h $(DESTDIR)$(PREFIX)/include/switchboard.h

format:
	clang-format -i $(shell find src include tests examples bench -name '*.[ch]')

clean:
	rm -rf build
