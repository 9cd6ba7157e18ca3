/* tcpbench: a minimal HTTP/1.0 server and load client for the data path
 * benchmark (bench item 9). Python's servers are too slow to load OVS's
 * userspace datapath, so both ends are tiny blocking C loops on threads.
 *
 *   tcpbench serve PORT [THREADS]
 *       answer every request on PORT with a short 200; "GET" requests from
 *       a "close" client get the response and a close, keep-alive clients
 *       get one response per request line block.
 *   tcpbench client IP PORT SECONDS CONCURRENCY [keepalive]
 *       CONCURRENCY threads send requests for SECONDS; without keepalive
 *       each request is a new TCP connection (what a load balancer pays
 *       for: one conntrack entry and one group lookup per connection).
 *       Prints "requests=N errors=E seconds=S rps=R".
 *   tcpbench probe IP PORT SECONDS GAP_MS
 *       a request every GAP_MS on a new connection (each with a 200 ms
 *       timeout, overlapping); prints "EPOCH ok BODY" or "EPOCH err" per
 *       request as it ends (EPOCH: when it started), for the failover
 *       benchmark (which real answered, and when).
 *   tcpbench checks FILE PORT SECONDS
 *       the bare cost of what a tcp health checker does, as the reference
 *       of the health item: each address in FILE (one a line) connected
 *       to once a second, the connects spread evenly, completions from
 *       epoll, each connection reset (SO_LINGER 0). Prints
 *       "probes=N ok=K cpu=PCT" (PCT: user+sys % of one core, which on
 *       loopback includes the listener's side of every handshake).
 *   tcpbench synchecks FILE PORT SECONDS
 *       the same for half-open checks (a SYN from a raw socket, the
 *       answers read back from it; the kernel resets each SYN-ACK): the
 *       reference of flowlbd's tcp-half-open checks. Needs CAP_NET_RAW.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <linux/filter.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char response[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool
write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t) w;
    }
    return true;
}

/* ---- server ---------------------------------------------------------- */

static void *
serve_thread(void *arg)
{
    int lfd = *(int *) arg;
    char buf[4096];
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        size_t have = 0;
        bool keepalive = false;
        for (;;) {
            ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
            if (r <= 0) {
                break;
            }
            have += (size_t) r;
            buf[have] = '\0';
            /* Answer each complete request (they are tiny and pipelining
             * is not used, so one block per read is the common case). */
            char *end;
            while ((end = strstr(buf, "\r\n\r\n"))) {
                keepalive = strcasestr(buf, "keep-alive") != NULL;
                if (!write_all(fd, response, sizeof response - 1)) {
                    goto done;
                }
                size_t used = (size_t) (end + 4 - buf);
                memmove(buf, end + 4, have - used + 1);
                have -= used;
                if (!keepalive) {
                    goto done;
                }
            }
            if (have >= sizeof buf - 1) {
                break;
            }
        }
    done:
        close(fd);
    }
    return NULL;
}

static int
serve(int port, int threads)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) port) };
    /* The largest backlog the kernel allows (net.core.somaxconn): in the
     * health item this one listener answers the checks of all 10,000
     * reals; a burst of connects that overflows the accept queue has its
     * SYNs dropped, and each such check times out (a spurious failure
     * that is the bench's, not the checker's). */
    if (bind(lfd, (struct sockaddr *) &sa, sizeof sa)
        || listen(lfd, 65535)) {
        perror("tcpbench: bind/listen");
        return 1;
    }
    pthread_t t;
    for (int i = 1; i < threads; i++) {
        pthread_create(&t, NULL, serve_thread, &lfd);
    }
    serve_thread(&lfd);
    return 0;
}

/* ---- client ---------------------------------------------------------- */

struct client {
    struct sockaddr_in sa;
    double deadline;
    bool keepalive;
    atomic_long requests, errors;
};

static int
connect_to(const struct client *c)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *) &c->sa, sizeof c->sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on 'fd'; true if a whole response came back. */
static bool
request(int fd, bool keepalive)
{
    static const char req_close[] = "GET / HTTP/1.0\r\nHost: vip\r\n\r\n";
    static const char req_ka[] =
        "GET / HTTP/1.1\r\nHost: vip\r\nConnection: keep-alive\r\n\r\n";
    const char *req = keepalive ? req_ka : req_close;
    if (!write_all(fd, req, strlen(req))) {
        return false;
    }
    char buf[256];
    size_t have = 0;
    while (have < sizeof response - 1) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0) {
            return false;
        }
        have += (size_t) r;
    }
    return true;
}

