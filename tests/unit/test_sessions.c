/* The Engine.IO session and Socket.IO socket state machines, driven
 * directly. A real loop, HTTP server, Engine.IO server and Socket.IO server
 * run in this process; a session is opened by a real polling handshake over
 * loopback, then packets are handed to it straight (sb_eio__on_packet, the
 * Socket.IO handler's on_message): every packet type in every state,
 * including the ones a client must never send. After each step both deep
 * validators (sb_eio_session_validate, sb_sio_session_validate) must hold,
 * and corrupted states must be refused by them. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/err.h"
#include "core/loop.h"
#include "engineio/eio_internal.h"
#include "http/http.h"
#include "socketio/sio_internal.h"
#include "testlib.h"

typedef struct {
    sb_loop_t loop;
    sb_conn_ctx_t conns;
    sb_http_server_t *http;
    sb_ws_config_t ws;
    sb_eio_server_t *eio;
    sb_sio_server_t *sio;
    int port;
    /* what the handlers saw */
    int events, connections, disconnects, acks_answered, acks_cancelled;
    char last_disconnect[64];
} world_t;

static void on_echo(sb_sio_event_t *ev, void *ud) {
    world_t *w = ud;
    w->events++;
    if (ev->has_ack)
        sb_sio_reply(ev, SB_LIT("\"ok\""));
}

static void on_connection(sb_sio_socket_t *s, void *ud) { ((world_t *)ud)->connections++; }

static void on_disconnect(sb_sio_socket_t *s, const char *reason, void *ud) {
    world_t *w = ud;
    w->disconnects++;
    snprintf(w->last_disconnect, sizeof w->last_disconnect, "%s", reason);
}

static int refuse_all(sb_sio_socket_t *s, sb_str_t auth, sb_sio_refusal_t *why, void *ud) {
    snprintf(why->message, sizeof why->message, "locked");
    return SB_EAUTH;
}

static void on_ack(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud) {
    world_t *w = ud;
    if (ev)
        w->acks_answered++;
    else
        w->acks_cancelled++;
}

static void stop_loop(sb_timer_t *t) { sb_loop_stop(t->loop); }

/* Runs the loop for about `ms`: deferred closes, heartbeats, I/O. */
static void pump(world_t *w, uint64_t ms) {
    sb_timer_t t;
    sb_timer_init(&w->loop, &t, stop_loop);
    sb_timer_start(&t, ms);
    w->loop.stopping = false; /* the last pump stopped it */
    sb_loop_run(&w->loop);
    sb_timer_stop(&t);
}

static world_t *world_create(uint32_t ping_interval_ms, uint32_t ping_timeout_ms) {
    world_t *w = calloc(1, sizeof *w);
    if (!w || sb_loop_init(&w->loop) != SB_OK || sb_conn_ctx_init(&w->conns, &w->loop) != SB_OK)
        abort();
    sb_conn_limits_t limits = {.max_inbuf = 1 << 20, .max_outq = 1 << 20};
    sb_conn_ctx_set_limits(&w->conns, &limits);
    sb_http_config_t hc = {
        .limits = {.max_request_line = 8192, .max_head_bytes = 16384, .max_headers = 64},
        .max_body = 1 << 20,
        .header_timeout_ms = 5000,
        .keepalive_timeout_ms = 5000,
        .cors_origins = ""};
    w->ws = (sb_ws_config_t){.max_message = 1 << 20, .close_timeout_ms = 1000};
    sb_eio_config_t ec = {.ping_interval_ms = ping_interval_ms,
                          .ping_timeout_ms = ping_timeout_ms,
                          .upgrade_timeout_ms = 5000,
                          .max_payload = 1 << 20,
                          .max_queue_bytes = 1 << 20,
                          .allow_polling = true,
                          .allow_websocket = true,
                          .ws = &w->ws};
    sb_sio_config_t sc = {.connect_timeout_ms = 45000,
                          .max_attachments = 4,
                          .max_json_depth = 16,
                          .max_rooms_per_socket = 10,
                          .max_pending_acks = 3};
    w->http = sb_http_server_create(&w->conns, &hc);
    w->sio = sb_sio_server_create(&w->loop, &sc);
    w->eio = w->sio ? sb_eio_server_create(&w->loop, &ec, sb_sio_eio_handler(), w->sio) : NULL;
    if (!w->http || !w->eio ||
        sb_http_route_under(w->http, "/socket.io/", sb_eio_handle_request, w->eio) != SB_OK ||
        sb_http_listen(w->http, "127.0.0.1", 0) != SB_OK)
        abort();
    w->port = sb_http_bound_port(w->http);
    sb_sio_nsp_t *root = sb_sio_of(w->sio, "/");
    sb_sio_on(root, "echo", on_echo, w);
    sb_sio_on_connection(root, on_connection, w);
    sb_sio_on_disconnect(root, on_disconnect, w);
    sb_sio_use(sb_sio_of(w->sio, "/locked"), refuse_all, w);
    return w;
}

