/* exec check: /bin/sh -c COMMAND; exit status 0 = up.
 *
 * The command gets FLOWLB_SERVICE, FLOWLB_REAL, FLOWLB_PORT (and
 * FLOWLB_SOURCE when a source address is set) in its environment, /dev/null
 * as stdin/stdout/stderr, default signal dispositions, and its own process
 * group so that a timeout kills the whole tree (SIGKILL to the group).
 *
 * Started with posix_spawn(), not fork(): see spawn().
 *
 * Exit is noticed without signals: the child inherits the write end of a
 * pipe as fd 3, and end-of-file on the read end wakes the poll loop when
 * the process exits; waitpid(WNOHANG) then reaps it. A command that leaves
 * a background process holding fd 3 is still reaped by a 100 ms fallback
 * poll. waitpid() is only ever called on our own pids, so other users of
 * child processes in the daemon (OVS's process.c) are not disturbed.
 */
#define _GNU_SOURCE 1           /* pipe2, posix_spawn_..._addclosefrom_np */
#include <config.h>
#include "health_check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "util.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "values.h"

VLOG_DEFINE_THIS_MODULE(check_exec);

extern char **environ;

#define REAP_FALLBACK_MS 100

struct exec_probe {
    struct ovs_list node;       /* In exec_ctx 'running'. */
    struct health_probe *probe;
    pid_t pid;
    int fd;                     /* Read end of the exit pipe; -1 at EOF. */
    long long int last_reap;    /* time_msec() of the last waitpid(). */
};

struct exec_zombie {
    struct ovs_list node;       /* In exec_ctx 'zombies'. */
    pid_t pid;                  /* Killed, not reaped yet. */
};

struct exec_ctx {
    struct ovs_list running;
    struct ovs_list zombies;
};

static void *
exec_create(void)
{
    struct exec_ctx *ctx = xzalloc(sizeof *ctx);

    ovs_list_init(&ctx->running);
    ovs_list_init(&ctx->zombies);
    return ctx;
}

static bool
reap(pid_t pid, int *status)
{
    pid_t r;

    do {
        r = waitpid(pid, status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    /* ECHILD: someone else reaped it (e.g. SIGCHLD set to SIG_IGN); treat
     * as gone with an unknown status. */
    if (r < 0) {
        *status = -1;
        return true;
    }
    return r == pid;
}

static void
exec_destroy(void *ctx_)
{
    struct exec_ctx *ctx = ctx_;
    struct exec_zombie *z;

    ovs_assert(ovs_list_is_empty(&ctx->running));
    /* The zombies got SIGKILL; give them up to a second to go. */
    for (int i = 0; i < 1000 && !ovs_list_is_empty(&ctx->zombies); i++) {
        LIST_FOR_EACH_SAFE (z, node, &ctx->zombies) {
            int status;

            if (reap(z->pid, &status)) {
                ovs_list_remove(&z->node);
                free(z);
            }
        }
        if (!ovs_list_is_empty(&ctx->zombies)) {
            nanosleep(&(struct timespec) { .tv_nsec = 1000 * 1000 }, NULL);
        }
    }
    LIST_FOR_EACH_POP (z, node, &ctx->zombies) {
        VLOG_WARN("exec check process %ld did not die", (long) z->pid);
        free(z);
    }
    free(ctx);
}

static char **
make_env(const struct health_probe *probe, char **own, size_t *n_own)
{
    char addr[INET6_ADDRSTRLEN];
    size_t n = 0, k = 0;
    char **envp;

    for (char **e = environ; e && *e; e++) {
        n++;
    }
    envp = xmalloc((n + 5) * sizeof *envp);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "FLOWLB_SERVICE=", 15)
            && strncmp(*e, "FLOWLB_REAL=", 12)
            && strncmp(*e, "FLOWLB_PORT=", 12)
            && strncmp(*e, "FLOWLB_SOURCE=", 14)) {
            envp[k++] = *e;
        }
    }
    *n_own = 0;
    own[(*n_own)++] = xasprintf("FLOWLB_SERVICE=%s", probe->service);
    lb_addr_format(probe->addr, addr, sizeof addr);
    own[(*n_own)++] = xasprintf("FLOWLB_REAL=%s", addr);
    own[(*n_own)++] = xasprintf("FLOWLB_PORT=%u", probe->port);
    if (probe->source->family) {
        lb_addr_format(probe->source, addr, sizeof addr);
        own[(*n_own)++] = xasprintf("FLOWLB_SOURCE=%s", addr);
    }
    for (size_t i = 0; i < *n_own; i++) {
        envp[k++] = own[i];
    }
    envp[k] = NULL;
    return envp;
}

/* Spawns /bin/sh -c COMMAND with the exit pipe's write end 'w' as fd 3.
 * posix_spawn() (a vfork underneath) costs the daemon far less than fork()
 * when hundreds of checks start together. Returns 0 or an errno. */
