/* Conntrack timeout policy of flowlb's zone: see cttimeout.h. */
#define _GNU_SOURCE 1
#include <config.h>
#include "cttimeout.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(cttimeout);

extern char **environ;

#define CTT_RETRY_MS 10000
#define CTT_CHILD_TIMEOUT_MS 30000

/* The shell script run by the child: $1 db, $2 datapath type ("" = ask
 * the bridge $3), $4 zone, $5 udp timeout (0 = remove our policy). Values
 * travel as arguments, never inside the script text. */
static const char ctt_script[] =
    "db=$1 dp=$2 br=$3 zone=$4 t=$5\n"
    "vs() { ovs-vsctl --db=\"$db\" --timeout=10 \"$@\"; }\n"
    "if [ -z \"$dp\" ]; then\n"
    "  dp=system\n"
    "  if [ -n \"$br\" ]; then\n"
    "    d=$(vs get bridge \"$br\" datapath_type) || exit 1\n"
    "    d=$(echo \"$d\" | tr -d '\"')\n"
    "    [ -n \"$d\" ] && dp=$d\n"
    "  fi\n"
    "fi\n"
    "if [ \"$t\" = 0 ]; then\n"
    "  vs get Open_vSwitch . datapaths:\"$dp\" >/dev/null 2>&1 || exit 0\n"
    "  exec ovs-vsctl --db=\"$db\" --timeout=10 -- --if-exists "
    "del-zone-tp \"$dp\" zone=\"$zone\"\n"
    "fi\n"
    "vs get Open_vSwitch . datapaths:\"$dp\" >/dev/null 2>&1 ||\n"
    "  vs -- --id=@d create Datapath datapath_version=0 "
    "-- set Open_vSwitch . datapaths:\"$dp\"=@d >/dev/null || exit 1\n"
    "exec ovs-vsctl --db=\"$db\" --timeout=10 --may-exist add-zone-tp "
    "\"$dp\" zone=\"$zone\" udp_first=\"$t\" udp_single=\"$t\" "
    "udp_multiple=\"$t\"\n";

struct cttimeout {
    char *db;
    char *dp_type;              /* NULL: ask the bridge. */
    char *bridge;               /* May be NULL. */

    /* Wanted and applied: (zone, seconds); 'applied_s' 0 = none of ours. */
    uint16_t want_zone, applied_zone;
    uint32_t want_s, applied_s;
    bool dirty;                 /* Want != applied, or retry pending. */
    bool failed;                /* Last attempt failed. */
    long long int next_try;     /* time_msec(). */

    /* The child running ovs-vsctl. */
    pid_t pid;                  /* 0: none. */
    int out_fd;                 /* Its stdout+stderr, non-blocking. */
    struct ds out;
    long long int started;
    uint16_t run_zone;
    uint32_t run_s;
};

struct cttimeout *
cttimeout_create(const char *db, const char *dp_type, const char *bridge)
{
    struct cttimeout *c = xzalloc(sizeof *c);
    c->db = xstrdup(db);
    c->dp_type = nullable_xstrdup(dp_type);
    c->bridge = nullable_xstrdup(bridge);
    c->out_fd = -1;
    ds_init(&c->out);
    return c;
}

static void
kill_child(struct cttimeout *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        int status;
        while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
            continue;
        }
        c->pid = 0;
    }
    if (c->out_fd >= 0) {
        close(c->out_fd);
        c->out_fd = -1;
    }
}

void
cttimeout_destroy(struct cttimeout *c)
{
    if (c) {
        kill_child(c);
        ds_destroy(&c->out);
        free(c->db);
        free(c->dp_type);
        free(c->bridge);
        free(c);
    }
}

void
cttimeout_set(struct cttimeout *c, uint16_t zone, uint32_t udp_s)
{
    c->want_zone = zone;
    c->want_s = udp_s;
    bool same = udp_s ? (c->applied_s == udp_s && c->applied_zone == zone)
                      : !c->applied_s;
    if (!same) {
        c->dirty = true;
        c->next_try = 0;
    }
}

