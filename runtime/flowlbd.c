/* flowlbd: keeps a flowlb spec installed in an Open vSwitch bridge,
 * health-checks the reals and fails over. See docs/flowlbd.8.
 *
 * Built like OVS's own daemons: daemonize_start -> unixctl server ->
 * commands -> daemonize_complete -> run/wait/poll_block loop. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "alloc_tune.h"
#include "command-line.h"
#include "connload.h"
#include "control.h"
#include "cttimeout.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "socket-util.h"
#include "health.h"
#include "latch.h"
#include "lower.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "swconn.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"
#include "values.h"

VLOG_DEFINE_THIS_MODULE(flowlbd);

/* A busy loop serves `ovs-appctl -t flowlbd` at most this often (see the
 * main loop). */
#define UNIXCTL_PERIOD_MS 10

struct flowlbd_options {
    char *bridge;               /* vconn target. */
    char *unixctl_path;         /* NULL: default (RUNDIR/flowlbd.PID.ctl). */
    int reconcile_ms;
    bool no_checks;             /* Ignore the spec's health checks. */
    char *ovsdb;                /* For zone timeout policies; "none". */
    char *datapath_type;        /* NULL: the bridge's. */
    int lc_interval_ms;         /* lc/wlc recount period; 0: static. */
    char *vswitchd;             /* ovs-appctl target for conntrack. */
    struct agent_options agent;
    const char *spec;
};

/* SIGHUP -> reload, through a pipe that the poll loop watches (OVS
 * treats SIGHUP as fatal by default; we take it over). */
static int sighup_fds[2] = { -1, -1 };

static void
sighup_handler(int sig OVS_UNUSED)
{
    int saved = errno;
    ignore(write(sighup_fds[1], "", 1));
    errno = saved;
}

static void
sighup_init(void)
{
    fatal_signal_init();        /* First, so that our handler wins. */
    xpipe_nonblocking(sighup_fds);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sighup_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGHUP, &sa, NULL)) {
        ovs_fatal(errno, "sigaction(SIGHUP) failed");
    }
}

static bool
sighup_poll(void)
{
    char buf[64];
    bool got = false;
    while (read(sighup_fds[0], buf, sizeof buf) > 0) {
        got = true;
    }
    return got;
}

static void
usage(void)
{
    printf("%s: flowlb agent: keeps a load-balancer spec installed in an "
           "Open vSwitch\nbridge, health-checks the reals and fails over.\n"
           "usage: %s [OPTIONS] SPEC\n"
           "\nOpenFlow:\n"
           "  --bridge=TARGET         bridge to manage: unix:RUNDIR/BR.mgmt"
           " or tcp:IP:PORT\n"
           "                          (default unix:%s/br0.mgmt)\n"
           "  --reconcile-interval=T  re-read the switch and repair drift "
           "every T\n"
           "                          (5s, 500ms; 0 disables; default 5s)\n"
           "\nPipeline (as flowlb compile):\n"
           "  --table-base=N          first of flowlb's 8 tables (default"
           " 0)\n"
           "  --next-table=N          send non-LB traffic to table N "
           "instead of NORMAL\n"
           "  --ct-zone=N             conntrack zone (default 64000)\n"
           "\nBehaviour:\n"
           "  --expire-nodest-conn    reschedule established connections "
           "of a real that\n"
           "                          goes down (default: keep forwarding "
           "them to it)\n"
           "  --no-checks             ignore the spec's health checks\n"
           "  --ovsdb=DB              where to set the conntrack zone's "
           "timeout policy\n"
           "                          for udp-timeout (default unix:%s/"
           "db.sock; none: never)\n"
           "  --datapath-type=TYPE    datapath of the zone policy (default:"
           " the bridge's)\n"
           "  --lc-interval=T         lc/wlc services: re-weight from "
           "conntrack connection\n"
           "                          counts every T (default 2s; 0: "
           "static weights)\n"
           "  --vswitchd=TARGET       ovs-appctl target of ovs-vswitchd "
           "(default ovs-vswitchd)\n"
           "\nControl:\n"
           "  --unixctl=PATH          control socket (default "
           "RUNDIR/flowlbd.PID.ctl)\n",
           program_name, program_name, ovs_rundir(), ovs_rundir());
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n"
           "\nCommands (ovs-appctl -t PATH ...): flowlb/show [--json], "
           "flowlb/set-weight\nSERVICE REAL N, flowlb/drain SERVICE REAL, "
           "flowlb/enable SERVICE REAL,\nflowlb/reload, exit. "
           "SIGHUP reloads too. See flowlbd(8).\n");
    exit(EXIT_SUCCESS);
}

