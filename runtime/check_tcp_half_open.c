/* tcp-half-open check: a SYN sent from a raw socket; the real's SYN-ACK
 * (up) or reset (refused) is read back from that socket. The kernel's own
 * TCP answers the SYN-ACK with a reset, since no socket owns the source
 * port, so the real's listener drops its half-open request: the
 * application never accepts a connection (nothing in its logs) and the
 * checker opens no socket per probe. The verdict is the one a connect()
 * check reaches (the handshake's answer), for about half of its CPU
 * (docs/performance.md, item 7). F5's "TCP Half Open" monitor is the same
 * idea.
 *
 * Source ports: a few TCP sockets bound to port 0, never listening, hold
 * ports the kernel will not give to any local connection; a probe uses one
 * of them, so that no two probes in flight share address, port and source
 * port. A socket filter passes the raw socket only packets to those ports.
 *
 * Needs CAP_NET_RAW. Without it (or if a raw socket cannot be had) each
 * probe is a plain connect() check, with one warning in the log. ICMP
 * errors are not read: an unreachable real fails by timeout.
 */
#include <config.h>
#include "health_check.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(check_half_open);

/* Source ports held per family: as many probes of one address and port
 * may be in flight at once (several services checking the same real). */
#define N_SPORTS 8
/* Replies taken per recvmmsg(). */
#define RX_BATCH 64
/* Room for an IPv4 header with options and a TCP header with options. */
#define RX_LEN 128
/* How long a looked-up IPv4 source address is trusted. A probe that times
 * out drops its entry at once: a changed route costs one probe. */
#define SOURCE_TTL_MS 30000

enum { FAM_V4, FAM_V6, N_FAMS };

struct half_open_family {
    int raw;                    /* -1: not opened yet (or failed). */
    int error;                  /* errno of the failed set-up, else 0. */
    int holders[N_SPORTS];      /* Bound TCP sockets holding the ports. */
    uint16_t sports[N_SPORTS];
};

/* A probe in flight, keyed by what its answer carries back. */
struct half_open_probe {
    struct hmap_node node;      /* In 'in_flight'. */
    int fam;
    struct in6_addr addr;       /* IPv4 as the first 4 bytes. */
    uint16_t dport, sport;      /* Host order. */
    uint32_t isn;
    struct health_probe *probe;
    struct half_open_probe *next_spare; /* In 'spares' when not in use. */
};

struct half_open_ctx {
    struct half_open_family fams[N_FAMS];
    struct hmap in_flight;
    /* Probes' records no longer in use, taken again before malloc(): at
     * 10,000 probes a second the allocator's own work showed. */
    struct half_open_probe *spares;
    void *connect_ctx;          /* Fallback: the tcp kind's context. */
    bool warned;
    size_t n_read;              /* Packets read by the last run. */
    uint8_t rx[RX_BATCH][RX_LEN];
};

static int
fam_of(int family)
{
    return family == AF_INET6 ? FAM_V6 : FAM_V4;
}

static uint32_t
probe_hash(int fam, const struct in6_addr *addr, uint16_t dport,
           uint16_t sport)
{
    uint32_t hash = hash_bytes(addr, sizeof *addr, fam);

    return hash_int((uint32_t) dport << 16 | sport, hash);
}

static struct half_open_probe *
probe_find(struct half_open_ctx *ctx, int fam, const struct in6_addr *addr,
           uint16_t dport, uint16_t sport)
{
    struct half_open_probe *hp;

    HMAP_FOR_EACH_WITH_HASH (hp, node, probe_hash(fam, addr, dport, sport),
                             &ctx->in_flight) {
        if (hp->fam == fam && hp->dport == dport && hp->sport == sport
            && !memcmp(&hp->addr, addr, sizeof *addr)) {
            return hp;
        }
    }
    return NULL;
}

static void *
half_open_create(void)
{
    struct half_open_ctx *ctx = xzalloc(sizeof *ctx);

    for (int f = 0; f < N_FAMS; f++) {
        ctx->fams[f].raw = -1;
        for (int i = 0; i < N_SPORTS; i++) {
            ctx->fams[f].holders[i] = -1;
        }
    }
    hmap_init(&ctx->in_flight);
    ctx->connect_ctx = health_kind_tcp.create();
    return ctx;
}

static void
family_close(struct half_open_family *hf)
{
    if (hf->raw >= 0) {
        close(hf->raw);
        hf->raw = -1;
    }
    for (int i = 0; i < N_SPORTS; i++) {
        if (hf->holders[i] >= 0) {
            close(hf->holders[i]);
            hf->holders[i] = -1;
        }
    }
}

