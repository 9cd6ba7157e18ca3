/* libFuzzer target: flowlbd's unixctl commands, end to end. A real unixctl
 * server (as in flowlbd) serves control.c's commands over an agent loaded
 * from a fixed spec; each input becomes one JSON-RPC request sent by a
 * client over the socket, and the server runs until it has replied.
 *
 * Input: the first byte picks the command (flowlb/show, set-weight, drain,
 * enable, reload, exit, or the following bytes as a raw method name); the
 * rest is split at NUL bytes into the arguments. Arguments that are not
 * valid UTF-8 are rejected by OVS's JSON layer before flowlb sees them, so
 * they are replaced with '?' bytes to reach the commands. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "control.h"
#include "jsonrpc.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ofsync.h"
#include "swconn.h"
#include "unixctl.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two syntaxes of address, shared reals, a drained one, a named port. */
static const char spec_text[] =
    "service web {\n"
    "    vip 192.0.2.10 tcp 80;\n"
    "    vip-mac 02:00:00:00:02:00;\n"
    "    scheduler wrr;\n"
    "    real 10.1.0.1 mac 02:00:00:01:00:01 port 1 weight 3;\n"
    "    real 10.1.0.2 mac 02:00:00:01:00:02 port 2;\n"
    "    real 10.1.0.3 mac 02:00:00:01:00:03 port uplink weight 0;\n"
    "}\n"
    "service https {\n"
    "    vip 192.0.2.10 tcp 443;\n"
    "    vip-mac 02:00:00:00:02:00;\n"
    "    scheduler sh;\n"
    "    real 10.1.0.1 mac 02:00:00:01:00:01 port 1;\n"
    "    real 10.1.0.4 mac 02:00:00:01:00:04 port 4 weight 2;\n"
    "}\n"
    "service web6 {\n"
    "    vip 2001:db8::100 tcp 80;\n"
    "    vip-mac 02:00:00:00:06:00;\n"
    "    real 2001:db8::11 mac 02:00:00:00:06:11 port 1 weight 2;\n"
    "    real 2001:db8::12 mac 02:00:00:00:06:12 port 2;\n"
    "}\n";

static struct unixctl_server *server;
static struct control_ctx ctx;
static struct jsonrpc *client;
static char sock_path[256];

static void
connect_client(void)
{
    if (client) {
        jsonrpc_close(client);
        client = NULL;
    }
    int error = unixctl_client_create(sock_path, &client);
    if (error) {
        fprintf(stderr, "fuzz_unixctl: connect %s: %s\n", sock_path,
                ovs_strerror(error));
        abort();
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    set_program_name("fuzz_unixctl");
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);

    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char spec_path[256];
    snprintf(spec_path, sizeof spec_path, "%s/flowlb-fuzz-unixctl-%ld.lb",
             dir, (long) getpid());
    FILE *f = fopen(spec_path, "w");
    if (!f || fputs(spec_text, f) == EOF || fclose(f)) {
        abort();
    }

    struct agent_options opts = { .expire_nodest_conn = false };
    lower_options_init(&opts.lower);
    struct ds errors = DS_EMPTY_INITIALIZER;
    ctx.agent = agent_create(spec_path, &opts, NULL, &errors);
    if (!ctx.agent) {
        fprintf(stderr, "fuzz_unixctl: %s", ds_cstr(&errors));
        abort();
    }
    ds_destroy(&errors);
    /* Never run: no switch, commands see an unconnected agent. */
    ctx.swconn = swconn_create("unix:/nonexistent/flowlb-fuzz.mgmt", 0);

    snprintf(sock_path, sizeof sock_path, "%s/flowlb-fuzz-%ld.ctl", dir,
             (long) getpid());
    unlink(sock_path);
    int error = unixctl_server_create(sock_path, &server);
    if (error) {
        fprintf(stderr, "fuzz_unixctl: %s: %s\n", sock_path,
                ovs_strerror(error));
        abort();
    }
    control_register(&ctx);
    connect_client();
    return 0;
}

/* Valid UTF-8 with the same byte length: invalid sequences become '?'. */
static char *
utf8_sanitize(const uint8_t *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4
                     : 0;
        bool ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            ok = (s[i + k] & 0xc0) == 0x80;
        }
        /* Overlongs and surrogates, as the strict decoders refuse them. */
        if (ok && len == 3) {
            ok = !(c == 0xe0 && s[i + 1] < 0xa0) && !(c == 0xed && s[i + 1] >= 0xa0);
        } else if (ok && len == 4) {
            ok = !(c == 0xf0 && s[i + 1] < 0x90) && !(c == 0xf4 && s[i + 1] >= 0x90);
        }
        if (!ok || c == 0) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, s + i, len);
        i += len;
    }
    out[n] = '\0';
    return out;
}

/* Runs the server (and the agent, as flowlbd's loop does) until the reply
 * to 'id' arrives; reconnects if the server dropped the connection. */
static void
transact(struct jsonrpc_msg *request)
{
    struct json *id = json_clone(request->id);
    int error = jsonrpc_send(client, request);
    for (int rounds = 0; !error; rounds++) {
        if (rounds > 10000) {
            fprintf(stderr, "fuzz_unixctl: no reply\n");
            abort();
        }
        unixctl_server_run(server);
        agent_run(ctx.agent, ctx.swconn);
        (void) agent_desired(ctx.agent);
        jsonrpc_run(client);
        struct jsonrpc_msg *reply = NULL;
        error = jsonrpc_recv(client, &reply);
        if (reply) {
            bool mine = json_equal(reply->id, id);
            if (mine && getenv("FUZZ_UNIXCTL_VERBOSE")) {
                /* To see that inputs reach the commands. */
                char *s = jsonrpc_msg_to_string(reply);
                fprintf(stderr, "reply: %.300s\n", s);
                free(s);
            }
            jsonrpc_msg_destroy(reply);
            if (mine) {
                break;
            }
        } else if (error == EAGAIN) {
            error = 0;
            unixctl_server_wait(server);
            jsonrpc_wait(client);
            jsonrpc_recv_wait(client);
            poll_block();
        }
    }
    json_destroy(id);
    if (error && getenv("FUZZ_UNIXCTL_VERBOSE")) {
        fprintf(stderr, "connection: %s\n", ovs_retval_to_string(error));
    }
    if (error) {
        connect_client();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const commands[] = {
        "flowlb/show", "flowlb/set-weight", "flowlb/drain", "flowlb/enable",
        "flowlb/reload", "exit",
    };
    const size_t n_commands = sizeof commands / sizeof *commands;
    if (!size) {
        return 0;
    }
    size_t pick = data[0] % (n_commands + 1);
    data++, size--;

    /* Fields separated by NUL; the raw method name is the first one. */
    struct json *params = json_array_create_empty();
    char *method = NULL;
    size_t start = 0;
    for (size_t i = 0; size && i <= size; i++) {
        if (i < size && data[i]) {
            continue;
        }
        char *field = utf8_sanitize(data + start, i - start);
        if (pick == n_commands && !method) {
            method = field;
        } else if (json_array(params)->n < 8) {
            json_array_add(params, json_string_create_nocopy(field));
        } else {
            free(field);
        }
        start = i + 1;
    }
    if (!method) {
        method = xstrdup(pick < n_commands ? commands[pick] : "");
    }

    struct jsonrpc_msg *request = jsonrpc_create_request(method, params, NULL);
    free(method);
    transact(request);
    ctx.exiting = false;
    return 0;
}