static void *
client_thread(void *arg)
{
    struct client *c = arg;
    int fd = -1;
    while (now() < c->deadline) {
        if (fd < 0) {
            fd = connect_to(c);
            if (fd < 0) {
                atomic_fetch_add(&c->errors, 1);
                continue;
            }
        }
        bool ok = request(fd, c->keepalive);
        atomic_fetch_add(ok ? &c->requests : &c->errors, 1);
        if (!ok || !c->keepalive) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

static int
client(const char *ip, int port, double seconds, int conc, bool keepalive)
{
    struct client c = { .sa = { .sin_family = AF_INET,
                                .sin_port = htons((uint16_t) port) },
                        .keepalive = keepalive };
    if (inet_pton(AF_INET, ip, &c.sa.sin_addr) != 1) {
        fprintf(stderr, "tcpbench: bad address %s\n", ip);
        return 2;
    }
    atomic_init(&c.requests, 0);
    atomic_init(&c.errors, 0);
    double start = now();
    c.deadline = start + seconds;
    pthread_t *t = calloc((size_t) conc, sizeof *t);
    for (int i = 0; i < conc; i++) {
        pthread_create(&t[i], NULL, client_thread, &c);
    }
    for (int i = 0; i < conc; i++) {
        pthread_join(t[i], NULL);
    }
    double took = now() - start;
    long n = atomic_load(&c.requests);
    printf("requests=%ld errors=%ld seconds=%.3f rps=%.1f\n", n,
           atomic_load(&c.errors), took, n / took);
    free(t);
    return n > 0 ? 0 : 1;
}

static double
wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One request of the probe: a connection, the request sent once it is up,
 * the answer read until the server closes. */
struct probe_req {
    int fd;
    double started;             /* Epoch, printed. */
    double deadline;            /* Monotonic. */
    bool sent;
    size_t have;
    char buf[1024];
};

/* Prints 'r''s outcome ("EPOCH ok BODY" or "EPOCH err") and closes it. */
static void
probe_done(struct probe_req *r)
{
    close(r->fd);
    r->buf[r->have] = '\0';
    char *body = strstr(r->buf, "\r\n\r\n");
    if (body && body[4]) {
        body += 4;
        body[strcspn(body, "\r\n ")] = '\0';
        printf("%.6f ok %s\n", r->started, body);
    } else {
        printf("%.6f err\n", r->started);
    }
}

/* A request every GAP_MS, each on its own connection with its own 200 ms
 * timeout, whatever the earlier ones are doing: as clients arrive. (One
 * request at a time made a request sent to a dead real just before the
 * switch changed hold back the next one, which would have reached the
 * other real, for its whole timeout.) */
static int
probe(const char *ip, int port, double seconds, int gap_ms)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) port) };
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        fprintf(stderr, "tcpbench: bad address %s\n", ip);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    static const char req[] = "GET / HTTP/1.0\r\nHost: vip\r\n\r\n";
    enum { MAX_OPEN = 1024 };
    struct probe_req *open_reqs = calloc(MAX_OPEN, sizeof *open_reqs);
    struct pollfd *pfds = calloc(MAX_OPEN, sizeof *pfds);
    size_t n_open = 0;
    double gap = gap_ms / 1000.0, t0 = now(), deadline = t0 + seconds;
    double next = t0;
    while (now() < deadline || n_open) {
        double t = now();
        if (t >= next && t < deadline && n_open < MAX_OPEN) {
            struct probe_req *r = &open_reqs[n_open];
            memset(r, 0, sizeof *r);
            r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            r->started = wall();
            r->deadline = t + 0.2;
            if (r->fd >= 0 && (!connect(r->fd, (struct sockaddr *) &sa,
                                        sizeof sa) || errno == EINPROGRESS)) {
                n_open++;
            } else if (r->fd >= 0) {
                probe_done(r);
            }
            next += gap;
        }
        for (size_t i = 0; i < n_open; i++) {
            pfds[i] = (struct pollfd) {
                .fd = open_reqs[i].fd,
                .events = open_reqs[i].sent ? POLLIN : POLLOUT,
            };
        }
        double until = t < deadline ? next : t + 0.2;
        for (size_t i = 0; i < n_open; i++) {
            until = open_reqs[i].deadline < until ? open_reqs[i].deadline
                                                  : until;
        }
        int ms = until > t ? (int) ((until - t) * 1000) + 1 : 0;
        poll(pfds, n_open, ms);
        t = now();
        for (size_t i = 0; i < n_open;) {
            struct probe_req *r = &open_reqs[i];
            bool done = t >= r->deadline;
            if (!done && (pfds[i].revents & (POLLOUT | POLLERR | POLLHUP))
                && !r->sent) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                done = err || !write_all(r->fd, req, sizeof req - 1);
                r->sent = !done;
            } else if (!done && (pfds[i].revents & (POLLIN | POLLERR
                                                    | POLLHUP))) {
                ssize_t k = read(r->fd, r->buf + r->have,
                                 sizeof r->buf - 1 - r->have);
                if (k > 0) {
                    r->have += (size_t) k;
                }
                done = k <= 0 || r->have == sizeof r->buf - 1;
            }
            if (done) {
                probe_done(r);
                open_reqs[i] = open_reqs[--n_open];
                pfds[i] = pfds[n_open];
            } else {
                i++;
            }
        }
    }
    free(open_reqs);
    free(pfds);
    return 0;
}