static void world_destroy(world_t *w) {
    sb_eio_server_close_all(w->eio);
    pump(w, 20);
    sb_http_server_destroy(w->http);
    sb_eio_server_destroy(w->eio);
    sb_sio_server_destroy(w->sio);
    sb_conn_ctx_dispose(&w->conns);
    sb_loop_dispose(&w->loop);
    free(w);
}

/* A polling handshake over loopback; returns the new session (NULL when
 * the server did not answer with an open packet in time). */
static sb_eio_session_t *handshake(world_t *w) {
    static const char req[] = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"
                              "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char buf[4096];
    size_t n = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return NULL;
    }
    for (int i = 0; i < 400 && !memmem(buf, n, "\"sid\":\"", 7); i++) { /* 2 s at most */
        pump(w, 5);
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, MSG_DONTWAIT);
        if (r > 0)
            n += (size_t)r;
    }
    close(fd);
    if (getenv("SB_TEST_TRACE"))
        fprintf(stderr, "handshake answer: %.*s\n", (int)n, buf);
    const char *at = memmem(buf, n, "\"sid\":\"", 7);
    if (!at || (size_t)(buf + n - at) < 7 + SB_EIO_SID_LEN)
        return NULL;
    char sid[SB_EIO_SID_LEN + 1];
    memcpy(sid, at + 7, SB_EIO_SID_LEN);
    sid[SB_EIO_SID_LEN] = '\0';
    return sb_eio__find(w->eio, sid);
}

static bool valid(world_t *w, sb_eio_session_t *s) {
    return sb_eio_session_validate(s) == SB_OK && sb_sio_session_validate(s) == SB_OK &&
           sb_eio_server_validate(w->eio) == SB_OK;
}

static bool packet(sb_eio_session_t *s, uint8_t type, const char *data) {
    sb_eio_packet_t p = {.type = type, .data = sb_cstr(data)};
    return sb_eio__on_packet(s, &p);
}

/* A Socket.IO packet as the client's text message. */
static void sio_text(sb_eio_session_t *s, const char *text) {
    sb_sio_eio_handler()->on_message(s, text, strlen(text), false);
}

static sb_sio_socket_t *root_socket(sb_eio_session_t *s) {
    sb_sio_client_t *c = sb_eio_get_data(s);
    return c ? sb_sio__client_socket(c, SB_LIT("/")) : NULL;
}

/* ---- Engine.IO sessions ------------------------------------------------------------- */

TEST(eio_open_session_valid_and_heartbeat_armed) {
    world_t *w = world_create(25000, 20000);
    sb_eio_session_t *s = handshake(w);
    CHECK(s != NULL);
    if (s) {
        CHECK(valid(w, s));
        CHECK_EQ(s->transport, SB_EIO_POLLING);
        CHECK(s->poll != NULL && !s->closing && !s->upgrading);
        CHECK(sb_timer_active(sb_eio__ping_timer(s)));
        CHECK(packet(s, SB_EIO_NOOP, ""));
        CHECK(packet(s, SB_EIO_PONG, "")); /* unasked: harmless, restarts the wait */
        CHECK(!s->awaiting_pong && sb_timer_active(sb_eio__ping_timer(s)));
        CHECK(valid(w, s));
    }
    CHECK_EQ(w->eio->count, 1);
    world_destroy(w);
}