static void
half_open_destroy(void *ctx_)
{
    struct half_open_ctx *ctx = ctx_;

    ovs_assert(hmap_is_empty(&ctx->in_flight));
    hmap_destroy(&ctx->in_flight);
    while (ctx->spares) {
        struct half_open_probe *hp = ctx->spares;
        ctx->spares = hp->next_spare;
        free(hp);
    }
    for (int f = 0; f < N_FAMS; f++) {
        family_close(&ctx->fams[f]);
    }
    health_kind_tcp.destroy(ctx->connect_ctx);
    free(ctx);
}

/* A classic BPF program passing only TCP packets to one of 'sports'.
 * IPv4 raw sockets filter from the IP header (its length varies); IPv6
 * ones from the TCP header on, so the IPv6 filter reads relative to the
 * network header, where TCP follows a 40-byte header without extensions. */
static int
attach_port_filter(int fd, int fam, const uint16_t *sports)
{
    struct sock_filter code[2 + N_SPORTS + 2];   /* Loads, tests, returns. */
    size_t n = 0;

    if (fam == FAM_V4) {
        code[n++] = (struct sock_filter) BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0);
        code[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2);
    } else {
        code[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_H | BPF_ABS,
                                                  SKF_NET_OFF + 40 + 2);
    }
    /* One equality test per port. Test i jumps on a match over the tests
     * after it and "drop" to "accept" (N_SPORTS - i ahead); a miss falls
     * through to the next test, the last one's to "drop". */
    for (int i = 0; i < N_SPORTS; i++) {
        code[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                  sports[i], N_SPORTS - i, 0);
    }
    code[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, 0);
    code[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, 0xffff);

    struct sock_fprog prog = { .len = n, .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog)
           ? errno : 0;
}

/* Opens the family's raw socket and holds its source ports. Returns 0 or
 * an errno (EPERM: no CAP_NET_RAW), remembered: no retry on every probe. */
static int
family_open(struct half_open_family *hf, int fam)
{
    int family = fam == FAM_V6 ? AF_INET6 : AF_INET;
    int error = 0;

    if (hf->raw >= 0 || hf->error) {
        return hf->error;
    }
    hf->raw = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     IPPROTO_TCP);
    if (hf->raw < 0) {
        hf->error = errno;
        return hf->error;
    }
    for (int i = 0; i < N_SPORTS && !error; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int one = 1;

        memset(&ss, 0, sizeof ss);
        ss.ss_family = family;
        hf->holders[i] = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (hf->holders[i] < 0
            || (family == AF_INET6
                && setsockopt(hf->holders[i], IPPROTO_IPV6, IPV6_V6ONLY,
                              &one, sizeof one))
            || bind(hf->holders[i], (struct sockaddr *) &ss,
                    family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                       : sizeof(struct sockaddr_in))
            || getsockname(hf->holders[i], (struct sockaddr *) &ss, &len)) {
            error = errno;
            break;
        }
        hf->sports[i] = ntohs(family == AF_INET6
                              ? ((struct sockaddr_in6 *) &ss)->sin6_port
                              : ((struct sockaddr_in *) &ss)->sin_port);
    }
    if (!error) {
        error = attach_port_filter(hf->raw, fam, hf->sports);
    }
    if (!error && family == AF_INET6) {
        /* The kernel computes the checksum (it picks the source). */
        int offset = offsetof(struct tcphdr, th_sum);
        if (setsockopt(hf->raw, IPPROTO_IPV6, IPV6_CHECKSUM, &offset,
                       sizeof offset)) {
            error = errno;
        }
    }
    if (!error) {
        /* Room for a burst of answers (a whole interval's probes may be
         * started in one run after a reload). */
        int size = 1 << 20;
        setsockopt(hf->raw, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (error) {
        family_close(hf);
        hf->error = error;
    }
    return error;
}

/* The IPv4 source address for the probe's real, as routing chooses it: a
 * connected UDP socket's local address (no packet is sent), cached in the
 * probe's target. */
static int
source_for(struct health_probe *probe, struct in_addr *src)
{
    long long int now = time_msec();

    if (probe->route_src_expires > now) {
        *src = probe->route_src;
        return 0;
    }
    probe->route_src_expires = 0;

    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr = probe->addr->v4,
                               .sin_port = htons(9) };
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int error = 0;

    if (fd < 0) {
        return errno;
    }
    if (connect(fd, (struct sockaddr *) &sin, sizeof sin)
        || getsockname(fd, (struct sockaddr *) &sin, &len)) {
        error = errno;
    }
    close(fd);
    if (error) {
        return error;
    }
    probe->route_src = sin.sin_addr;
    probe->route_src_expires = now + SOURCE_TTL_MS;
    *src = sin.sin_addr;
    return 0;
}

/* Makes 'msg' carry one control message, in 'buf' (room for it). */
static void
put_cmsg(struct msghdr *msg, void *buf, int level, int type,
         const void *data, size_t len)
{
    struct cmsghdr *cm;

    msg->msg_control = buf;
    msg->msg_controllen = CMSG_SPACE(len);
    cm = CMSG_FIRSTHDR(msg);
    cm->cmsg_level = level;
    cm->cmsg_type = type;
    cm->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(cm), data, len);
}

