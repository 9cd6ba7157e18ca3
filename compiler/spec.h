/* The LB spec model: what an operator declared, in either syntax.
 *
 * Both front ends (grammar/ for the DSL, yaml_load.c for YAML) build this
 * model and nothing else; every later phase reads only this. Values are
 * already converted (addresses, MACs, durations); each field keeps the
 * location it came from so that check.c and lower.c can point at it.
 */
#ifndef FLOWLB_SPEC_H
#define FLOWLB_SPEC_H 1

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include "diag.h"

struct lb_addr {
    int family;                 /* AF_INET or AF_INET6; 0 if unset. */
    union {
        struct in_addr v4;
        struct in6_addr v6;
    };
};

struct lb_mac {
    uint8_t b[6];
};

enum lb_proto { LB_PROTO_TCP, LB_PROTO_UDP };

enum lb_scheduler {
    LB_SCHED_WRR,               /* Weighted, hash of the 5-tuple (default). */
    LB_SCHED_SH,                /* Source address hash. */
    LB_SCHED_DH,                /* Destination address hash. */
    LB_SCHED_MH,                /* Consistent hash of source addr + port. */
    /* IPVS names with a documented mapping onto what a switch can do: */
    LB_SCHED_RR,                /* = wrr with the 5-tuple hash. */
    LB_SCHED_LC,                /* Weighted hash; the agent may adjust the
                                 * weights from connection counts. */
    LB_SCHED_WLC,               /* Same as lc, with the spec's weights. */
    LB_SCHED_FO,                /* Weighted failover: every new connection
                                 * to the highest-weight healthy real. */
};

/* How a connection stays on its real. */
enum lb_stickiness {
    LB_STICKY_CONNTRACK,        /* ct_mark in conntrack (default). */
    LB_STICKY_LEARN,            /* Learned per-connection flows with an
                                 * idle timeout, for one-way traffic. */
};

enum lb_check_type { LB_CHECK_NONE, LB_CHECK_TCP, LB_CHECK_HTTP,
                     LB_CHECK_HTTPS, LB_CHECK_EXEC, LB_CHECK_UDP,
                     LB_CHECK_TCP_HALF_OPEN /* SYN, SYN-ACK, reset. */ };

/* Health check of every real of a service (used by the agent). */
struct lb_check {
    enum lb_check_type type;    /* LB_CHECK_NONE: no check declared. */
    uint32_t interval_ms;       /* Default 1000. */
    uint32_t timeout_ms;        /* Default 1000 (must be <= interval). */
    uint32_t rise;              /* Successes to go up; default 2. */
    uint32_t fall;              /* Failures to go down; default 3. */
    uint16_t port;              /* 0: the service port. */
    char *path;                 /* http(s): path, default "/". Owned. */
    uint16_t expect_status;     /* http(s): default 200. */
    char *expect_body;          /* http(s): optional substring. Owned. */
    char *command;              /* exec: shell command. Owned. */
    char *send;                 /* udp: payload to send. Owned. */
    char *expect_reply;         /* udp: substring the reply must hold;
                                 * NULL: any reply, or no ICMP unreachable
                                 * within the timeout, is success. Owned. */
    struct lb_addr source;      /* Address to probe from; family 0: any. */
    struct location source_loc;
    struct location loc;        /* The check statement / mapping. */
};

struct lb_real {
    struct lb_addr addr;
    struct lb_mac mac;
    bool has_mac;
    char *port;                 /* OpenFlow port number or name; NULL means
                                 * forward with NORMAL. Owned. */
    uint32_t weight;            /* 0..65535, default 1; 0 = drained. */
    struct location loc;        /* Start of the real. */
    struct location addr_loc, mac_loc, port_loc, weight_loc;
};

struct lb_service {
    char *name;                 /* Owned. */
    struct location loc;        /* The name. */

    bool has_vip;
    struct lb_addr vip;
    enum lb_proto proto;
    uint16_t port;              /* 0 = every port of 'proto'. */
    struct location vip_loc;

    bool has_vip_mac;
    struct lb_mac vip_mac;
    struct location vip_mac_loc;

    /* Match-based services (IPVS firewall-mark style): the VIP may be a
     * prefix and the port a range. vip_prefix_len is 32/128 for a single
     * address; port_max == port for a single port (port 0: all ports). */
    uint8_t vip_prefix_len;
    uint16_t port_max;

    bool vip_mac_auto;          /* vip-mac auto: derived from the VIP. */

    enum lb_scheduler scheduler;
    struct location scheduler_loc;

    struct lb_real *reals;
    size_t n_reals, allocated_reals;

    struct lb_check check;

    /* Persistence (IPVS -p TIMEOUT -M NETMASK, keepalived
     * persistence_timeout / persistence_granularity): 0 = off. */
    uint32_t persistence_s;
    uint8_t persistence_prefix_len; /* Client prefix; default 32 / 128. */
    struct location persistence_loc;