/* Each packet a client must not send, or that ends the session, on its own
 * fresh session: the session closes with the right reason, stays valid
 * while closing, and is gone one loop turn later. */
TEST(eio_illegal_and_closing_packets_each_end_the_session) {
    static const struct {
        uint8_t type;
        const char *reason;
    } cases[] = {
        {SB_EIO_OPEN, "parse error"},      {SB_EIO_PING, "parse error"},
        {SB_EIO_UPGRADE, "parse error"},                       /* an upgrade packet over polling */
        {SB_EIO_CLOSE, "transport close"}, {9, "parse error"}, /* no such type */
    };
    world_t *w = world_create(25000, 20000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_eio_session_t *s = handshake(w);
        CHECK(s != NULL);
        if (!s)
            continue;
        size_t before = w->eio->count;
        CHECK(!packet(s, cases[i].type, ""));
        CHECK(s->closing && strcmp(s->close_reason, cases[i].reason) == 0);
        CHECK(valid(w, s));
        for (uint8_t t = SB_EIO_OPEN; t <= SB_EIO_NOOP; t++) /* and nothing after it */
            CHECK(!packet(s, t, "x"));
        CHECK_EQ(sb_eio_send_message(s, "late", 4, false), SB_ECLOSED);
        sb_eio_close(s, "again"); /* idempotent: the first reason stays */
        CHECK(strcmp(s->close_reason, cases[i].reason) == 0);
        char sid[SB_EIO_SID_LEN + 1];
        memcpy(sid, s->sid, sizeof sid);
        pump(w, 5);
        CHECK(sb_eio__find(w->eio, sid) == NULL);
        CHECK_EQ(w->eio->count, before - 1);
        CHECK_EQ(sb_eio_server_validate(w->eio), SB_OK);
    }
    world_destroy(w);
}

/* No pong: the session ends one ping interval plus one ping timeout after
 * its last pong, and a pong in time keeps it. The intervals leave a loaded
 * machine room for the second handshake, during which nobody answers the
 * first session's ping; the kept session is looked up again each turn so a
 * late pong shows as a failed check, not a read of a freed session. */
TEST(eio_heartbeat_timeout_and_pong_in_time) {
    world_t *w = world_create(250, 250);
    sb_eio_session_t *kept = handshake(w), *lost = handshake(w);
    CHECK(kept != NULL && lost != NULL);
    if (kept && lost) {
        char lost_sid[SB_EIO_SID_LEN + 1], kept_sid[SB_EIO_SID_LEN + 1];
        memcpy(lost_sid, lost->sid, sizeof lost_sid);
        memcpy(kept_sid, kept->sid, sizeof kept_sid);
        bool lost_valid = true, lost_seen_waiting = false;
        for (int i = 0; i < 300 && sb_eio__find(w->eio, lost_sid); i++) {
            pump(w, 10);
            kept = sb_eio__find(w->eio, kept_sid);
            CHECK(kept != NULL);
            if (!kept)
                break;
            if (kept->awaiting_pong)
                CHECK(packet(kept, SB_EIO_PONG, ""));
            if ((lost = sb_eio__find(w->eio, lost_sid)) != NULL) {
                lost_seen_waiting |= lost->awaiting_pong;
                lost_valid &= sb_eio_session_validate(lost) == SB_OK;
            }
            CHECK(valid(w, kept));
        }
        CHECK(lost_seen_waiting);
        CHECK(lost_valid);
        CHECK(sb_eio__find(w->eio, lost_sid) == NULL); /* timed out */
        CHECK(kept != NULL && !kept->closing);
        CHECK_EQ(w->eio->count, 1);
    }
    world_destroy(w);
}