/* Sends the SYN. Returns 0 or an errno. */
static int
send_syn(struct half_open_ctx *ctx, struct health_probe *probe,
         const struct half_open_probe *hp)
{
    struct half_open_family *hf = &ctx->fams[hp->fam];
    struct tcphdr th;
    struct sockaddr_storage dst;
    socklen_t dst_len = health_sockaddr(probe->addr, 0, &dst);
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = &th, .iov_len = sizeof th };
    struct msghdr msg = { .msg_name = &dst, .msg_namelen = dst_len,
                          .msg_iov = &iov, .msg_iovlen = 1 };

    memset(&th, 0, sizeof th);
    th.th_sport = htons(hp->sport);
    th.th_dport = htons(hp->dport);
    th.th_seq = htonl(hp->isn);
    th.th_off = sizeof th / 4;
    th.th_flags = TH_SYN;
    th.th_win = htons(1024);

    memset(&control, 0, sizeof control);
    if (hp->fam == FAM_V4) {
        bool configured = probe->source->family == AF_INET;
        struct in_addr src = { .s_addr = 0 };
        int error;

        if (configured) {
            src = probe->source->v4;
        } else if ((error = source_for(probe, &src))) {
            return error;
        }
        /* The kernel adds the IP header with that source. */
        th.th_sum = health_tcp4_csum(&src, &probe->addr->v4, &th, sizeof th);

        /* A configured source is passed on; routing's own choice is not:
         * the kernel makes it again, and a given source costs a check
         * that it is local (a walk of the host's addresses). */
        if (configured) {
            struct in_pktinfo pi = { .ipi_spec_dst = src };
            put_cmsg(&msg, control.buf, IPPROTO_IP, IP_PKTINFO, &pi,
                     sizeof pi);
        }
    } else if (probe->source->family == AF_INET6) {
        struct in6_pktinfo pi = { .ipi6_addr = probe->source->v6 };
        put_cmsg(&msg, control.buf, IPPROTO_IPV6, IPV6_PKTINFO, &pi,
                 sizeof pi);
    }
    /* The raw socket's sockaddr carries no port (the header has it). */
    return sendmsg(hf->raw, &msg, 0) < 0 ? errno : 0;
}

/* A probe's record: a spare one if there is one. */
static struct half_open_probe *
record_take(struct half_open_ctx *ctx)
{
    struct half_open_probe *hp = ctx->spares;

    if (hp) {
        ctx->spares = hp->next_spare;
        return hp;
    }
    return xmalloc(sizeof *hp);
}

static void
record_put(struct half_open_ctx *ctx, struct half_open_probe *hp)
{
    hp->next_spare = ctx->spares;
    ctx->spares = hp;
}

static bool
half_open_start(void *ctx_, struct health_probe *probe,
                struct health_verdict *v)
{
    struct half_open_ctx *ctx = ctx_;
    int fam = fam_of(probe->addr->family);
    struct half_open_probe *hp;
    struct in6_addr addr;
    int error;

    if (probe->addr->family != AF_INET && probe->addr->family != AF_INET6) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, 0, "no address");
        return false;
    }
    error = family_open(&ctx->fams[fam], fam);
    if (error) {
        if (!ctx->warned) {
            ctx->warned = true;
            VLOG_WARN("tcp-half-open checks run as connect() checks: "
                      "no raw socket (%s; it needs CAP_NET_RAW)",
                      ovs_strerror(error));
        }
        return health_kind_tcp.start(ctx->connect_ctx, probe, v);
    }

    memset(&addr, 0, sizeof addr);
    if (fam == FAM_V4) {
        memcpy(&addr, &probe->addr->v4, 4);
    } else {
        addr = probe->addr->v6;
    }
    /* A source port no probe in flight to this address and port uses. */
    const struct half_open_family *hf = &ctx->fams[fam];
    uint16_t sport = 0;
    for (int i = 0; i < N_SPORTS && !sport; i++) {
        if (!probe_find(ctx, fam, &addr, probe->port, hf->sports[i])) {
            sport = hf->sports[i];
        }
    }
    if (!sport) {
        /* N_SPORTS probes of this address and port already in flight. */
        return health_kind_tcp.start(ctx->connect_ctx, probe, v);
    }

    hp = record_take(ctx);
    hp->fam = fam;
    hp->addr = addr;
    hp->dport = probe->port;
    hp->sport = sport;
    hp->isn = random_uint32();
    hp->probe = probe;
    error = send_syn(ctx, probe, hp);
    if (error) {
        record_put(ctx, hp);
        health_verdict_connect_error(v, error);
        return false;
    }
    hmap_insert(&ctx->in_flight, &hp->node,
                probe_hash(fam, &addr, hp->dport, sport));
    probe->priv = hp;
    return true;
}