    enum lb_stickiness stickiness;
    uint32_t sticky_idle_s;     /* learn: idle timeout; default 300. */
    uint32_t udp_timeout_s;     /* udp: conntrack/learned entry timeout
                                 * (0 = the datapath's default). */

    bool has_sorry;             /* Used only while every real is down. */
    struct lb_real sorry;

    uint32_t quorum;            /* Withdraw the service (stop answering
                                 * ARP/ND, no new connections) while
                                 * fewer reals are up; 0 = off. */
    uint32_t quorum_hysteresis; /* keepalived's hysteresis. */
    bool inhibit_on_failure;    /* Failed real: weight 0, not removed. */
    bool expire_nodest_conn;    /* Reschedule connections of a dead real. */

    /* Where the statements / keys above were given (line 0: not given),
     * for check.c's messages. */
    struct location persistence_prefix_loc; /* The netmask / prefix. */
    int persistence_mask_family;    /* AF_* of a netmask; 0 for a prefix
                                     * length or none. */
    struct location stickiness_loc, sticky_idle_loc, udp_timeout_loc;
    struct location quorum_loc, hysteresis_loc;
    struct location inhibit_loc, expire_nodest_loc;
};

struct lb_spec {
    struct lb_service *services;
    size_t n_services, allocated_services;
};

void lb_spec_init(struct lb_spec *);
void lb_spec_destroy(struct lb_spec *);
/* Frees what 'svc' owns (not 'svc'). */
void lb_service_destroy(struct lb_service *svc);

/* Appends a zeroed service (defaults applied) / real and returns it. The
 * returned pointer is valid until the next append on the same array. */
struct lb_service *lb_spec_add_service(struct lb_spec *);
struct lb_real *lb_service_add_real(struct lb_service *);

/* Makes 'dst' (owning nothing yet) a deep copy of 'src' whose locations
 * name 'file' and lie 'line_delta' lines further down ("not given"
 * locations, line 0, stay so): a service taken over from an earlier parse
 * of the same text at another place in the file. */
void lb_service_clone(struct lb_service *dst, const struct lb_service *src,
                      const char *file, int line_delta);

/* Whether 'a' and 'b' are the same in every field, locations included
 * (their file names compared as pointers: parse both into one diag).
 * Tests and fuzzing compare a reparse with a whole parse with it. */
bool lb_service_equal(const struct lb_service *a, const struct lb_service *b);

const char *lb_proto_name(enum lb_proto);
const char *lb_scheduler_name(enum lb_scheduler);
const char *lb_check_type_name(enum lb_check_type);

/* Loads 'path' into 'spec', choosing the syntax by extension (.yaml/.yml:
 * YAML, anything else: DSL). Reports problems to 'd'. Returns true if the
 * file was read and parsed without errors (semantic checks not included). */
bool lb_spec_load(const char *path, struct lb_spec *spec, struct diag *d);

/* The two front ends behind lb_spec_load. 'file' is the name used in
 * locations; 'text' is the whole file (NUL-terminated, 'len' bytes). */
bool lb_dsl_parse(const char *file, const char *text, size_t len,
                  struct lb_spec *spec, struct diag *d);
bool lb_yaml_parse(const char *file, const char *text, size_t len,
                   struct lb_spec *spec, struct diag *d);

/* A buffer a caller keeps for reading the same large file again: a
 * fresh 21 MB buffer is a fresh mapping, and faulting it in costs more
 * than reading the file into it (by hand: 21-58 ms against 6 ms). */
struct lb_text_buf {
    char *data;
    size_t allocated;
};

void lb_text_buf_destroy(struct lb_text_buf *);
/* Makes 'buf' hold at least 'size' bytes, each page touched, so that a
 * text read into it later does not wait for them to be faulted in. */
void lb_text_buf_prepare(struct lb_text_buf *, size_t size);

/* Reloading a large DSL spec after a small edit (dsl_reuse.c).
 *
 * A clean parse records, for each service, the hash, length and first line
 * of the text it was parsed from (the file cut where each service starts).
 * The next parse of the same file then takes every service whose text is
 * byte for byte that of an earlier one from the earlier spec, its locations
 * moved, and parses only the pieces that changed, each on its own. Anything
 * that piece-wise parsing reports sends the text to a whole parse, so the
 * diagnostics are always those of a whole parse; so does a large text of
 * which more than a quarter changed (the whole parse is faster then).
 * A memo that keeps the text it was cut from lets the next cut compare the
 * two texts and scan only what lies between where they start and end to
 * differ. */
struct lb_text_piece {
    uint64_t hash;
    size_t len;
    int line;                   /* Where it starts in the file. */
};

