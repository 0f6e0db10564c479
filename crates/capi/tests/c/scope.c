/* spawnfd_scope from C: a child and every process it starts in a cgroup
 * of their own, checked from /proc and from the cgroup's own files:
 * started inside it, frozen and thawed, signalled, killed (a daemon in a
 * session of its own too), waited for until empty, accounted, removed by
 * spawnfd_scope_close and spawnfd_scope_free. Needs a cgroup v2 directory
 * this process may create cgroups in, and says why it skips otherwise. */
#include "check.h"

#include <libgen.h>

/* Whether `pid` runs and is no zombie. */
static int running(pid_t pid)
{
    char state = proc_state(pid);
    return state != 0 && state != 'Z';
}

/* The value of `key` in the cgroup file `dir/name` ("frozen 1"). */
static long cgroup_value(const char *dir, const char *name, const char *key)
{
    char path[PATH_MAX], line[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    long value = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ' ')
            value = atol(line + n + 1);
    fclose(f);
    return value;
}

/* A scope under this process's own cgroup, or NULL with the reason
 * printed. */
static spawnfd_scope *new_scope(const char *what)
{
    spawnfd_scope *scope = NULL;
    int r;
    CALL(r, spawnfd_scope_new(&scope, NULL));
    if (r != 0) {
        printf("skipped: %s: no cgroup can be made here: %s\n", what, strerror(r));
        return NULL;
    }
    return scope;
}

static void bad_input(void)
{
    int fds = count_fds();
    spawnfd_scope *scope = NULL;
    CHECK_INT(spawnfd_scope_new(NULL, NULL), EINVAL);
    CHECK_INT(spawnfd_scope_new(&scope, "/proc"), EINVAL); /* not cgroup v2 */
    CHECK_INT(spawnfd_scope_new(&scope, "/nonexistent/cgroup"), ENOENT);
    CHECK(scope == NULL);
    CHECK_INT(spawnfd_scope_new_named(&scope, NULL, "x"), EINVAL);
    CHECK_INT(spawnfd_scope_new_named(&scope, "/proc", "a/b"), EINVAL);
    CHECK_INT(spawnfd_scope_kill(NULL), EINVAL);
    CHECK_INT(spawnfd_scope_signal(NULL, SIGTERM, NULL), EINVAL);
    CHECK_INT(spawnfd_scope_freeze(NULL), EINVAL);
    CHECK_INT(spawnfd_scope_wait_empty(NULL, -1), EINVAL);
    CHECK_INT(spawnfd_scope_is_empty(NULL, NULL), EINVAL);
    CHECK_INT(spawnfd_scope_events_fd(NULL), -1);
    CHECK(spawnfd_scope_path(NULL) == NULL);
    spawnfd_cmd *cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, "true"));
    CHECK_INT(spawnfd_cmd_scope(cmd, NULL), EINVAL);
    spawnfd_cmd_free(cmd);
    CHECK_INT(spawnfd_scope_close(NULL), 0);
    spawnfd_scope_free(NULL);
    CHECK_INT(count_fds(), fds);
    printf("ok bad input\n");
}

/* Reads one pid per line from `fd` until `n` are read. */
static void read_pids(int fd, pid_t *pids, int n)
{
    char buf[256];
    size_t len = 0;
    int got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        CHECK(r > 0);
        len += (size_t)r;
        buf[len] = 0;
        got = 0;
        for (char *l = buf; *l && got < n; got++) {
            char *nl = strchr(l, '\n');
            if (!nl)
                break;
            pids[got] = (pid_t)atoi(l);
            l = nl + 1;
        }
    }
}

static void tree(void)
{
    int fds = count_fds();
    spawnfd_scope *scope = new_scope("tree");
    if (!scope)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", spawnfd_scope_path(scope));
    CHECK(access(path, F_OK) == 0);
    CHECK(spawnfd_scope_events_fd(scope) > 2);

    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    spawnfd_cmd *cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, "sh"));
    OK(spawnfd_cmd_arg(cmd, "-c"));
    OK(spawnfd_cmd_arg(cmd, "setsid sleep 1000 & echo $!; sleep 1000 & echo $!; wait"));
    OK(spawnfd_cmd_stdout(cmd, p[1]));
    OK(spawnfd_cmd_scope(cmd, scope));
    pid_t pid = 0;
    int pidfd = -1;
    spawnfd_error err;
    int r;
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    if (r != 0)
        FAIL("spawn: %s", err.message);
    spawnfd_cmd_free(cmd);
    close(p[1]);
    pid_t pids[2];
    read_pids(p[0], pids, 2);
    close(p[0]);
    CHECK(running(pids[0]) && running(pids[1]));

    /* The child is in the scope, as /proc says. */
    char proc[64], line[PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(proc, "r");
    CHECK(f != NULL);
    int inside = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = 0;
            size_t n = strlen(line + 3);
            inside = n > 0 && strlen(path) >= n && strcmp(path + strlen(path) - n, line + 3) == 0;
        }
    fclose(f);
    CHECK(inside);

    int empty = -1;
    OK(spawnfd_scope_is_empty(scope, &empty));
    CHECK_INT(empty, 0);
    CHECK_INT(spawnfd_scope_wait_empty(scope, 50), ETIMEDOUT);

    OK(spawnfd_scope_freeze(scope));
    CHECK_INT(cgroup_value(path, "cgroup.events", "frozen"), 1);
    OK(spawnfd_scope_thaw(scope));
    CHECK_INT(cgroup_value(path, "cgroup.events", "frozen"), 0);

    size_t count = 0;
    OK(spawnfd_scope_signal(scope, SIGCONT, &count));
    CHECK(count >= 3); /* sh and both sleeps */
    CHECK_INT(spawnfd_scope_signal(scope, 0, NULL), EINVAL);

    /* The daemon in its own session dies with the rest. */
    OK(spawnfd_scope_kill(scope));
    OK(spawnfd_scope_wait_empty(scope, 20000));
    OK(spawnfd_scope_is_empty(scope, &empty));
    CHECK_INT(empty, 1);
    CHECK(!running(pids[0]) && !running(pids[1]));
    int status;
    OK(spawnfd_wait(pidfd, &status, NULL));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(pidfd);

    spawnfd_tree_usage usage;
    OK(spawnfd_scope_usage(scope, &usage));
    CHECK(usage.cpu_usec > 0);
    CHECK(usage.cpu_usec >= usage.user_usec && usage.cpu_usec >= usage.system_usec);
    CHECK(usage.memory_peak == -1 || usage.memory_peak > 0);

    OK(spawnfd_scope_close(scope));
    CHECK(access(path, F_OK) == -1 && errno == ENOENT);
    CHECK_INT(count_fds(), fds);
    printf("ok tree\n");
}

