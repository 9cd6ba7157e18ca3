/* Active connections per real from conntrack: see connload.h. */
#define _GNU_SOURCE 1
#include <config.h>
#include "connload.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(connload);

extern char **environ;

#define CL_CHILD_TIMEOUT_MS 20000

struct mark_count {
    struct hmap_node node;      /* By mark. */
    uint32_t mark;
    uint32_t n;
};

struct connload {
    char *vswitchd;
    uint16_t zone;
    int interval_ms;
    bool enabled;
    long long int next_run;     /* time_msec(). */
    unsigned int seqno;
    struct hmap counts;         /* Last complete count. */

    pid_t pid;                  /* Child, 0 if none. */
    bool reaped;                /* 'pid' has exited and was waited for
                                 * ('status'); its output may still be
                                 * coming (a process it started can hold
                                 * the pipe open). */
    int status;
    int out_fd;
    struct ds line;             /* Partial line of its output. */
    struct hmap partial;        /* Count being built. */
    long long int started;
    uint16_t run_zone;
};

static void
counts_clear(struct hmap *h)
{
    struct mark_count *mc;
    HMAP_FOR_EACH_POP (mc, node, h) {
        free(mc);
    }
}

static void
counts_add(struct hmap *h, uint32_t mark)
{
    struct mark_count *mc;
    HMAP_FOR_EACH_WITH_HASH (mc, node, hash_int(mark, 0), h) {
        if (mc->mark == mark) {
            mc->n++;
            return;
        }
    }
    mc = xmalloc(sizeof *mc);
    mc->mark = mark;
    mc->n = 1;
    hmap_insert(h, &mc->node, hash_int(mark, 0));
}

struct connload *
connload_create(const char *vswitchd, uint16_t zone, int interval_ms)
{
    struct connload *cl = xzalloc(sizeof *cl);
    cl->vswitchd = xstrdup(vswitchd);
    cl->zone = zone;
    cl->interval_ms = interval_ms;
    cl->out_fd = -1;
    hmap_init(&cl->counts);
    hmap_init(&cl->partial);
    ds_init(&cl->line);
    return cl;
}

static void
stop_child(struct connload *cl)
{
    if (cl->pid > 0 && !cl->reaped) {
        kill(cl->pid, SIGKILL);
        while (waitpid(cl->pid, NULL, 0) < 0 && errno == EINTR) {
            continue;
        }
    }
    cl->pid = 0;
    cl->reaped = false;
    if (cl->out_fd >= 0) {
        close(cl->out_fd);
        cl->out_fd = -1;
    }
    counts_clear(&cl->partial);
    ds_clear(&cl->line);
}

void
connload_destroy(struct connload *cl)
{
    if (cl) {
        stop_child(cl);
        counts_clear(&cl->counts);
        hmap_destroy(&cl->counts);
        hmap_destroy(&cl->partial);
        ds_destroy(&cl->line);
        free(cl->vswitchd);
        free(cl);
    }
}

void
connload_set_enabled(struct connload *cl, bool enabled)
{
    if (enabled != cl->enabled) {
        cl->enabled = enabled;
        cl->next_run = 0;
        if (!enabled) {
            stop_child(cl);
        }
    }
}

void
connload_set_zone(struct connload *cl, uint16_t zone)
{
    cl->zone = zone;
}

bool
connload_parse_line(const char *line, uint16_t zone, uint32_t *mark)
{
    char want[24];
    snprintf(want, sizeof want, ",zone=%u,", zone);
    const char *m = strstr(line, ",mark=");
    if (!strstr(line, want) || !m) {
        return false;
    }
    /* Closing connections no longer load the real. */
    static const char *const closing[] = {
        "state=TIME_WAIT", "state=CLOSE", "state=FIN_WAIT", "state=LAST_ACK",
        "state=CLOSING", NULL
    };
    for (const char *const *c = closing; *c; c++) {
        if (strstr(line, *c)) {
            return false;
        }
    }
    char *end;
    unsigned long v = strtoul(m + strlen(",mark="), &end, 0);
    if (end == m + strlen(",mark=") || v == 0 || v > UINT32_MAX) {
        return false;
    }
    *mark = v;
    return true;
}

