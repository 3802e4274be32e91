/* libcurl's multi interface on the server's loop: libcurl names the sockets
 * to watch (CURLMOPT_SOCKETFUNCTION) and the one deadline it needs
 * (CURLMOPT_TIMERFUNCTION); the loop's epoll and timer wheel call back into
 * curl_multi_socket_action(). Nothing here waits. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/list.h"
#include "core/log.h"
#include "hooks/hooks.h"

#define SB_HOOKS_ANSWER_DEFAULT 65536
#define SB_HOOKS_BACKOFF_MAX_MS 60000u

const uint32_t SB_HOOKS_LATENCY_BOUNDS_MS[SB_HOOKS_LATENCY_NBUCKETS] = {5,   10,  25,   50,   100,
                                                                        250, 500, 1000, 2500, 5000};

static const char *const kind_names[SB_HOOK_KINDS] = {"connect", "event", "push"};

const char *sb_hook_kind_name(sb_hook_kind_t k) { return k < SB_HOOK_KINDS ? kind_names[k] : "?"; }

/* A socket libcurl asked us to watch. Once libcurl is done with it, it is
 * freed by a task rather than at once: the batch of epoll events being
 * dispatched may still point at it. */
typedef struct {
    sb_io_t io;
    sb_hooks_t *h;
    sb_list_node_t node; /* h->socks */
    bool dead;
} hook_sock_t;

typedef struct {
    sb_list_node_t node; /* h->requests */
    sb_hooks_t *h;
    sb_hook_kind_t kind;
    CURL *easy;
    bool attached; /* in the multi handle (not waiting for a retry) */
    struct curl_slist *headers;
    char *body;
    size_t body_n;
    char *answer;
    size_t answer_n, answer_cap;
    bool answer_too_big;
    uint32_t attempts;
    uint64_t attempt_ms; /* when the current attempt started */
    sb_timer_t backoff;
    sb_hook_done_fn done;
    void *ud;
    char error[CURL_ERROR_SIZE];
} hook_req_t;

struct sb_hooks {
    sb_loop_t *loop;
    CURLM *multi;
    sb_timer_t timer; /* libcurl's deadline */
    sb_task_t kick;   /* a deadline of 0: act before the next poll */
    sb_task_t reap;   /* frees dead sockets */
    sb_list_t requests;
    sb_list_t socks;
    sb_hooks_config_t cfg;
    char *secret;
    char *urls[SB_HOOK_KINDS]; /* NULL: that hook is off */
    uint32_t in_flight;
    sb_hook_stats_t stats[SB_HOOK_KINDS];
};

static void check_done(sb_hooks_t *h);

/* ---- sockets and the deadline ------------------------------------------------------ */

static void act(sb_hooks_t *h, curl_socket_t fd, int mask) {
    int running;
    curl_multi_socket_action(h->multi, fd, mask, &running);
    check_done(h);
}

static void on_sock_ready(sb_io_t *io, uint32_t events) {
    hook_sock_t *s = sb_container_of(io, hook_sock_t, io);
    if (s->dead)
        return;
    int mask = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
               (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    act(s->h, io->fd, mask);
}

static void on_reap(sb_task_t *t) {
    sb_hooks_t *h = sb_container_of(t, sb_hooks_t, reap);
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &h->socks) {
        hook_sock_t *s = sb_container_of(n, hook_sock_t, node);
        if (s->dead) {
            sb_list_remove(n);
            free(s);
        }
    }
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    sb_hooks_t *h = userp;
    hook_sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            sb_io_set(&s->io, 0);
            s->dead = true;
            sb_task_post(h->loop, &h->reap);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->h = h;
        sb_io_init(h->loop, &s->io, fd, on_sock_ready);
        sb_list_push_tail(&h->socks, &s->node);
        curl_multi_assign(h->multi, fd, s);
    }
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    return sb_io_set(&s->io, ev) == SB_OK ? 0 : -1;
}

static void on_timer(sb_timer_t *t) {
    act(sb_container_of(t, sb_hooks_t, timer), CURL_SOCKET_TIMEOUT, 0);
}