static int
spawn(const struct health_probe *probe, int w, pid_t *pid)
{
    char *argv[] = { "/bin/sh", "-c", probe->check->command, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    char *own[4];
    size_t n_own;
    char **envp;
    int error;

    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP
                             | POSIX_SPAWN_SETSIGDEF
                             | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, w, 3);    /* w > 3: see caller. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);

    envp = make_env(probe, own, &n_own);
    error = posix_spawn(pid, argv[0], &fa, &attr, argv, envp);
    for (size_t i = 0; i < n_own; i++) {
        free(own[i]);
    }
    free(envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return error;
}

static bool
exec_start(void *ctx_, struct health_probe *probe, struct health_verdict *v)
{
    struct exec_ctx *ctx = ctx_;
    struct exec_probe *ep;
    int p[2], w, error;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, errno,
                           "pipe: %s", strerror(errno));
        return false;
    }
    /* Above fd 3, so that dup2() onto 3 really copies (and so clears
     * close-on-exec) and fds 0-2 are not clobbered before being reset. */
    w = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
    close(p[1]);
    if (w < 0) {
        error = errno;
        close(p[0]);
        health_verdict_set(v, false, HEALTH_R_INTERNAL, error,
                           "fcntl: %s", strerror(error));
        return false;
    }
    error = spawn(probe, w, &pid);
    close(w);
    if (error) {
        close(p[0]);
        health_verdict_set(v, false, HEALTH_R_EXEC_ERROR, error,
                           "cannot run /bin/sh: %s", strerror(error));
        return false;
    }

    ep = xmalloc(sizeof *ep);
    ep->probe = probe;
    ep->pid = pid;
    ep->fd = p[0];
    ep->last_reap = time_msec();
    ovs_list_push_back(&ctx->running, &ep->node);
    probe->priv = ep;
    return true;
}

static void
exec_forget(struct exec_probe *ep)
{
    ovs_list_remove(&ep->node);
    if (ep->fd >= 0) {
        close(ep->fd);
    }
    ep->probe->priv = NULL;
    free(ep);
}

static void
exec_cancel(void *ctx_, struct health_probe *probe)
{
    struct exec_ctx *ctx = ctx_;
    struct exec_probe *ep = probe->priv;
    int status;

    if (!ep) {
        return;
    }
    kill(-ep->pid, SIGKILL);
    kill(ep->pid, SIGKILL);
    if (!reap(ep->pid, &status)) {
        struct exec_zombie *z = xmalloc(sizeof *z);

        z->pid = ep->pid;
        ovs_list_push_back(&ctx->zombies, &z->node);
    }
    exec_forget(ep);
}

static void
exec_verdict(int status, struct health_verdict *v)
{
    if (status == -1) {
        health_verdict_set(v, false, HEALTH_R_EXEC_ERROR, ECHILD,
                           "exit status lost (reaped elsewhere)");
    } else if (WIFEXITED(status) && !WEXITSTATUS(status)) {
        health_verdict_set(v, true, HEALTH_R_OK, 0, "exit 0");
    } else if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);

        health_verdict_set(v, false, HEALTH_R_EXEC_EXIT, code, "exit %d%s",
                           code, code == 127 ? " (command not found?)" : "");
    } else if (WIFSIGNALED(status)) {
        health_verdict_set(v, false, HEALTH_R_EXEC_SIGNAL, WTERMSIG(status),
                           "killed by signal %d", WTERMSIG(status));
    } else {
        health_verdict_set(v, false, HEALTH_R_EXEC_ERROR, 0,
                           "unexpected wait status %#x", status);
    }
}

static void
exec_run(void *ctx_)
{
    struct exec_ctx *ctx = ctx_;
    long long int now = time_msec();
    struct exec_probe *ep;
    struct exec_zombie *z;
    int status;

    LIST_FOR_EACH_SAFE (z, node, &ctx->zombies) {
        if (reap(z->pid, &status)) {
            ovs_list_remove(&z->node);
            free(z);
        }
    }

    LIST_FOR_EACH_SAFE (ep, node, &ctx->running) {
        struct health_probe *probe;
        struct health_verdict v;

        if (ep->fd >= 0) {
            char buf[256];
            ssize_t n;

            while ((n = read(ep->fd, buf, sizeof buf)) > 0) {
                continue;       /* Output on fd 3 is ignored. */
            }
            if (!n) {
                close(ep->fd);
                ep->fd = -1;
            }
        }
        if (ep->fd >= 0 && now < ep->last_reap + REAP_FALLBACK_MS) {
            continue;
        }
        ep->last_reap = now;
        if (!reap(ep->pid, &status)) {
            continue;
        }
        exec_verdict(status, &v);
        probe = ep->probe;
        exec_forget(ep);
        health_probe_done(probe, &v);
    }
}

static void
exec_wait(void *ctx_)
{
    struct exec_ctx *ctx = ctx_;
    struct exec_probe *ep;

    if (!ovs_list_is_empty(&ctx->zombies)) {
        poll_timer_wait(10);
    }
    LIST_FOR_EACH (ep, node, &ctx->running) {
        if (ep->fd >= 0) {
            poll_fd_wait(ep->fd, POLLIN);
            poll_timer_wait_until(ep->last_reap + REAP_FALLBACK_MS);
        } else {
            poll_timer_wait(1); /* Exited, about to be reapable. */
        }
    }
}

const struct health_kind health_kind_exec = {
    .name = "exec",
    .create = exec_create,
    .destroy = exec_destroy,
    .start = exec_start,
    .cancel = exec_cancel,
    .run = exec_run,
    .wait = exec_wait,
};