static void
start_child(struct connload *cl)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK)) {
        cl->next_run = time_msec() + cl->interval_ms;
        return;
    }
    char zone_arg[32];
    snprintf(zone_arg, sizeof zone_arg, "zone=%u", cl->zone);
    char *argv[] = {
        "ovs-appctl", "-t", cl->vswitchd, "dpctl/dump-conntrack", zone_arg,
        NULL,
    };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int error = posix_spawnp(&pid, "ovs-appctl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 1);
        VLOG_WARN_RL(&rl, "cannot run ovs-appctl (%s)", ovs_strerror(error));
        close(fds[0]);
        cl->next_run = time_msec() + cl->interval_ms;
        return;
    }
    cl->pid = pid;
    cl->reaped = false;
    cl->out_fd = fds[0];
    cl->started = time_msec();
    cl->run_zone = cl->zone;
    counts_clear(&cl->partial);
    ds_clear(&cl->line);
}

static void
take_line(struct connload *cl)
{
    uint32_t mark;
    if (connload_parse_line(ds_cstr(&cl->line), cl->run_zone, &mark)) {
        counts_add(&cl->partial, mark);
    }
    ds_clear(&cl->line);
}

/* Reads what the child wrote; returns true at end of file. */
static bool
read_output(struct connload *cl)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(cl->out_fd, buf, sizeof buf);
        if (n > 0) {
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                    take_line(cl);
                } else if (cl->line.length < 1024) {
                    ds_put_char(&cl->line, buf[i]);
                }
            }
        } else if (n == 0) {
            if (cl->line.length) {
                take_line(cl);
            }
            return true;
        } else {
            return errno != EAGAIN && errno != EINTR;
        }
    }
}

void
connload_run(struct connload *cl)
{
    if (!cl->enabled) {
        return;
    }
    if (cl->pid > 0) {
        bool eof = cl->out_fd < 0 || read_output(cl);
        if (eof && cl->out_fd >= 0) {
            close(cl->out_fd);
            cl->out_fd = -1;
        }
        /* The child may exit before its output ends: its status is kept
         * until then (waiting for it again would only give ECHILD). */
        if (!cl->reaped) {
            pid_t r;
            do {
                r = waitpid(cl->pid, &cl->status, WNOHANG);
            } while (r < 0 && errno == EINTR);
            cl->reaped = r == cl->pid;
        }
        if (cl->reaped && cl->out_fd < 0) {
            int status = cl->status;
            cl->pid = 0;
            cl->reaped = false;
            if (WIFEXITED(status) && !WEXITSTATUS(status)) {
                hmap_swap(&cl->counts, &cl->partial);
                counts_clear(&cl->partial);
                cl->seqno++;
            } else {
                static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 1);
                VLOG_WARN_RL(&rl, "ovs-appctl -t %s dpctl/dump-conntrack "
                             "failed (status %d)", cl->vswitchd, status);
                counts_clear(&cl->partial);
            }
            cl->next_run = time_msec() + cl->interval_ms;
        } else if (time_msec() - cl->started > CL_CHILD_TIMEOUT_MS) {
            stop_child(cl);
            cl->next_run = time_msec() + cl->interval_ms;
        }
    }
    if (!cl->pid && time_msec() >= cl->next_run) {
        start_child(cl);
    }
}

void
connload_wait(struct connload *cl)
{
    if (!cl->enabled) {
        return;
    }
    if (cl->pid > 0) {
        if (cl->out_fd >= 0) {
            poll_fd_wait(cl->out_fd, POLLIN);
        }
        poll_timer_wait(50);
    } else {
        poll_timer_wait_until(cl->next_run);
    }
}

unsigned int
connload_seqno(const struct connload *cl)
{
    return cl->seqno;
}

uint32_t
connload_get(const struct connload *cl, uint32_t mark)
{
    const struct mark_count *mc;
    HMAP_FOR_EACH_WITH_HASH (mc, node, hash_int(mark, 0), &cl->counts) {
        if (mc->mark == mark) {
            return mc->n;
        }
    }
    return 0;
}