static void
probe_release(struct half_open_ctx *ctx, struct health_probe *probe)
{
    struct half_open_probe *hp = probe->priv;

    hmap_remove(&ctx->in_flight, &hp->node);
    record_put(ctx, hp);
    probe->priv = NULL;
}

static void
half_open_cancel(void *ctx_, struct health_probe *probe)
{
    struct half_open_ctx *ctx = ctx_;
    struct half_open_probe *hp = probe->priv;

    if (!hp) {
        health_kind_tcp.cancel(ctx->connect_ctx, probe);
        return;
    }
    if (hp->fam == FAM_V4 && !probe->source->family) {
        /* Unanswered (or removed): look the route up again next time. */
        probe->route_src_expires = 0;
    }
    probe_release(ctx, probe);
}

/* One received packet: the answer to a probe in flight, or ignored (a
 * late answer, a retransmitted SYN-ACK, someone else's packet). */
static void
handle_reply(struct half_open_ctx *ctx, int fam, const uint8_t *p, size_t n,
             const struct sockaddr_storage *from)
{
    struct in6_addr addr;
    struct tcphdr th;

    memset(&addr, 0, sizeof addr);
    if (fam == FAM_V4) {
        struct iphdr ip;

        if (n < sizeof ip) {
            return;
        }
        memcpy(&ip, p, sizeof ip);
        if (ip.ihl < 5 || n < ip.ihl * 4u + sizeof th) {
            return;
        }
        memcpy(&addr, &ip.saddr, 4);
        memcpy(&th, p + ip.ihl * 4, sizeof th);
    } else {
        if (n < sizeof th || from->ss_family != AF_INET6) {
            return;
        }
        addr = ((const struct sockaddr_in6 *) from)->sin6_addr;
        memcpy(&th, p, sizeof th);
    }

    struct half_open_probe *hp = probe_find(ctx, fam, &addr,
                                            ntohs(th.th_sport),
                                            ntohs(th.th_dport));
    if (!hp || !(th.th_flags & TH_ACK) || ntohl(th.th_ack) != hp->isn + 1) {
        return;
    }

    struct health_probe *probe = hp->probe;
    struct health_verdict v;

    if (th.th_flags & TH_RST) {
        health_verdict_set(&v, false, HEALTH_R_CONNECT_REFUSED, ECONNREFUSED,
                           "connect refused (reset)");
    } else if (th.th_flags & TH_SYN) {
        health_verdict_set(&v, true, HEALTH_R_OK, 0, "SYN-ACK");
    } else {
        return;
    }
    probe_release(ctx, probe);
    health_probe_done(probe, &v);
}

static void
half_open_run(void *ctx_)
{
    struct half_open_ctx *ctx = ctx_;

    health_kind_tcp.run(ctx->connect_ctx);
    ctx->n_read = 0;
    for (int f = 0; f < N_FAMS; f++) {
        const struct half_open_family *hf = &ctx->fams[f];
        struct sockaddr_storage from[RX_BATCH];
        struct mmsghdr msgs[RX_BATCH];
        struct iovec iov[RX_BATCH];
        int n;

        if (hf->raw < 0) {
            continue;
        }
        do {
            memset(msgs, 0, sizeof msgs);
            for (int i = 0; i < RX_BATCH; i++) {
                iov[i].iov_base = ctx->rx[i];
                iov[i].iov_len = RX_LEN;
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
                msgs[i].msg_hdr.msg_name = &from[i];
                msgs[i].msg_hdr.msg_namelen = sizeof from[i];
            }
            n = recvmmsg(hf->raw, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
            ctx->n_read += MAX(n, 0);
            for (int i = 0; i < n; i++) {
                handle_reply(ctx, f, ctx->rx[i],
                             MIN(msgs[i].msg_len, RX_LEN), &from[i]);
            }
        } while (n == RX_BATCH);
    }
}

static void
half_open_wait(void *ctx_)
{
    struct half_open_ctx *ctx = ctx_;

    health_kind_tcp.wait(ctx->connect_ctx);
    if (health_wait_reply_batch(ctx->n_read, hmap_count(&ctx->in_flight))) {
        return;
    }
    for (int f = 0; f < N_FAMS; f++) {
        if (ctx->fams[f].raw >= 0) {
            /* Also with nothing in flight: late answers are drained. */
            poll_fd_wait(ctx->fams[f].raw, POLLIN);
        }
    }
}

const struct health_kind health_kind_tcp_half_open = {
    .name = "tcp-half-open",
    .create = half_open_create,
    .destroy = half_open_destroy,
    .start = half_open_start,
    .cancel = half_open_cancel,
    .run = half_open_run,
    .wait = half_open_wait,
};