static void
start_child(struct cttimeout *c)
{
    /* Removing our policy from a zone we no longer use, or setting one. */
    uint16_t zone = c->want_s ? c->want_zone : c->applied_zone;
    uint32_t s = c->want_s;
    if (c->applied_s && c->want_s && c->applied_zone != c->want_zone) {
        /* Zone changed: drop the old zone's policy first. */
        zone = c->applied_zone;
        s = 0;
    }

    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK)) {
        VLOG_WARN("pipe failed (%s)", ovs_strerror(errno));
        c->next_try = time_msec() + CTT_RETRY_MS;
        return;
    }
    char zone_s[16], t_s[16];
    snprintf(zone_s, sizeof zone_s, "%u", zone);
    snprintf(t_s, sizeof t_s, "%"PRIu32, s);
    char *argv[] = {
        "sh", "-c", CONST_CAST(char *, ctt_script), "flowlbd-cttimeout",
        c->db, c->dp_type ? c->dp_type : "",
        c->bridge ? c->bridge : "", zone_s, t_s, NULL,
    };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int error = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (error) {
        close(fds[0]);
        VLOG_WARN("cannot run ovs-vsctl through /bin/sh (%s)",
                  ovs_strerror(error));
        c->failed = true;
        c->next_try = time_msec() + CTT_RETRY_MS;
        return;
    }
    c->pid = pid;
    c->out_fd = fds[0];
    ds_clear(&c->out);
    c->started = time_msec();
    c->run_zone = zone;
    c->run_s = s;
}

static void
drain_output(struct cttimeout *c)
{
    char buf[512];
    ssize_t n;
    while (c->out_fd >= 0 && (n = read(c->out_fd, buf, sizeof buf)) > 0) {
        if (c->out.length < 4096) {
            ds_put_buffer(&c->out, buf, n);
        }
    }
    if (c->out_fd >= 0 && n == 0) {
        close(c->out_fd);       /* EOF: stop polling it. */
        c->out_fd = -1;
    }
}

static void
finish_child(struct cttimeout *c, int status)
{
    drain_output(c);
    if (c->out_fd >= 0) {
        close(c->out_fd);
        c->out_fd = -1;
    }
    c->pid = 0;
    ds_chomp(&c->out, '\n');
    if (WIFEXITED(status) && !WEXITSTATUS(status)) {
        c->failed = false;
        if (c->run_s) {
            VLOG_INFO("conntrack zone %u: UDP timeout %"PRIu32" s set in the "
                      "database", c->run_zone, c->run_s);
        } else {
            VLOG_INFO("conntrack zone %u: flowlb's timeout policy removed",
                      c->run_zone);
        }
        c->applied_zone = c->run_zone;
        c->applied_s = c->run_s;
        c->dirty = !(c->want_s ? (c->applied_s == c->want_s
                                  && c->applied_zone == c->want_zone)
                               : !c->applied_s);
        c->next_try = 0;
    } else {
        c->failed = true;
        VLOG_WARN("conntrack zone %u: setting the timeout policy with "
                  "ovs-vsctl failed (status %d): %s; retrying in %d s",
                  c->run_zone, status, ds_cstr(&c->out), CTT_RETRY_MS / 1000);
        c->next_try = time_msec() + CTT_RETRY_MS;
    }
}

void
cttimeout_run(struct cttimeout *c)
{
    if (c->pid > 0) {
        drain_output(c);
        int status;
        pid_t r;
        do {
            r = waitpid(c->pid, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == c->pid) {
            finish_child(c, status);
        } else if (r < 0) {
            finish_child(c, -1);
        } else if (time_msec() - c->started > CTT_CHILD_TIMEOUT_MS) {
            VLOG_WARN("ovs-vsctl did not finish in %d s; killed",
                      CTT_CHILD_TIMEOUT_MS / 1000);
            kill_child(c);
            c->failed = true;
            c->next_try = time_msec() + CTT_RETRY_MS;
        }
    }
    if (!c->pid && c->dirty && time_msec() >= c->next_try) {
        start_child(c);
    }
}

void
cttimeout_wait(struct cttimeout *c)
{
    if (c->pid > 0) {
        /* The pipe closes when the child exits; poll the status too in case
         * it left a grandchild holding the pipe. */
        if (c->out_fd >= 0) {
            poll_fd_wait(c->out_fd, POLLIN);
        }
        poll_timer_wait(100);
    } else if (c->dirty) {
        poll_timer_wait_until(c->next_try);
    }
}

const char *
cttimeout_status(const struct cttimeout *c)
{
    if (c->pid > 0 || (c->dirty && !c->failed)) {
        return "pending";
    }
    if (c->failed) {
        return "failed";
    }
    return c->applied_s ? "applied" : "none";
}