static uint32_t
parse_uint_option(const char *name, const char *arg, uint32_t min,
                  uint32_t max)
{
    uint32_t v;
    const char *err = lb_parse_uint(arg, min, max, &v);
    if (err) {
        ovs_fatal(0, "--%s=%s: %s", name, arg, err);
    }
    return v;
}

static void
parse_options(int argc, char *argv[], struct flowlbd_options *o)
{
    enum {
        OPT_BRIDGE = UCHAR_MAX + 1,
        OPT_UNIXCTL,
        OPT_RECONCILE,
        OPT_TABLE_BASE,
        OPT_NEXT_TABLE,
        OPT_CT_ZONE,
        OPT_EXPIRE_NODEST,
        OPT_NO_CHECKS,
        OPT_OVSDB,
        OPT_DATAPATH_TYPE,
        OPT_LC_INTERVAL,
        OPT_VSWITCHD,
        DAEMON_OPTION_ENUMS,
        VLOG_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"bridge", required_argument, NULL, OPT_BRIDGE},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"reconcile-interval", required_argument, NULL, OPT_RECONCILE},
        {"table-base", required_argument, NULL, OPT_TABLE_BASE},
        {"next-table", required_argument, NULL, OPT_NEXT_TABLE},
        {"ct-zone", required_argument, NULL, OPT_CT_ZONE},
        {"expire-nodest-conn", no_argument, NULL, OPT_EXPIRE_NODEST},
        {"no-checks", no_argument, NULL, OPT_NO_CHECKS},
        {"ovsdb", required_argument, NULL, OPT_OVSDB},
        {"datapath-type", required_argument, NULL, OPT_DATAPATH_TYPE},
        {"lc-interval", required_argument, NULL, OPT_LC_INTERVAL},
        {"vswitchd", required_argument, NULL, OPT_VSWITCHD},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_BRIDGE:
            free(o->bridge);
            o->bridge = xstrdup(optarg);
            break;
        case OPT_UNIXCTL:
            o->unixctl_path = optarg;
            break;
        case OPT_RECONCILE: {
            uint32_t ms;
            if (lb_parse_duration_ms(optarg, &ms)) {
                /* A bare number means seconds. */
                ms = parse_uint_option("reconcile-interval", optarg, 0,
                                       86400) * 1000;
            }
            o->reconcile_ms = ms;
            break;
        }
        case OPT_TABLE_BASE:
            o->agent.lower.table_base = parse_uint_option(
                "table-base", optarg, 0, 254 - LOWER_N_TABLES + 1);
            break;
        case OPT_NEXT_TABLE:
            o->agent.lower.next_table = parse_uint_option("next-table",
                                                          optarg, 0, 254);
            break;
        case OPT_CT_ZONE:
            o->agent.lower.ct_zone = parse_uint_option("ct-zone", optarg, 0,
                                                       65535);
            break;
        case OPT_EXPIRE_NODEST:
            o->agent.expire_nodest_conn = true;
            break;
        case OPT_NO_CHECKS:
            o->no_checks = true;
            break;
        case OPT_OVSDB:
            free(o->ovsdb);
            o->ovsdb = xstrdup(optarg);
            break;
        case OPT_DATAPATH_TYPE:
            free(o->datapath_type);
            o->datapath_type = xstrdup(optarg);
            break;
        case OPT_LC_INTERVAL: {
            uint32_t ms;
            if (lb_parse_duration_ms(optarg, &ms)) {
                ms = parse_uint_option("lc-interval", optarg, 0, 86400) * 1000;
            }
            o->lc_interval_ms = ms;
            break;
        }
        case OPT_VSWITCHD:
            free(o->vswitchd);
            o->vswitchd = xstrdup(optarg);
            break;
        case 'h':
            usage();
            break;
        case 'V':
            printf("%s (flowlb) %s\n", program_name, FLOWLB_VERSION);
            exit(EXIT_SUCCESS);
        DAEMON_OPTION_HANDLERS
        VLOG_OPTION_HANDLERS
        case '?':
            exit(EXIT_FAILURE);
        default:
            abort();
        }
    }
    free(short_options);

    if (optind + 1 != argc) {
        ovs_fatal(0, "exactly one SPEC argument expected "
                  "(use --help for help)");
    }
    o->spec = argv[optind];
    if (!o->bridge) {
        o->bridge = xasprintf("unix:%s/br0.mgmt", ovs_rundir());
    }
    if (!o->vswitchd) {
        o->vswitchd = xstrdup("ovs-vswitchd");
    }
    if (!o->ovsdb) {
        o->ovsdb = xasprintf("unix:%s/db.sock", ovs_rundir());
    }
}