TEST(eio_corrupted_session_is_refused) {
    world_t *w = world_create(25000, 20000);
    sb_eio_session_t *s = handshake(w);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(sb_eio_session_validate(s), SB_OK);
        s->probed = true; /* probed without an upgrade under way */
        CHECK_EQ(sb_eio_session_validate(s), SB_EPROTO);
        s->probed = false;
        s->poll->bytes++; /* a queue that miscounts its bytes */
        CHECK_EQ(sb_eio_session_validate(s), SB_EPROTO);
        s->poll->bytes--;
        sb_timer_stop(sb_eio__ping_timer(s));
        s->awaiting_pong = true; /* waiting for a pong nothing will time out */
        CHECK_EQ(sb_eio_session_validate(s), SB_EPROTO);
        s->awaiting_pong = false;
        s->closing = true; /* closing without a close queued */
        CHECK_EQ(sb_eio_session_validate(s), SB_EPROTO);
        s->closing = false;
        s->transport = SB_EIO_WEBSOCKET; /* websocket with polling state and no socket */
        CHECK_EQ(sb_eio_session_validate(s), SB_EPROTO);
        s->transport = SB_EIO_POLLING;
        w->eio->stats.active_polling++;
        CHECK_EQ(sb_eio_server_validate(w->eio), SB_EPROTO);
        w->eio->stats.active_polling--;
        char was = s->sid[3];
        s->sid[3] = '!'; /* not a sid: and no longer found under it */
        CHECK_EQ(sb_eio_session_validate(s), SB_EPROTO);
        CHECK_EQ(sb_eio_server_validate(w->eio), SB_EPROTO);
        s->sid[3] = was;
        CHECK_EQ(sb_eio_server_validate(w->eio), SB_OK);
    }
    world_destroy(w);
}

/* ---- Socket.IO sockets ---------------------------------------------------------------- */

TEST(sio_connect_event_ack_disconnect) {
    world_t *w = world_create(25000, 20000);
    sb_eio_session_t *s = handshake(w);
    CHECK(s != NULL);
    if (s) {
        CHECK(root_socket(s) == NULL);
        CHECK(valid(w, s));
        sio_text(s, "0");
        sb_sio_socket_t *sock = root_socket(s);
        CHECK(sock != NULL && sock->connected);
        CHECK_EQ(w->connections, 1);
        CHECK(valid(w, s));
        sio_text(s, "2[\"echo\",1]");
        sio_text(s, "21[\"echo\",2]"); /* with an ack id */
        CHECK_EQ(w->events, 2);
        sio_text(s, "399[\"nobody asked\"]"); /* an ack nothing awaits: ignored */
        CHECK(!s->closing && valid(w, s));
        CHECK_EQ(sb_sio_emit_with_ack(sock, "q", SB_LIT("1"), 10000, on_ack, w), SB_OK);
        CHECK_EQ(sb_sio_emit_with_ack(sock, "q", SB_LIT("2"), 10000, on_ack, w), SB_OK);
        CHECK_EQ(sock->nacks, 2);
        CHECK(valid(w, s));
        sio_text(s, "30[\"ok\"]");
        CHECK_EQ(w->acks_answered, 1);
        CHECK_EQ(sock->nacks, 1);
        CHECK(valid(w, s));
        sio_text(s, "1"); /* the client leaves: the awaited ack is cancelled */
        CHECK_EQ(w->acks_cancelled, 1);
        CHECK_EQ(w->disconnects, 1);
        CHECK(strcmp(w->last_disconnect, "client namespace disconnect") == 0);
        CHECK(root_socket(s) == NULL);
        CHECK(!s->closing && valid(w, s));
        sio_text(s, "0"); /* and may come back */
        CHECK(root_socket(s) != NULL);
        CHECK(valid(w, s));
    }
    world_destroy(w);
}

/* Each packet out of step with the namespace's state, on a fresh session:
 * the connection closes ("parse error"), the client stays valid until the
 * session goes. */