static void on_kick(sb_task_t *t) {
    act(sb_container_of(t, sb_hooks_t, kick), CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
    sb_hooks_t *h = userp;
    sb_timer_stop(&h->timer);
    sb_task_cancel(&h->kick);
    if (timeout_ms == 0)
        sb_task_post(h->loop, &h->kick);
    else if (timeout_ms > 0)
        sb_timer_start_at(&h->timer, sb_clock_ms() + (uint64_t)timeout_ms);
    return 0;
}

/* ---- one request ------------------------------------------------------------------- */

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
    hook_req_t *r = ud;
    size_t len = size * n;
    if (r->answer_n + len > r->h->cfg.max_answer_bytes) {
        r->answer_too_big = true;
        return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (r->answer_n + len + 1 > r->answer_cap) {
        size_t cap = r->answer_cap ? r->answer_cap : 1024;
        while (cap < r->answer_n + len + 1)
            cap *= 2;
        char *a = realloc(r->answer, cap);
        if (!a)
            return 0;
        r->answer = a;
        r->answer_cap = cap;
    }
    memcpy(r->answer + r->answer_n, p, len);
    r->answer_n += len;
    r->answer[r->answer_n] = '\0';
    return len;
}

static struct curl_slist *add_header(struct curl_slist *l, bool *ok, const char *fmt,
                                     const char *v) {
    char line[160];
    if (!*ok)
        return l;
    snprintf(line, sizeof line, fmt, v);
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n) {
        *ok = false;
        return l;
    }
    return n;
}

/* The headers of the current attempt (the attempt number changes). */
static int build_headers(hook_req_t *r) {
    char attempt[16], sig[SB_HOOKS_SIGNATURE_MAX];
    snprintf(attempt, sizeof attempt, "%u", r->attempts);
    bool ok = true;
    curl_slist_free_all(r->headers);
    struct curl_slist *l = add_header(NULL, &ok, "%s", "Content-Type: application/json");
    l = add_header(l, &ok, "%s", "Expect:"); /* no 100-continue round trip */
    l = add_header(l, &ok, "X-Switchboard-Hook: %s", kind_names[r->kind]);
    l = add_header(l, &ok, "X-Switchboard-Attempt: %s", attempt);
    if (r->h->secret[0]) {
        sb_hooks_sign(r->h->secret, sb_str(r->body, r->body_n), sig);
        l = add_header(l, &ok, "X-Switchboard-Signature: %s", sig);
    }
    r->headers = l;
    if (!ok)
        return SB_ENOMEM;
    return curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, l) == CURLE_OK ? SB_OK : SB_ENOMEM;
}

static int setup_easy(hook_req_t *r) {
    CURL *e = r->easy;
    bool ok =
        curl_easy_setopt(e, CURLOPT_URL, r->h->urls[r->kind]) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_n) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_PRIVATE, r) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->h->cfg.timeout_ms[r->kind]) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_USERAGENT, "switchboard-hooks") == CURLE_OK;
    return ok ? SB_OK : SB_ENOMEM;
}

static int attempt_start(hook_req_t *r) {
    r->attempts++;
    r->answer_n = 0;
    r->answer_too_big = false;
    r->error[0] = '\0';
    int rc = build_headers(r);
    if (rc != SB_OK)
        return rc;
    r->attempt_ms = sb_clock_ms();
    if (curl_multi_add_handle(r->h->multi, r->easy) != CURLM_OK)
        return SB_ENOMEM;
    r->attached = true;
    sb_hook_stats_t *st = &r->h->stats[r->kind];
    st->requests++;
    if (r->attempts > 1)
        st->retries++;
    return SB_OK;
}

static void req_free(hook_req_t *r) {
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r->answer);
    free(r);
}