/* "unix:/run/openvswitch/br0.mgmt" -> "br0"; NULL for other targets. */
static char *
bridge_name_of(const char *target)
{
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    size_t len = strlen(base);
    if (strncmp(target, "unix:", 5) || len <= 5
        || strcmp(base + len - 5, ".mgmt")) {
        return NULL;
    }
    return xmemdup0(base, len - 5);
}

/* agent_create() in a thread of its own, while this one connects to the
 * switch and reads what it has installed: after a restart onto a
 * programmed bridge, the switch's dump (0.8 s of its work at 10,000
 * services) overlaps reading, lowering and decoding the spec, and the
 * first comparison can run as soon as the agent is built. */
struct create_job {
    const char *spec;
    const struct agent_options *opts;
    struct health_monitor *hm;
    struct ds *errors;
    struct agent *agent;
    struct latch done;
};

static void *
create_main(void *job_)
{
    struct create_job *job = job_;
    job->agent = agent_create(job->spec, job->opts, job->hm, job->errors);
    latch_set(&job->done);
    return NULL;
}

static struct agent *
create_while_connecting(const char *spec, const struct agent_options *opts,
                        struct health_monitor *hm, struct swconn *sc,
                        struct unixctl_server *unixctl, struct ds *errors)
{
    struct create_job job = { .spec = spec, .opts = opts, .hm = hm,
                              .errors = errors };
    pthread_t thread;

    latch_init(&job.done);
    if (pthread_create(&thread, NULL, create_main, &job)) {
        latch_destroy(&job.done);
        return agent_create(spec, opts, hm, errors);
    }
    while (!latch_is_set(&job.done)) {
        swconn_run(sc);
        unixctl_server_run(unixctl);
        swconn_wait(sc);
        unixctl_server_wait(unixctl);
        latch_wait(&job.done);
        poll_block();
    }
    pthread_join(thread, NULL);
    latch_destroy(&job.done);
    return job.agent;
}

