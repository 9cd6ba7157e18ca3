/* flowlbd's unixctl commands (ovs-appctl -t flowlbd ...). */
#ifndef FLOWLB_CONTROL_H
#define FLOWLB_CONTROL_H 1

#include <stdbool.h>

struct agent;
struct swconn;

/* What the commands act on. 'reload' is set by flowlb/reload (the daemon
 * performs it, as for SIGHUP, and replies through control_reload_done());
 * 'exiting' by exit. */
struct control_ctx {
    struct agent *agent;        /* NULL while the daemon starts. */
    struct swconn *swconn;
    const char *spec;           /* The spec's path. */
    long long int start_msec;   /* When loading it began (time_msec()). */
    bool exiting;
};

/* Registers flowlb/show, flowlb/set-weight, flowlb/drain, flowlb/enable,
 * flowlb/reload and exit, all acting on 'ctx' (which must outlive the
 * unixctl server). They may run before the agent exists (a spec of 10,000
 * services takes seconds to load): show then says so, exit takes effect
 * once the spec is loaded, and the others are refused. */
void control_register(struct control_ctx *ctx);

#endif /* FLOWLB_CONTROL_H */