static void finish(hook_req_t *r, int rc, const char *why) {
    sb_hooks_t *h = r->h;
    sb_timer_stop(&r->backoff);
    if (r->attached)
        curl_multi_remove_handle(h->multi, r->easy);
    r->attached = false;
    sb_list_remove(&r->node);
    h->in_flight--;
    h->stats[r->kind].in_flight--;
    r->done(r->ud, rc, rc == SB_OK ? sb_str(r->answer ? r->answer : "", r->answer_n) : SB_STR_NULL,
            why);
    req_free(r);
}

static void on_backoff(sb_timer_t *t) {
    hook_req_t *r = sb_container_of(t, hook_req_t, backoff);
    if (attempt_start(r) != SB_OK)
        finish(r, SB_EUNAVAIL, "out of memory");
}

static void record_latency(sb_hook_stats_t *st, uint64_t ms) {
    size_t i = 0;
    while (i < SB_HOOKS_LATENCY_NBUCKETS && ms > SB_HOOKS_LATENCY_BOUNDS_MS[i])
        i++;
    st->latency_buckets[i]++;
    st->latency_ms_sum += ms;
}

/* Push only: the backend must take it as idempotent (its body carries an id). */
static bool retryable(const hook_req_t *r, long status) {
    return r->kind == SB_HOOK_PUSH && r->attempts <= r->h->cfg.push_retries &&
           (status == 0 || status == 429 || status >= 500);
}

static void attempt_ended(hook_req_t *r, CURLcode cc) {
    sb_hooks_t *h = r->h;
    sb_hook_stats_t *st = &h->stats[r->kind];
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(h->multi, r->easy);
    r->attached = false;
    if (status)
        record_latency(st, sb_clock_ms() - r->attempt_ms);
    int rc = SB_EUNAVAIL;
    const char *why = r->error;
    if (cc == CURLE_OK && status >= 200 && status < 300) {
        rc = SB_OK;
        why = "";
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = SB_ETIMEOUT;
        why = "timed out";
        st->timeouts++;
    } else if (r->answer_too_big) {
        why = "answer too big";
    } else if (cc == CURLE_OK) {
        snprintf(r->error, sizeof r->error, "answered HTTP %ld", status);
    } else if (!r->error[0]) {
        why = curl_easy_strerror(cc);
    }
    if (rc != SB_OK)
        st->failures++;
    if (rc != SB_OK && retryable(r, status)) {
        uint32_t shift = r->attempts - 1 < 16 ? r->attempts - 1 : 16;
        uint64_t delay = (uint64_t)h->cfg.retry_backoff_ms << shift;
        sb_timer_start(&r->backoff,
                       delay < SB_HOOKS_BACKOFF_MAX_MS ? delay : SB_HOOKS_BACKOFF_MAX_MS);
        return;
    }
    finish(r, rc, why);
}

static void check_done(sb_hooks_t *h) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        hook_req_t *r = NULL;
        CURLcode cc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            attempt_ended(r, cc);
    }
}

int sb_hooks_post(sb_hooks_t *h, sb_hook_kind_t k, sb_str_t body, sb_hook_done_fn done, void *ud) {
    if (!sb_hooks_enabled(h, k))
        return SB_EINVAL;
    if (h->in_flight >= h->cfg.max_in_flight) {
        h->stats[k].rejected++;
        return SB_ETOOBIG;
    }
    hook_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return SB_ENOMEM;
    *r = (hook_req_t){.h = h, .kind = k, .done = done, .ud = ud, .body_n = body.n};
    r->body = malloc(body.n + 1);
    r->easy = curl_easy_init();
    sb_timer_init(h->loop, &r->backoff, on_backoff);
    if (!r->body || !r->easy || setup_easy(r) != SB_OK) {
        req_free(r);
        return SB_ENOMEM;
    }
    memcpy(r->body, body.p, body.n);
    r->body[body.n] = '\0';
    if (attempt_start(r) != SB_OK) {
        req_free(r);
        return SB_ENOMEM;
    }
    sb_list_push_tail(&h->requests, &r->node);
    h->in_flight++;
    h->stats[k].in_flight++;
    return SB_OK;
}

/* ---- the client -------------------------------------------------------------------- */