int
main(int argc, char *argv[])
{
    struct flowlbd_options o = { .reconcile_ms = 5000,
                                 .lc_interval_ms = 2000 };
    lb_tune_malloc();
    lower_options_init(&o.agent.lower);

    set_program_name(argv[0]);
    parse_options(argc, argv, &o);
    fatal_ignore_sigpipe();

    daemonize_start(false);

    /* The spec is compiled before the daemon detaches, so that a broken
     * one is reported on stderr with a failing exit status. */
    struct health_monitor *hm = o.no_checks ? NULL : health_monitor_create();
    struct ds errors = DS_EMPTY_INITIALIZER;
    struct swconn *sc = swconn_create(o.bridge, o.reconcile_ms);
    /* The control socket answers while the spec loads (seconds at 10,000
     * services): flowlb/show says the daemon is starting. A SIGHUP
     * meanwhile reloads once it has started. */
    sighup_init();
    struct unixctl_server *unixctl;
    int error = unixctl_server_create(o.unixctl_path, &unixctl);
    if (error) {
        ovs_fatal(error, "failed to create unixctl server");
    }
    struct control_ctx ctx = {
        .swconn = sc,
        .spec = o.spec,
        .start_msec = time_msec(),
    };
    control_register(&ctx);
    struct agent *agent = create_while_connecting(o.spec, &o.agent, hm, sc,
                                                  unixctl, &errors);
    if (!agent) {
        unixctl_server_destroy(unixctl);
        swconn_destroy(sc);
        fputs(ds_cstr(&errors), stderr);
        VLOG_ERR("%s: not loaded, exiting", o.spec);
        exit(EXIT_FAILURE);
    }
    ds_destroy(&errors);
    ctx.agent = agent;
    struct cttimeout *ctt = NULL;
    if (strcmp(o.ovsdb, "none")) {
        char *br = bridge_name_of(o.bridge);
        ctt = cttimeout_create(o.ovsdb, o.datapath_type, br);
        free(br);
    }
    struct connload *cl = NULL;
    unsigned int cl_seqno = 0;
    if (o.lc_interval_ms > 0) {
        cl = connload_create(o.vswitchd, o.agent.lower.ct_zone,
                             o.lc_interval_ms);
    }

    daemonize_complete();
    VLOG_INFO("flowlbd %s: %s on %s, reconcile every %d ms%s",
              FLOWLB_VERSION, o.spec, o.bridge, o.reconcile_ms,
              o.agent.expire_nodest_conn ? ", expire_nodest_conn" : "");

    /* unixctl_server_run() tries accept() on its socket each time, and a
     * failing accept() is dear: the kernel makes a socket and a file before
     * it finds no connection waiting. Health checks wake the loop hundreds
     * of times a second (10,000 reals at 1 s; when every answer woke it,
     * 13% of flowlbd's CPU went there), so the commands are served at most
     * every UNIXCTL_PERIOD_MS; an idle loop still serves them at once. */
    long long int unixctl_next = 0;
    bool unixctl_ran = false;
    while (!ctx.exiting) {
        swconn_run(ctx.swconn);
        if (hm) {
            health_monitor_run(hm);
        }
        long long int now = time_msec();
        unixctl_ran = now >= unixctl_next;
        if (unixctl_ran) {
            unixctl_server_run(unixctl);
            unixctl_next = now + UNIXCTL_PERIOD_MS;
        }
        if (sighup_poll()) {
            VLOG_INFO("SIGHUP: reloading %s", o.spec);
            agent_reload_start(agent, NULL, NULL); /* Logs its outcome. */
        }
        if (cl) {
            connload_set_enabled(cl, agent_uses_connload(agent));
            connload_run(cl);
            if (connload_seqno(cl) != cl_seqno) {
                cl_seqno = connload_seqno(cl);
                agent_apply_connload(agent, cl);
            }
        }
        /* After everything that may change what we want. */
        agent_run(agent, ctx.swconn);
        swconn_sync(ctx.swconn, agent_desired(agent),
                    agent_desired_seqno(agent));
        if (ctt) {
            uint16_t zone;
            uint32_t udp_s;
            agent_ct_policy(agent, &zone, &udp_s);
            cttimeout_set(ctt, zone, udp_s);
            cttimeout_run(ctt);
        }

        swconn_wait(ctx.swconn);
        if (ctt) {
            cttimeout_wait(ctt);
        }
        if (cl) {
            connload_wait(cl);
        }
        if (hm) {
            health_monitor_wait(hm);
        }
        if (unixctl_ran) {
            unixctl_server_wait(unixctl);
        } else {
            poll_timer_wait_until(unixctl_next);
        }
        poll_fd_wait(sighup_fds[0], POLLIN);
        if (ctx.exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    VLOG_INFO("exiting; the pipeline stays installed");
    unixctl_server_destroy(unixctl);
    swconn_destroy(ctx.swconn);
    cttimeout_destroy(ctt);
    connload_destroy(cl);
    agent_destroy(agent);
    health_monitor_destroy(hm);
    free(o.bridge);
    free(o.ovsdb);
    free(o.datapath_type);
    free(o.vswitchd);
    return 0;
}
