/* Importers: existing IPVS configurations into the spec model.
 *
 * `flowlb import ipvsadm` reads `ipvsadm -S -n` / `ipvsadm-save` output;
 * `flowlb import keepalived` reads the virtual_server part of a
 * keepalived.conf. Both build an lb_spec (then written out by
 * spec_print.h) and report through a struct diag with the location in the
 * INPUT file, in the format every flowlb error has. Anything that cannot be
 * carried over faithfully is an error (NAT, tunnels, firewall marks,
 * schedulers without a mapping) or, when the result still does what the
 * operator had modulo a detail, a warning; nothing is silently dropped.
 *
 * ipvsadm and keepalived know nothing of the reals' MACs, which direct
 * routing on a switch needs: struct import_options carries them (from
 * --mac options and `ip neigh show` output). A real whose MAC is unknown is
 * imported without one and a warning names it; `flowlb check` then reports
 * "missing 'mac' for real ADDR" at that real's line of the written spec.
 */
#ifndef FLOWLB_IMPORT_H
#define FLOWLB_IMPORT_H 1

#include <stdbool.h>
#include <stddef.h>
#include "diag.h"
#include "spec.h"

/* One known address -> MAC binding and where it came from. */
struct import_mac {
    struct lb_addr addr;
    struct lb_mac mac;
    struct location loc;        /* --mac option (no line) or neigh file. */
};

/* What a firewall mark selects (--fwmark MARK=ADDR[/LEN],PROTO,PORT[-PORT]):
 * IPVS and keepalived only know the mark, the iptables/nft rules that set
 * it are not in their configuration. */
struct import_fwmark {
    uint32_t mark;
    struct lb_addr vip;
    uint8_t prefix_len;
    enum lb_proto proto;
    uint16_t port, port_max;
};

struct import_options {
    struct import_mac *macs;
    size_t n_macs, allocated_macs;
    struct import_fwmark *fwmarks;
    size_t n_fwmarks;
    /* vip-mac for every imported service: none (default; something else
     * must answer ARP/ND for the VIP, as the IPVS director did), 'auto'
     * (derived from the VIP), or one given MAC. */
    bool vip_mac_auto;
    bool has_vip_mac;
    struct lb_mac vip_mac;
};

void import_options_init(struct import_options *);
void import_options_destroy(struct import_options *);

/* Parses "ADDR=MAC" (a --mac option). An address given twice with
 * different MACs is an error. Returns false after reporting to 'd'. */
bool import_add_mac_option(struct import_options *, const char *arg,
                           struct diag *d);

/* Reads `ip neigh show` / `ip -6 neigh show` output:
 *     10.0.0.11 dev eth0 lladdr 8e:97:27:0e:e3:18 REACHABLE
 * Entries without lladdr (FAILED, INCOMPLETE) are skipped. MACs given with
 * --mac win over the table; an address the table lists with two different
 * MACs (and that --mac does not settle) is an error at its second line. */
bool import_load_neigh(struct import_options *, const char *file,
                       const char *text, size_t len, struct diag *d);

/* Parses "MARK=ADDR[/LEN],PROTO,PORT[-PORT]" (a --fwmark option). */
bool import_add_fwmark_option(struct import_options *, const char *arg,
                              struct diag *d);
const struct import_fwmark *import_find_fwmark(const struct import_options *,
                                               uint32_t mark);

/* The MAC known for 'addr', or NULL. */
const struct import_mac *import_find_mac(const struct import_options *,
                                         const struct lb_addr *addr);

/* Parses ipvsadm rules text ('file' names it in locations) and appends
 * one service per virtual service to 'spec'. Returns false if an error
 * was reported ('spec' may then hold a partial import: do not print it). */
bool import_ipvsadm(const char *file, const char *text, size_t len,
                    const struct import_options *, struct lb_spec *spec,
                    struct diag *d);

/* Reads keepalived.conf at 'path' (following its include directives) and
 * appends one service per virtual server (and per address of a
 * virtual_server_group). Same contract as import_ipvsadm. */
bool import_keepalived(const char *path, const struct import_options *,
                       struct lb_spec *spec, struct diag *d);

/* `flowlb import ...`: argv[0] is "import". Writes the -o file with
 * 'write_file' (the compiler's atomic writer). Returns the exit status:
 * 0 written, 1 errors (nothing written), 2 usage error. */
int flowlb_import_main(int argc, char *argv[],
                       bool (*write_file)(const char *path, const char *data,
                                          size_t len));

/* --- Shared by the importers (import_common.c) ------------------------ */

/* A readable, stable service name: "tcp-10-0-0-100-80", with 'prefix'
 * (a keepalived group name) in front when given. Caller frees. */
char *import_service_name(const char *prefix, enum lb_proto,
                          const struct lb_addr *vip, uint16_t port);

/* Makes the names of spec->services[first..] unique by appending "-2",
 * "-3", ... to later duplicates. */
void import_unique_names(struct lb_spec *, size_t first);

/* Maps an IPVS scheduler name onto flowlb's; false for the IPVS
 * schedulers without a mapping (lblc, lblcr, sed, nq, ovf, twos, ...). */
bool import_scheduler(const char *name, enum lb_scheduler *out);
/* "rr, wrr, lc, wlc, sh, dh, mh, fo" for messages. */
extern const char import_scheduler_list[];

/* Fills real->mac from the options if known; else warns at 'loc' that
 * the MAC is unknown. */
void import_set_mac(const struct import_options *, struct lb_real *,
                    const struct location *loc, struct diag *d);

/* Applies the options' vip-mac choice to a service. */
void import_set_vip_mac(const struct import_options *, struct lb_service *);

/* A netmask as IPVS writes it (-M 255.255.255.0, or a prefix length for
 * IPv6 / "/24" / "24") to a prefix length; NULL or an error message. */
const char *import_netmask(const char *s, int family, uint8_t *prefix_len);

#endif /* FLOWLB_IMPORT_H */