/* ---- checks: the reference of the health item ----------------------- */

/* The IPv4 addresses of FILE (one a line); exits on failure. */
static struct in_addr *
read_addrs(const char *file, size_t *np)
{
    struct in_addr *addrs = NULL;
    size_t n = 0, allocated = 0;
    char line[128];
    FILE *f = fopen(file, "r");

    if (!f) {
        perror(file);
        exit(1);
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (n >= allocated) {
            allocated = allocated ? 2 * allocated : 1024;
            addrs = realloc(addrs, allocated * sizeof *addrs);
        }
        if (inet_pton(AF_INET, line, &addrs[n]) == 1) {
            n++;
        }
    }
    fclose(f);
    if (!n) {
        fprintf(stderr, "tcpbench: no IPv4 address in %s\n", file);
        exit(1);
    }
    *np = n;
    return addrs;
}

static double
cpu_percent(const struct rusage *r0, const struct rusage *r1, double elapsed)
{
    double cpu = (r1->ru_utime.tv_sec - r0->ru_utime.tv_sec)
                 + (r1->ru_utime.tv_usec - r0->ru_utime.tv_usec) / 1e6
                 + (r1->ru_stime.tv_sec - r0->ru_stime.tv_sec)
                 + (r1->ru_stime.tv_usec - r0->ru_stime.tv_usec) / 1e6;
    return cpu * 100 / elapsed;
}

static int
checks(const char *file, int port, double seconds)
{
    size_t n;
    struct in_addr *addrs = read_addrs(file, &n);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev[256];
    struct rusage r0, r1;
    long long started = 0, ok = 0;
    size_t next = 0;
    double t0 = now(), elapsed;

    getrusage(RUSAGE_SELF, &r0);
    while ((elapsed = now() - t0) < seconds) {
        /* n connects a second, evenly. */
        long long due = (long long) (elapsed * n);

        for (; started < due; started++) {
            struct sockaddr_in sa = { .sin_family = AF_INET,
                                      .sin_port = htons((uint16_t) port),
                                      .sin_addr = addrs[next] };
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

            next = (next + 1) % n;
            if (fd < 0) {
                continue;
            }
            if (connect(fd, (struct sockaddr *) &sa, sizeof sa)
                && errno != EINPROGRESS) {
                close(fd);
                continue;
            }
            struct epoll_event e = { .events = EPOLLOUT, .data.fd = fd };
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        }
        int k = epoll_wait(ep, ev, 256, 1);
        for (int i = 0; i < k; i++) {
            struct linger l = { .l_onoff = 1, .l_linger = 0 };
            int fd = ev[i].data.fd;

            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            ok += !(ev[i].events & (EPOLLERR | EPOLLHUP));
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            close(fd);
        }
    }
    getrusage(RUSAGE_SELF, &r1);
    elapsed = now() - t0;
    printf("probes=%lld ok=%lld cpu=%.2f\n", started, ok,
           cpu_percent(&r0, &r1, elapsed));
    free(addrs);
    return 0;
}

/* ---- synchecks: the reference of half-open checks ----------------------
 * The bare system calls of a half-open checker: one SYN a probe from a raw
 * socket (TCP checksum computed here, source looked up once per address
 * beforehand), answers read with recvmmsg() behind a socket filter on the
 * source port, which a bound socket holds. No timeouts, no state machine. */

static uint32_t
sum16(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (; len > 1; p += 2, len -= 2) {
        sum += (uint32_t) p[0] << 8 | p[1];
    }
    return sum;
}