struct lb_text_memo {
    struct lb_text_piece *pieces;   /* One per service, in spec order. */
    size_t n;                       /* 0: nothing recorded. */
    size_t *taken_from;             /* Per service: the index of the
                                     * lender's service it was copied from,
                                     * or SIZE_MAX (parsed); NULL if this
                                     * parse took nothing. */
    /* The text the pieces were cut from, if kept (lb_text_memo_keep_text();
     * 'text_len' 0: none): the next cut then compares the new text with it
     * and scans and hashes only what lies between their common start and
     * common end. */
    struct lb_text_buf text;
    size_t text_len;
    bool compared;              /* These pieces were cut by comparing with
                                 * the lender's kept text. */
};

/* An earlier parse a new one may take services from. */
struct lb_spec_lender {
    const struct lb_spec *spec;
    const struct lb_text_memo *memo;    /* What 'spec' was parsed from. */
    const uint32_t *weights;    /* Each real's weight as parsed, in spec
                                 * order, or NULL: the spec's own (a user of
                                 * the spec may have changed those). */
    void *mutex;                /* A pthread_mutex_t held while reading
                                 * 'spec', or NULL. */
};

void lb_text_memo_destroy(struct lb_text_memo *);

/* Records that 'memo''s pieces were cut from the first 'len' bytes of
 * 'buf' (the whole text, as read): the memo takes 'buf''s buffer, and
 * 'buf' gets the one the memo held (to read the next text into). Whoever
 * changes the pieces keeps the text they now describe with it. */
void lb_text_memo_keep_text(struct lb_text_memo *, struct lb_text_buf *buf,
                            size_t len);
/* Before 'memo' is freed: its text's buffer goes to 'buf' if larger (a
 * buffer faulted in already reads the next text faster), 'buf''s to it,
 * and the memo keeps no text. */
void lb_text_memo_give_buffer(struct lb_text_memo *, struct lb_text_buf *buf);

/* Like lb_dsl_parse() into the empty 'spec', taking what it can from
 * 'lender' (may be NULL) and recording into 'memo' (emptied first) what
 * the next parse may take. '*n_reused' is the number of services taken
 * over rather than parsed. */
bool lb_dsl_parse_reusing(const char *file, const char *text, size_t len,
                          struct lb_spec *spec, struct diag *d,
                          const struct lb_spec_lender *lender,
                          struct lb_text_memo *memo, size_t *n_reused);

/* A reload that changes nothing but reals' weights: one edit per service
 * whose text changed, with the service as the new text has it (its
 * locations point to the lender's file name). */
struct lb_weight_edit {
    size_t service;             /* Its index in the lender's spec. */
    struct lb_service svc;
    struct lb_text_piece piece; /* Its text in the new file. */
};

struct lb_weight_edits {
    struct lb_weight_edit *edits;
    size_t n;
    /* Services the text adds after the lender's last one, parsed (their
     * locations point to the lender's file name), and their pieces. */
    struct lb_service *added;
    struct lb_text_piece *added_pieces;
    size_t n_added;
    size_t text_len;            /* Of the text read (for
                                 * lb_text_memo_keep_text()). */
    bool compared;              /* Cut by comparing with the lender's kept
                                 * text (else scanned whole). */
};

void lb_weight_edits_destroy(struct lb_weight_edits *);

/* At most this many services' weights (and added services) are taken as
 * edits; more mean a whole reload. */
#define LB_WEIGHT_EDITS_MAX 64

/* Whether the DSL 'text' is the text the lender's spec was parsed from
 * ('lender->memo') but for the weights of some reals and services added
 * at its end: every service at the same place and line, those whose text
 * changed equal to the lender's in all but their reals' weights, each
 * piece after the last one service, and the text clean where it changed.
 * Then fills 'edits' (none if the text is the same). Whether the added
 * services pass the checks is the caller's to find out. 'file' is the
 * lender's file name. Reads the lender's spec under 'lender->mutex'. */
bool lb_dsl_weight_edits(const char *file, const char *text, size_t len,
                         const struct lb_spec_lender *lender,
                         struct lb_weight_edits *edits);

/* lb_dsl_weight_edits() of the file 'path' (false for a YAML spec or if
 * it cannot be read), read into 'buf' (kept, grown as needed) if it is
 * nonnull. */
bool lb_spec_load_weight_edits(const char *path,
                               const struct lb_spec_lender *lender,
                               struct lb_weight_edits *edits,
                               struct lb_text_buf *buf);

/* Whether 'a' and 'b' are equal (lb_service_equal()) but for their reals'
 * weights and where those are written. */
bool lb_service_equal_but_weights(const struct lb_service *a,
                                  const struct lb_service *b);

/* Like lb_spec_load() with lb_dsl_parse_reusing() for the DSL; a YAML spec
 * is loaded whole and records nothing. Reads into 'buf' (kept) if it is
 * nonnull. */
bool lb_spec_load_reusing(const char *path, struct lb_spec *spec,
                          struct diag *d, const struct lb_spec_lender *,
                          struct lb_text_memo *memo, size_t *n_reused,
                          struct lb_text_buf *buf);

#endif /* FLOWLB_SPEC_H */