TEST(sio_out_of_step_packets_close_the_connection) {
    static const struct {
        const char *before, *hostile;
    } cases[] = {
        {"", "2[\"echo\"]"},           /* an event before CONNECT */
        {"", "30[]"},                  /* an ack before CONNECT */
        {"", "1"},                     /* a DISCONNECT before CONNECT */
        {"0", "0"},                    /* a second CONNECT */
        {"0", "4{}"},                  /* CONNECT_ERROR from a client */
        {"0", "9"},                    /* no such type */
        {"0", "2[\"echo\""},           /* malformed JSON */
        {"0", ""},                     /* empty */
        {"0", "2/nowhere,[\"echo\"]"}, /* an event for a namespace it is not in */
        {"0", "51-[\"echo\",{\"_placeholder\":true,\"num\":7}]"}, /* a placeholder out of range */
        {"0", "59-[\"echo\"]"}, /* more attachments than allowed */
    };
    world_t *w = world_create(25000, 20000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_eio_session_t *s = handshake(w);
        CHECK(s != NULL);
        if (!s)
            continue;
        if (cases[i].before[0])
            sio_text(s, cases[i].before);
        CHECK(valid(w, s));
        sio_text(s, cases[i].hostile);
        if (!s->closing)
            fprintf(stderr, "  case %zu (%s) left the session open\n", i, cases[i].hostile);
        CHECK(s->closing);
        CHECK(valid(w, s));
        CHECK(!packet(s, SB_EIO_MESSAGE, "2[\"echo\"]")); /* what follows is not dispatched */
        CHECK(valid(w, s));
        pump(w, 5);
        CHECK_EQ(sb_eio_server_validate(w->eio), SB_OK);
    }
    CHECK_EQ(w->events, 0);
    world_destroy(w);
}

/* Refusals that keep the connection: an unknown namespace, middleware. */
TEST(sio_refused_connects_keep_the_connection) {
    world_t *w = world_create(25000, 20000);
    sb_eio_session_t *s = handshake(w);
    CHECK(s != NULL);
    if (s) {
        sio_text(s, "0/nope,");
        sio_text(s, "0/locked,{\"token\":1}");
        CHECK(!s->closing);
        CHECK(sb_sio__client_socket(sb_eio_get_data(s), SB_LIT("/locked")) == NULL);
        CHECK(valid(w, s));
        sb_sio_client_t *c = sb_eio_get_data(s);
        CHECK(c->connect_wait && sb_timer_active(&c->connect_wait->timer));
        sio_text(s, "0");
        CHECK(valid(w, s)); /* the connect deadline is off now */
        CHECK(c->connect_wait == NULL);
        CHECK_EQ(w->connections, 1);
    }
    world_destroy(w);
}

/* A binary event waits for its attachments; a text packet in between, or
 * an attachment nobody announced, closes the connection. */
TEST(sio_binary_attachments_in_and_out_of_step) {
    world_t *w = world_create(25000, 20000);
    sb_eio_session_t *s = handshake(w), *t = handshake(w), *u = handshake(w);
    CHECK(s && t && u);
    if (s && t && u) {
        const sb_eio_handler_t *h = sb_sio_eio_handler();
        sio_text(s, "0");
        sio_text(s, "52-[\"echo\",{\"_placeholder\":true,\"num\":0},"
                    "{\"_placeholder\":true,\"num\":1}]");
        CHECK(((sb_sio_client_t *)sb_eio_get_data(s))->bin != NULL);
        CHECK(valid(w, s));
        h->on_message(s, "\x01\x02", 2, true);
        CHECK(valid(w, s));
        CHECK_EQ(w->events, 0);
        h->on_message(s, "", 0, true); /* the last one: dispatched */
        CHECK_EQ(w->events, 1);
        CHECK(!s->closing && valid(w, s));

        sio_text(t, "0");
        sio_text(t, "51-[\"echo\",{\"_placeholder\":true,\"num\":0}]");
        sio_text(t, "2[\"echo\"]"); /* text while an attachment is due */
        CHECK(t->closing && valid(w, t));

        sio_text(u, "0");
        h->on_message(u, "\x01", 1, true); /* an attachment nobody announced */
        CHECK(u->closing && valid(w, u));
        CHECK_EQ(w->events, 1);
    }
    world_destroy(w);
}

/* The session closing under a connected socket: it disconnects with the
 * transport's reason and its awaited acks are cancelled, once. */
