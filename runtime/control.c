/* flowlbd's unixctl commands: see control.h. Each command is a thin layer
 * over agent.h; the replies are what an operator reads. */
#include <config.h>
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "swconn.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(control);

/* While the daemon starts there is no agent yet: refuses the command on
 * 'conn' and returns true. */
static bool
refuse_while_starting(struct unixctl_conn *conn,
                      const struct control_ctx *ctx)
{
    if (ctx->agent) {
        return false;
    }
    char *msg = xasprintf("flowlbd is starting (loading %s for %lld ms): "
                          "try again once it has started", ctx->spec,
                          time_msec() - ctx->start_msec);
    unixctl_command_reply_error(conn, msg);
    free(msg);
    return true;
}

/* flowlb/show before the agent exists: the spec being loaded and the
 * switch connection, in the shape of the full reply's first lines. */
static void
show_starting(const struct control_ctx *ctx, bool json, struct ds *out)
{
    long long int ms = time_msec() - ctx->start_msec;
    const char *state = swconn_state_name(ctx->swconn);
    if (json) {
        struct json *top = json_object_create();
        json_object_put_string(top, "spec", ctx->spec);
        json_object_put(top, "starting", json_boolean_create(true));
        json_object_put(top, "starting_ms", json_integer_create(ms));
        json_object_put_string(top, "bridge", swconn_target(ctx->swconn));
        json_object_put_string(top, "connection", state);
        json_object_put(top, "synced", json_boolean_create(false));
        char *text = json_to_string(top, 0);
        ds_put_cstr(out, text);
        free(text);
        json_destroy(top);
    } else {
        ds_put_format(out, "spec %s (starting: loading it for %lld ms)\n",
                      ctx->spec, ms);
        ds_put_format(out, "bridge %s: %s, not synced\n",
                      swconn_target(ctx->swconn), state);
    }
}

static void
show(struct unixctl_conn *conn, int argc, const char *argv[], void *ctx_)
{
    struct control_ctx *ctx = ctx_;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else {
            unixctl_command_reply_error(conn, "usage: flowlb/show [--json]");
            return;
        }
    }
    struct ds out = DS_EMPTY_INITIALIZER;
    if (!ctx->agent) {
        show_starting(ctx, json, &out);
        unixctl_command_reply(conn, ds_cstr(&out));
        ds_destroy(&out);
        return;
    }
    agent_show(ctx->agent, ctx->swconn, json, &out);
    /* Counters are as of the last dump; ask for a fresh one so that the
     * next show (and the drift check) sees current numbers, but not more
     * than once a second however often show is called (a dump of a large
     * pipeline costs the switch). */
    if (time_msec() - swconn_last_dump(ctx->swconn) >= 1000) {
        swconn_request_dump(ctx->swconn);
    }
    unixctl_command_reply(conn, ds_cstr(&out));
    ds_destroy(&out);
}

static bool
parse_weight(const char *s, uint32_t *w)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > 65535 || s[0] == '-') {
        return false;
    }
    *w = v;
    return true;
}

static void
reply_result(struct unixctl_conn *conn, bool ok, struct ds *err,
             const char *what)
{
    if (ok) {
        unixctl_command_reply(conn, what);
    } else {
        unixctl_command_reply_error(conn, ds_cstr(err));
    }
}

static void
set_weight(struct unixctl_conn *conn, int argc, const char *argv[],
           void *ctx_)
{
    struct control_ctx *ctx = ctx_;
    if (refuse_while_starting(conn, ctx)) {
        return;
    }
    uint32_t w;
    if (!parse_weight(argv[3], &w)) {
        unixctl_command_reply_error(conn, "weight must be an integer from "
                                    "0 to 65535");
        return;
    }
    struct ds err = DS_EMPTY_INITIALIZER;
    bool ok = agent_set_weight(ctx->agent, argv[1], argv[2], w, &err);
    reply_result(conn, ok, &err, NULL);
    ds_destroy(&err);
}

static void
drain(struct unixctl_conn *conn, int argc, const char *argv[], void *ctx_)
{
    struct control_ctx *ctx = ctx_;
    if (refuse_while_starting(conn, ctx)) {
        return;
    }
    struct ds err = DS_EMPTY_INITIALIZER;
    bool ok = agent_set_weight(ctx->agent, argv[1], argv[2], 0, &err);
    reply_result(conn, ok, &err, NULL);
    ds_destroy(&err);
}

static void
enable(struct unixctl_conn *conn, int argc, const char *argv[], void *ctx_)
{
    struct control_ctx *ctx = ctx_;
    if (refuse_while_starting(conn, ctx)) {
        return;
    }
    struct ds err = DS_EMPTY_INITIALIZER;
    bool ok = agent_enable(ctx->agent, argv[1], argv[2], &err);
    reply_result(conn, ok, &err, NULL);
    ds_destroy(&err);
}

/* The reply waits for the reload, which runs in the background: unixctl
 * keeps the connection (it reads nothing more from it) until it is sent. */
static void
reload_done(bool ok, const char *errors, void *conn_)
{
    struct unixctl_conn *conn = conn_;
    if (ok) {
        unixctl_command_reply(conn, "reloaded");
    } else {
        unixctl_command_reply_error(conn, errors);
    }
}

static void
reload(struct unixctl_conn *conn, int argc OVS_UNUSED,
       const char *argv[] OVS_UNUSED, void *ctx_)
{
    struct control_ctx *ctx = ctx_;
    if (refuse_while_starting(conn, ctx)) {
        return;
    }
    agent_reload_start(ctx->agent, reload_done, conn);
}

static void
exit_cmd(struct unixctl_conn *conn, int argc, const char *argv[],
         void *ctx_)
{
    struct control_ctx *ctx = ctx_;
    ctx->exiting = true;
    unixctl_command_reply(conn, NULL);
}

void
control_register(struct control_ctx *ctx)
{
    unixctl_command_register("flowlb/show", "[--json]", 0, 1, show, ctx);
    unixctl_command_register("flowlb/set-weight", "SERVICE REAL WEIGHT",
                             3, 3, set_weight, ctx);
    unixctl_command_register("flowlb/drain", "SERVICE REAL", 2, 2, drain,
                             ctx);
    unixctl_command_register("flowlb/enable", "SERVICE REAL", 2, 2, enable,
                             ctx);
    unixctl_command_register("flowlb/reload", "", 0, 0, reload, ctx);
    unixctl_command_register("exit", "", 0, 0, exit_cmd, ctx);
}