/* Freeing a scope kills what is left in it and removes the directory. */
static void free_kills(void)
{
    spawnfd_scope *scope = new_scope("free");
    if (!scope)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", spawnfd_scope_path(scope));
    spawnfd_cmd *cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, "sleep"));
    OK(spawnfd_cmd_arg(cmd, "1000"));
    OK(spawnfd_cmd_scope(cmd, scope));
    int pidfd = -1;
    OK(spawnfd_spawn(cmd, NULL, &pidfd, NULL));
    spawnfd_cmd_free(cmd);
    spawnfd_scope_free(scope);
    int status;
    OK(spawnfd_wait(pidfd, &status, NULL));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(pidfd);
    CHECK(access(path, F_OK) == -1 && errno == ENOENT);
    printf("ok free kills\n");
}

/* A scope named by the caller, beside the scopes this process makes. */
static void named(void)
{
    spawnfd_scope *probe = new_scope("named");
    if (!probe)
        return;
    char parent[PATH_MAX], name[64];
    snprintf(parent, sizeof parent, "%s", spawnfd_scope_path(probe));
    dirname(parent);
    OK(spawnfd_scope_close(probe));
    snprintf(name, sizeof name, "spawnfd-c-named-%d", (int)getpid());
    spawnfd_scope *scope = NULL, *again = NULL;
    OK(spawnfd_scope_new_named(&scope, parent, name));
    const char *path = spawnfd_scope_path(scope);
    CHECK(strlen(path) > strlen(name) && strcmp(path + strlen(path) - strlen(name), name) == 0);
    CHECK_INT(spawnfd_scope_new_named(&again, parent, name), EEXIST);
    CHECK(again == NULL);
    OK(spawnfd_scope_kill_on_free(scope, 0));
    OK(spawnfd_scope_close(scope));
    printf("ok named\n");
}

/* A scope bound to its process: the process is killed (SIGKILL, no
 * chance to clean up) and the tree goes with it. */
static void dies_with_its_process(void)
{
    spawnfd_scope *probe = new_scope("process exit");
    if (!probe)
        return;
    spawnfd_scope_free(probe);
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    pid_t owner = fork();
    CHECK(owner >= 0);
    if (owner == 0) {
        close(p[0]);
        spawnfd_scope *scope = NULL;
        OK(spawnfd_scope_new(&scope, NULL));
        OK(spawnfd_scope_kill_on_process_exit(scope));
        spawnfd_cmd *cmd = NULL;
        OK(spawnfd_cmd_new(&cmd, "sleep"));
        OK(spawnfd_cmd_arg(cmd, "1000"));
        OK(spawnfd_cmd_scope(cmd, scope));
        pid_t pid = 0;
        OK(spawnfd_spawn(cmd, &pid, NULL, NULL));
        char line[64];
        int n = snprintf(line, sizeof line, "%d %s\n", (int)pid, spawnfd_scope_path(scope));
        CHECK(write(p[1], line, (size_t)n) == n);
        for (;;)
            pause();
    }
    close(p[1]);
    char line[PATH_MAX + 64] = {0}, path[PATH_MAX];
    size_t len = 0;
    while (!strchr(line, '\n')) {
        ssize_t r = read(p[0], line + len, sizeof line - 1 - len);
        CHECK(r > 0);
        len += (size_t)r;
    }
    close(p[0]);
    int sleeper = 0;
    CHECK(sscanf(line, "%d %s", &sleeper, path) == 2);
    CHECK(running(sleeper));
    CHECK(kill(owner, SIGKILL) == 0);
    int status;
    CHECK(waitpid(owner, &status, 0) == owner);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* The watchdog kills the tree and removes the directory. */
    for (int ms = 0; (running(sleeper) || access(path, F_OK) == 0) && ms < 20000; ms += 10)
        usleep(10000);
    CHECK(!running(sleeper));
    CHECK(access(path, F_OK) == -1);
    printf("ok dies with its process\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    bad_input();
    tree();
    free_kills();
    named();
    dies_with_its_process();
    CHECK_INT(children_gone_within(5000), 0);
    return 0;
}