TEST(sio_session_close_cancels_acks_once) {
    world_t *w = world_create(25000, 20000);
    sb_eio_session_t *s = handshake(w);
    CHECK(s != NULL);
    if (s) {
        sio_text(s, "0");
        sb_sio_socket_t *sock = root_socket(s);
        CHECK(sock != NULL);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(sb_sio_emit_with_ack(sock, "q", SB_LIT("1"), 10000, on_ack, w), SB_OK);
        CHECK_EQ(sb_sio_emit_with_ack(sock, "q", SB_LIT("1"), 10000, on_ack, w), SB_ETOOBIG);
        CHECK(valid(w, s));
        CHECK(!packet(s, SB_EIO_CLOSE, ""));
        CHECK(valid(w, s));
        pump(w, 5); /* the deferred close runs: on_close, then the socket goes */
        CHECK_EQ(w->acks_cancelled, 3);
        CHECK_EQ(w->disconnects, 1);
        CHECK(strcmp(w->last_disconnect, "transport close") == 0);
        CHECK_EQ(w->eio->count, 0);
    }
    world_destroy(w);
}

TEST(sio_corrupted_socket_is_refused) {
    world_t *w = world_create(25000, 20000);
    sb_eio_session_t *s = handshake(w);
    CHECK(s != NULL);
    if (s) {
        sio_text(s, "0");
        sb_sio_socket_t *sock = root_socket(s);
        sb_sio_client_t *c = sb_eio_get_data(s);
        CHECK(sock != NULL);
        if (sock) {
            CHECK_EQ(sb_sio_socket_validate(sock), SB_OK);
            sock->nacks++; /* an ack counted that nobody awaits */
            CHECK_EQ(sb_sio_socket_validate(sock), SB_EPROTO);
            CHECK_EQ(sb_sio_session_validate(s), SB_EPROTO);
            sock->nacks--;
            sock->connected = false; /* "disconnected" but still listed and in the hub */
            CHECK_EQ(sb_sio_socket_validate(sock), SB_EPROTO);
            sock->connected = true;
            char was = sock->id[0];
            sock->id[0] = '#';
            CHECK_EQ(sb_sio_socket_validate(sock), SB_EPROTO);
            sock->id[0] = was;
            sock->rec.flags = SB_SIO_REC_LIVE; /* recovery state where the namespace has none */
            CHECK_EQ(sb_sio_socket_validate(sock), SB_EPROTO);
            sock->rec.flags = 0;
            CHECK_EQ(sb_sio_socket_validate(sock), SB_OK);
            sb_sio_connect_wait_t other = {.client = c};
            c->connect_wait = &other; /* a deadline after the connect */
            CHECK_EQ(sb_sio_session_validate(s), SB_EPROTO);
            /* After the connect the record only bounds a hold of the output. */
            sb_timer_init(c->srv->loop, &other.timer, NULL);
            sb_timer_start(&other.timer, 500);
            CHECK_EQ(sb_sio_session_validate(s), SB_OK);
            sb_timer_start(&other.timer, SB_SIO_HOLD_MAX_MS + 1000);
            CHECK_EQ(sb_sio_session_validate(s), SB_EPROTO);
            sb_timer_stop(&other.timer);
            c->connect_wait = NULL;
            CHECK_EQ(sb_sio_session_validate(s), SB_OK);
        }
    }
    world_destroy(w);
}

int main(void) {
    RUN(eio_open_session_valid_and_heartbeat_armed);
    RUN(eio_illegal_and_closing_packets_each_end_the_session);
    RUN(eio_heartbeat_timeout_and_pong_in_time);
    RUN(eio_corrupted_session_is_refused);
    RUN(sio_connect_event_ack_disconnect);
    RUN(sio_out_of_step_packets_close_the_connection);
    RUN(sio_refused_connects_keep_the_connection);
    RUN(sio_binary_attachments_in_and_out_of_step);
    RUN(sio_session_close_cancels_acks_once);
    RUN(sio_corrupted_socket_is_refused);
    TEST_MAIN_END();
}
