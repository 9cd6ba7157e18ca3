/* Conversions of spec values from text, shared by both front ends so that
 * the DSL and YAML accept exactly the same forms. Each returns NULL on
 * success or a static error message (not to be freed) describing why the
 * text is not acceptable. */
#ifndef FLOWLB_VALUES_H
#define FLOWLB_VALUES_H 1

#include <stdint.h>
#include "spec.h"

const char *lb_parse_addr(const char *s, struct lb_addr *out);
const char *lb_parse_mac(const char *s, struct lb_mac *out);
/* "500ms", "1s", "2m"; a bare number is an error (units are required). */
const char *lb_parse_duration_ms(const char *s, uint32_t *out);
/* Decimal unsigned integer in [min, max]. */
const char *lb_parse_uint(const char *s, uint32_t min, uint32_t max,
                          uint32_t *out);
const char *lb_parse_proto(const char *s, enum lb_proto *out);
const char *lb_parse_scheduler(const char *s, enum lb_scheduler *out);
const char *lb_parse_check_type(const char *s, enum lb_check_type *out);
/* OpenFlow port: a number 1..0xfffffeff (text starting with a digit is
 * read as a number) or a name of 1-64 chars of [A-Za-z0-9_.-] that is not
 * a reserved port name (in_port, normal, local, ...). */
const char *lb_parse_ofport(const char *s);

/* A VIP: ADDR or ADDR/LEN (LEN 1-32 for IPv4, 1-128 for IPv6, no host
 * bits set). *len is LEN, or the address's full length (32 / 128) for a
 * bare address, which gives exactly lb_parse_addr's messages. */
const char *lb_parse_prefix(const char *s, struct lb_addr *out,
                            uint8_t *len);
/* A VIP port: PORT (0-65535; 0 = every port) or a range LOW-HIGH with
 * 1 <= LOW <= HIGH <= 65535. A single port gives *lo == *hi. */
const char *lb_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);
/* A timeout that becomes an OpenFlow one: a duration (as
 * lb_parse_duration_ms) of whole seconds, 1s to 65535s. */
const char *lb_parse_seconds(const char *s, uint32_t *out);
/* A netmask in address form, ones then zeros (255.255.255.0,
 * ffff:ffff:ffff:ffff::), not all zeros. Gives its length and family. */
const char *lb_parse_netmask(const char *s, uint8_t *len, int *family);
const char *lb_parse_stickiness(const char *s, enum lb_stickiness *out);
/* "true" or "false", nothing else. */
const char *lb_parse_bool(const char *s, bool *out);

/* Bits in an address of 'family': 32, 128, or 0 for no family. */
/* 32-bit FNV-1a of 'len' bytes, and of a string: the hash of names,
 * addresses and match texts in the compiler's tables (and of service
 * names into service ids: do not change it). */
uint32_t lb_fnv1a(const void *data, size_t len);
uint32_t lb_fnv1a_str(const char *s);

unsigned int lb_addr_bits(int family);
/* 'a' with every bit after the first 'len' cleared. */
void lb_addr_mask(const struct lb_addr *a, unsigned int len,
                  struct lb_addr *out);

/* The MAC of "vip-mac auto": locally administered, unicast and stable, a
 * function of the VIP only. IPv4 a.b.c.d: 02:00:a:b:c:d (readable);
 * IPv6: 02 then the first five bytes of the 64-bit FNV-1a hash of the
 * address's 16 bytes. */
void lb_vip_mac_auto(const struct lb_addr *vip, struct lb_mac *out);

/* Fills in what depends on the VIP once a front end has read a whole
 * service, so that both syntaxes build the same model: vip_prefix_len
 * (32 / 128 unless a prefix was given), port_max (== port unless a range
 * was given), persistence_prefix_len (default 32 / 128) and, for
 * "vip-mac auto" on a single-address VIP, vip_mac / has_vip_mac. Does
 * nothing without a valid VIP. */
void lb_service_complete(struct lb_service *);

/* Formatting into caller buffers (at least 46 / 18 bytes). */
void lb_addr_format(const struct lb_addr *, char *buf, size_t size);
void lb_mac_format(const struct lb_mac *, char *buf, size_t size);
bool lb_addr_equal(const struct lb_addr *, const struct lb_addr *);
bool lb_mac_is_multicast(const struct lb_mac *);
bool lb_mac_is_zero(const struct lb_mac *);

#endif /* FLOWLB_VALUES_H */