static bool url_valid(const char *u) {
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* Sets h->urls from the base URL and the comma list of enabled kinds. */
static int set_urls(sb_hooks_t *h, const sb_hooks_config_t *cfg, char *err, size_t cap) {
    const char *list = cfg->enabled ? cfg->enabled : "";
    size_t base_n = strlen(cfg->url);
    while (base_n && cfg->url[base_n - 1] == '/')
        base_n--;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        sb_hook_kind_t k = 0;
        while (k < SB_HOOK_KINDS && !sb_str_eq(sb_str(p, n), sb_cstr(kind_names[k])))
            k++;
        if (n && k == SB_HOOK_KINDS) {
            snprintf(err, cap, "unknown hook '%.*s' in --hook-events (connect,event,push)", (int)n,
                     p);
            return SB_EINVAL;
        }
        if (n && !h->urls[k]) {
            size_t len = base_n + strlen(kind_names[k]) + 2;
            if (!(h->urls[k] = malloc(len)))
                return SB_ENOMEM;
            snprintf(h->urls[k], len, "%.*s/%s", (int)base_n, cfg->url, kind_names[k]);
        }
        p += n + (p[n] == ',');
    }
    return SB_OK;
}

sb_hooks_t *sb_hooks_create(sb_loop_t *loop, const sb_hooks_config_t *cfg, char *err, size_t cap) {
    if (!cfg->url || !url_valid(cfg->url)) {
        snprintf(err, cap, "--hook-url must start with http:// or https://");
        return NULL;
    }
    sb_hooks_t *h = calloc(1, sizeof *h);
    if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, cap, "hooks: cannot start libcurl");
        free(h);
        return NULL;
    }
    h->loop = loop;
    h->cfg = *cfg;
    if (!h->cfg.max_answer_bytes)
        h->cfg.max_answer_bytes = SB_HOOKS_ANSWER_DEFAULT;
    if (!h->cfg.max_in_flight)
        h->cfg.max_in_flight = 1;
    sb_list_init(&h->requests);
    sb_list_init(&h->socks);
    sb_timer_init(loop, &h->timer, on_timer);
    sb_task_init(&h->kick, on_kick);
    sb_task_init(&h->reap, on_reap);
    h->secret = strdup(cfg->secret ? cfg->secret : "");
    h->multi = curl_multi_init();
    int rc = h->secret && h->multi ? set_urls(h, cfg, err, cap) : SB_ENOMEM;
    if (rc == SB_OK &&
        (curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
         curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
         curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
         curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) != CURLM_OK))
        rc = SB_ENOMEM;
    if (rc != SB_OK) {
        if (rc == SB_ENOMEM)
            snprintf(err, cap, "hooks: out of memory");
        sb_hooks_destroy(h);
        return NULL;
    }
    return h;
}

void sb_hooks_destroy(sb_hooks_t *h) {
    if (!h)
        return;
    while (!sb_list_empty(&h->requests))
        finish(sb_container_of(h->requests.next, hook_req_t, node), SB_ECLOSED, "server stopping");
    if (h->multi)
        curl_multi_cleanup(h->multi); /* may still tell on_curl_socket of closed sockets */
    sb_timer_stop(&h->timer);
    sb_task_cancel(&h->kick);
    sb_task_cancel(&h->reap);
    sb_list_node_t *n;
    while ((n = sb_list_pop_head(&h->socks)) != NULL) {
        hook_sock_t *s = sb_container_of(n, hook_sock_t, node);
        sb_io_set(&s->io, 0);
        free(s);
    }
    for (int k = 0; k < SB_HOOK_KINDS; k++)
        free(h->urls[k]);
    free(h->secret);
    free(h);
    curl_global_cleanup();
}

bool sb_hooks_enabled(const sb_hooks_t *h, sb_hook_kind_t k) {
    return h && k < SB_HOOK_KINDS && h->urls[k] != NULL;
}

const sb_hook_stats_t *sb_hooks_stats(const sb_hooks_t *h, sb_hook_kind_t k) {
    return &h->stats[k];
}