static int
synchecks(const char *file, int port, double seconds)
{
    size_t n;
    struct in_addr *addrs = read_addrs(file, &n);
    struct in_addr *srcs = calloc(n, sizeof *srcs);

    for (size_t i = 0; i < n; i++) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9),
                                  .sin_addr = addrs[i] };
        socklen_t len = sizeof sa;
        int u = socket(AF_INET, SOCK_DGRAM, 0);

        if (u < 0 || connect(u, (struct sockaddr *) &sa, sizeof sa)
            || getsockname(u, (struct sockaddr *) &sa, &len)) {
            perror("source lookup");
            return 1;
        }
        srcs[i] = sa.sin_addr;
        close(u);
    }

    struct sockaddr_in hold = { .sin_family = AF_INET };
    socklen_t hold_len = sizeof hold;
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    int raw = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_TCP);
    if (raw < 0 || holder < 0
        || bind(holder, (struct sockaddr *) &hold, sizeof hold)
        || getsockname(holder, (struct sockaddr *) &hold, &hold_len)) {
        perror("raw socket");
        return 1;
    }
    uint16_t sport = ntohs(hold.sin_port);
    struct sock_filter code[] = {
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sport, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = { .len = 5, .filter = code };
    int rcvbuf = 1 << 20;
    setsockopt(raw, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
    setsockopt(raw, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    epoll_ctl(ep, EPOLL_CTL_ADD, raw, &ev);

    static uint8_t rx[64][128];
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    struct rusage r0, r1;
    long long started = 0, ok = 0;
    size_t next = 0;
    double t0 = now(), elapsed;

    getrusage(RUSAGE_SELF, &r0);
    while ((elapsed = now() - t0) < seconds) {
        long long due = (long long) (elapsed * n);

        for (; started < due; started++) {
            struct tcphdr th;
            struct sockaddr_in sa = { .sin_family = AF_INET,
                                      .sin_addr = addrs[next] };
            uint32_t sum;

            memset(&th, 0, sizeof th);
            th.th_sport = htons(sport);
            th.th_dport = htons((uint16_t) port);
            th.th_seq = htonl((uint32_t) random());
            th.th_off = 5;
            th.th_flags = TH_SYN;
            th.th_win = htons(1024);
            sum = sum16(0, &srcs[next], 4);
            sum = sum16(sum, &addrs[next], 4);
            sum = sum16(sum + IPPROTO_TCP + sizeof th, &th, sizeof th);
            while (sum >> 16) {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            th.th_sum = htons((uint16_t) ~sum);
            next = (next + 1) % n;
            sendto(raw, &th, sizeof th, 0, (struct sockaddr *) &sa, sizeof sa);
        }
        struct epoll_event e;
        if (epoll_wait(ep, &e, 1, 1) <= 0) {
            continue;
        }
        int k;
        do {
            for (int i = 0; i < 64; i++) {
                iov[i] = (struct iovec) { .iov_base = rx[i], .iov_len = 128 };
                msgs[i] = (struct mmsghdr) { .msg_hdr = { .msg_iov = &iov[i],
                                                          .msg_iovlen = 1 } };
            }
            k = recvmmsg(raw, msgs, 64, MSG_DONTWAIT, NULL);
            for (int i = 0; i < k; i++) {
                const struct iphdr *ip = (const void *) rx[i];
                const struct tcphdr *th = (const void *) (rx[i] + ip->ihl * 4);

                ok += (th->th_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
            }
        } while (k == 64);
    }
    getrusage(RUSAGE_SELF, &r1);
    elapsed = now() - t0;
    printf("probes=%lld ok=%lld cpu=%.2f\n", started, ok,
           cpu_percent(&r0, &r1, elapsed));
    free(addrs);
    free(srcs);
    return 0;
}

int
main(int argc, char *argv[])
{
    if (argc >= 5 && !strcmp(argv[1], "checks")) {
        return checks(argv[2], atoi(argv[3]), atof(argv[4]));
    }
    if (argc >= 5 && !strcmp(argv[1], "synchecks")) {
        return synchecks(argv[2], atoi(argv[3]), atof(argv[4]));
    }
    if (argc >= 6 && !strcmp(argv[1], "probe")) {
        return probe(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
    }
    if (argc >= 3 && !strcmp(argv[1], "serve")) {
        return serve(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 4);
    }
    if (argc >= 6 && !strcmp(argv[1], "client")) {
        return client(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]),
                      argc > 6 && !strcmp(argv[6], "keepalive"));
    }
    fprintf(stderr, "usage: tcpbench serve PORT [THREADS]\n"
            "       tcpbench client IP PORT SECONDS CONCURRENCY [keepalive]\n"
            "       tcpbench probe IP PORT SECONDS GAP_MS\n"
            "       tcpbench checks FILE PORT SECONDS\n"
            "       tcpbench synchecks FILE PORT SECONDS\n");
    return 2;
}
