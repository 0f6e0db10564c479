/*
 * spawn_bench: spawn + wait from C, libspawnfd against glibc.
 *
 * Each sample is one spawn of a tiny child plus the wait for its exit,
 * timed with CLOCK_MONOTONIC around the calls in the process that spawns:
 *
 *   spawnfd        spawnfd_cmd_new + spawnfd_spawn + spawnfd_cmd_free,
 *                  spawnfd_wait + close(pidfd): a new command per spawn,
 *                  as a program that spawns now and then builds one
 *   spawnfd-reuse  the same with one command built at start-up
 *   spawnfd-waitid spawnfd_cmd_new + spawnfd_spawn + spawnfd_cmd_free, then
 *                  waitid(P_PIDFD) + close(pidfd) by hand instead of
 *                  spawnfd_wait (what the library's wait costs)
 *   posix_spawn    posix_spawn (no file actions, no attributes, environ)
 *                  + waitpid
 *   pidfd_spawn    glibc's pidfd_spawn (2.39+, found with dlsym at run
 *                  time) + waitid(P_PIDFD) + close(pidfd)
 *   vfork          vfork + execve + waitpid
 *   fork           fork + execve + waitpid (rationed: see --fork-iters)
 *
 * Like crates/bench (the Rust side-by-side bench), whose conventions it
 * follows: one worker process per parent memory size (--mem), each with
 * that much anonymous memory mapped MADV_NOHUGEPAGE and one byte written
 * per page (so its page tables exist: fork copies them); the workers are
 * driven in lockstep over pipes, one spawn at a time; in each round every
 * contender takes a turn, in an order shuffled anew each round by a
 * fixed-seed generator, and a turn is one spawn in every worker, always in
 * the same worker order. Each worker times its own spawn + wait and
 * reports nanoseconds, so the pipe round trip is not in the samples. The
 * workers are started with libspawnfd (a clean signal slate; their pipes
 * are close-on-exec, so every contender's child gets fds 0 to 2 only).
 *
 * The child is a 129-byte static x86_64 ELF (exit(0), no loader, no libc)
 * written to a temporary file at start-up, as crates/bench's; elsewhere,
 * or with --child PATH, another program (e.g. /bin/true). Every child's
 * exit status is checked.
 *
 * Build and run: crates/capi/bench/run.sh [options] (see --help).
 */

#define _GNU_SOURCE
#include <spawnfd.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

enum contender {
    C_SPAWNFD, C_SPAWNFD_REUSE, C_SPAWNFD_WAITID, C_SPAWNFD_POSIX, C_POSIX_SPAWN, C_PIDFD_SPAWN,
    C_VFORK, C_FORK, C_COUNT
};

static const char *const NAMES[C_COUNT] = {
    "spawnfd", "spawnfd-reuse", "spawnfd-waitid", "spawnfd-posix", "posix_spawn", "pidfd_spawn",
    "vfork", "fork",
};

/* glibc 2.39's pidfd_spawn, if this glibc has it. */
typedef int (*pidfd_spawn_fn)(int *, const char *, const posix_spawn_file_actions_t *,
                              const posix_spawnattr_t *, char *const[], char *const[]);

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("spawn_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void die_spawnfd(const char *what, int r, const spawnfd_error *err)
{
    char msg[512];
    spawnfd_error_format(err, msg, sizeof msg);
    die("%s: %s (%s)", what, strerror(r), msg);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void check_status(const char *who, int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("%s: the child did not exit with 0 (wait status %#x)", who, status);
}

/* ---- the tiny child ---------------------------------------------------- */

static void put16(unsigned char *p, uint16_t v) { for (int i = 0; i < 2; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }

/* The bytes of crates/bench/src/elf.rs's exit0_x86_64: an ELF header, one
 * PT_LOAD program header mapping the whole file R+X at 0x400000, and
 * `mov eax, 60; xor edi, edi; syscall`. */
static size_t exit0_elf(unsigned char out[129])
{
    static const unsigned char code[9] = {0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05};
    const uint64_t load = 0x400000, len = 64 + 56 + sizeof code;
    memset(out, 0, len);
    memcpy(out, "\x7f" "ELF\x02\x01\x01", 7);
    put16(out + 16, 2);           /* ET_EXEC */
    put16(out + 18, 62);          /* EM_X86_64 */
    put32(out + 20, 1);           /* EV_CURRENT */
    put64(out + 24, load + 120);  /* e_entry */
    put64(out + 32, 64);          /* e_phoff */
    put16(out + 52, 64);          /* e_ehsize */
    put16(out + 54, 56);          /* e_phentsize */
    put16(out + 56, 1);           /* e_phnum */
    put16(out + 58, 64);          /* e_shentsize */
    unsigned char *ph = out + 64;
    put32(ph, 1);                 /* PT_LOAD */
    put32(ph + 4, 5);             /* PF_R | PF_X */
    put64(ph + 16, load);         /* p_vaddr */
    put64(ph + 24, load);         /* p_paddr */
    put64(ph + 32, len);          /* p_filesz */
    put64(ph + 40, len);          /* p_memsz */
    put64(ph + 48, 0x1000);       /* p_align */
    memcpy(out + 120, code, sizeof code);
    return (size_t)len;
}

static char tiny_path[64];

static void remove_tiny(void)
{
    if (tiny_path[0])
        unlink(tiny_path);
}

static const char *write_tiny(void)
{
    unsigned char elf[129];
    size_t len = exit0_elf(elf);
    const char *dir = getenv("TMPDIR");
    snprintf(tiny_path, sizeof tiny_path, "%s/spawn_bench-exit0-XXXXXX",
             dir && *dir && strlen(dir) < 30 ? dir : "/tmp");
    int fd = mkstemp(tiny_path);
    if (fd < 0)
        die("mkstemp %s: %s", tiny_path, strerror(errno));
    atexit(remove_tiny);
    if (write(fd, elf, len) != (ssize_t)len || fchmod(fd, 0755) != 0)
        die("writing %s: %s", tiny_path, strerror(errno));
    close(fd); /* before any exec: a file open for writing is ETXTBSY */
    return tiny_path;
}

/* ---- the worker: holds the memory, spawns on command ------------------- */

static const char *child_path;
static char *child_argv[2];
static pidfd_spawn_fn pidfd_spawn_p;
static spawnfd_cmd *reused_cmd;

/* One spawn + wait of contender c; nanoseconds. Not inlined: the frame
 * that calls vfork is its own. */
static __attribute__((noinline)) uint64_t run_one(int c)
{
    int status = -1, r;
    pid_t pid;
    uint64_t t0 = now_ns(), t1;

    switch (c) {
    case C_SPAWNFD: {
        spawnfd_cmd *cmd;
        spawnfd_error err;
        int pidfd;
        if ((r = spawnfd_cmd_new(&cmd, child_path)) != 0)
            die("spawnfd_cmd_new: %s", strerror(r));
        r = spawnfd_spawn(cmd, &pid, &pidfd, &err);
        spawnfd_cmd_free(cmd);
        if (r != 0)
            die_spawnfd("spawnfd_spawn", r, &err);
        if ((r = spawnfd_wait(pidfd, &status, NULL)) != 0)
            die("spawnfd_wait: %s", strerror(r));
        close(pidfd);
        break;
    }
    case C_SPAWNFD_REUSE: {
        spawnfd_error err;
        int pidfd;
        if ((r = spawnfd_spawn(reused_cmd, &pid, &pidfd, &err)) != 0)
            die_spawnfd("spawnfd_spawn", r, &err);
        if ((r = spawnfd_wait(pidfd, &status, NULL)) != 0)
            die("spawnfd_wait: %s", strerror(r));
        close(pidfd);
        break;
    }
    case C_SPAWNFD_WAITID: {
        spawnfd_cmd *cmd;
        spawnfd_error err;
        int pidfd;
        siginfo_t info;
        if ((r = spawnfd_cmd_new(&cmd, child_path)) != 0)
            die("spawnfd_cmd_new: %s", strerror(r));
        r = spawnfd_spawn(cmd, &pid, &pidfd, &err);
        spawnfd_cmd_free(cmd);
        if (r != 0)
            die_spawnfd("spawnfd_spawn", r, &err);
        memset(&info, 0, sizeof info);
        if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED) != 0)
            die("waitid(P_PIDFD): %s", strerror(errno));
        close(pidfd);
        status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : 0x7f;
        break;
    }
    case C_SPAWNFD_POSIX:
        /* libspawnfd's posix_spawn (<spawnfd_spawn.h>'s posix_spawn) */
        if ((r = spawnfd_posix_spawn(&pid, child_path, NULL, NULL, child_argv, environ)) != 0)
            die("spawnfd_posix_spawn: %s", strerror(r));
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid: %s", strerror(errno));
        break;
    case C_POSIX_SPAWN:
        if ((r = posix_spawn(&pid, child_path, NULL, NULL, child_argv, environ)) != 0)
            die("posix_spawn: %s", strerror(r));
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid: %s", strerror(errno));
        break;
    case C_PIDFD_SPAWN: {
        int pidfd;
        siginfo_t info;
        if ((r = pidfd_spawn_p(&pidfd, child_path, NULL, NULL, child_argv, environ)) != 0)
            die("pidfd_spawn: %s", strerror(r));
        memset(&info, 0, sizeof info);
        if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED) != 0)
            die("waitid(P_PIDFD): %s", strerror(errno));
        close(pidfd);
        /* as a wait status, for the check below */
        status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : 0x7f;
        break;
    }
    case C_VFORK:
        pid = vfork();
        if (pid == 0) {
            execve(child_path, child_argv, environ);
            _exit(127);
        }
        if (pid < 0)
            die("vfork: %s", strerror(errno));
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid: %s", strerror(errno));
        break;
    case C_FORK:
        pid = fork();
        if (pid == 0) {
            execve(child_path, child_argv, environ);
            _exit(127);
        }
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid: %s", strerror(errno));
        break;
    default:
        die("no contender %d", c);
    }
    t1 = now_ns();
    check_status(NAMES[c], status);
    return t1 - t0;
}

static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Reads len bytes; 0 at EOF (the driver is done or gone), else 1. */
static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read from pipe: %s", strerror(errno));
        if (n == 0)
            return 0;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static void write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write to pipe: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Worker: fd 3 reads commands (one byte: a contender), fd 4 answers (a
 * uint64_t of nanoseconds; first the resident size in KiB). */
static int worker(uint64_t size)
{
    if (size > 0) {
        void *base = mmap(NULL, size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED)
            die("mmap %" PRIu64 " bytes: %s", size, strerror(errno));
        if (madvise(base, size, MADV_NOHUGEPAGE) != 0)
            die("madvise: %s", strerror(errno));
        long page = sysconf(_SC_PAGESIZE);
        for (uint64_t off = 0; off < size; off += (uint64_t)page)
            ((volatile char *)base)[off] = 1;
    }
    int r = spawnfd_cmd_new(&reused_cmd, child_path);
    if (r != 0)
        die("spawnfd_cmd_new: %s", strerror(r));
    uint64_t rss = (uint64_t)resident_kib();
    write_full(4, &rss, sizeof rss);
    unsigned char c;
    while (read_full(3, &c, 1)) {
        uint64_t ns = run_one(c);
        write_full(4, &ns, sizeof ns);
    }
    return 0;
}

/* ---- the driver --------------------------------------------------------- */

struct worker {
    uint64_t size;
    pid_t pid;
    int pidfd;
    int cmd_w, reply_r;
    long rss_kib;
};

static uint64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    int shift = 0;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: die("bad size %s", s);
    }
    if (strcmp(end, "") != 0 && strcmp(end, "iB") != 0 && strcmp(end, "B") != 0)
        die("bad size %s", s);
    if (!(v >= 0))
        die("bad size %s", s);
    return (uint64_t)(v * (double)(1ull << shift));
}

static void format_size(uint64_t b, char *buf, size_t len)
{
    if (b >= (1ull << 30) && b % (1ull << 30) == 0)
        snprintf(buf, len, "%" PRIu64 " GiB", b >> 30);
    else if (b >= (1ull << 20) && b % (1ull << 20) == 0)
        snprintf(buf, len, "%" PRIu64 " MiB", b >> 20);
    else
        snprintf(buf, len, "%" PRIu64 " B", b);
}

static void start_worker(struct worker *w, const char *self)
{
    int cmd[2], reply[2];
    if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(reply, O_CLOEXEC) != 0)
        die("pipe2: %s", strerror(errno));
    char size_arg[32];
    snprintf(size_arg, sizeof size_arg, "%" PRIu64, w->size);
    spawnfd_cmd *c;
    spawnfd_error err;
    int r = spawnfd_cmd_new(&c, self);
    if (r == 0) r = spawnfd_cmd_arg(c, "--worker");
    if (r == 0) r = spawnfd_cmd_arg(c, size_arg);
    if (r == 0) r = spawnfd_cmd_arg(c, child_path);
    if (r == 0) r = spawnfd_cmd_fd(c, 3, cmd[0]);
    if (r == 0) r = spawnfd_cmd_fd(c, 4, reply[1]);
    if (r != 0)
        die("building the worker's command: %s", strerror(r));
    r = spawnfd_spawn(c, &w->pid, &w->pidfd, &err);
    spawnfd_cmd_free(c);
    if (r != 0)
        die_spawnfd("spawning a worker", r, &err);
    close(cmd[0]);
    close(reply[1]);
    w->cmd_w = cmd[1];
    w->reply_r = reply[0];
}

static uint64_t ask(struct worker *w, int c)
{
    unsigned char b = (unsigned char)c;
    uint64_t ns;
    write_full(w->cmd_w, &b, 1);
    char *p = (char *)&ns;
    size_t left = sizeof ns;
    while (left > 0) {
        ssize_t n = read(w->reply_r, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("the worker of %" PRIu64 " bytes died (see above)", w->size);
        p += n;
        left -= (size_t)n;
    }
    return ns;
}

/* xorshift64*, seeded as crates/bench's Shuffle::new. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The q quantile of sorted values, linear between the nearest ranks (type
 * 7, as crates/bench's stats.rs), in microseconds. */
static double quantile_us(const uint64_t *sorted, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + (pos > (double)lo);
    double frac = pos - (double)lo;
    return ((double)sorted[lo] + ((double)sorted[hi] - (double)sorted[lo]) * frac) / 1000.0;
}

static void load(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = 0;
    if (f) {
        if (fgets(buf, (int)len, f))
            buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spawn_bench [--mem 0,4G] [--iters 5000] [--fork-iters 100] [--warmup 20]\n"
            "                   [--contenders spawnfd,spawnfd-reuse,spawnfd-waitid,spawnfd-posix,posix_spawn,pidfd_spawn,vfork,fork]\n"
            "                   [--child PATH]\n"
            "One spawn + wait per sample; one worker process per --mem size; rounds\n"
            "interleaved; fork timed in --fork-iters evenly spread rounds only.\n");
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--worker") == 0) {
        child_path = argv[3];
        child_argv[0] = argv[3];
        pidfd_spawn_p = (pidfd_spawn_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "pidfd_spawn");
        return worker(strtoull(argv[2], NULL, 10));
    }

    const char *mem = "0,4G", *contenders = NULL;
    long iters = 5000, fork_iters = 100, warmup = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--mem") == 0) mem = v;
        else if (strcmp(a, "--iters") == 0) iters = atol(v);
        else if (strcmp(a, "--fork-iters") == 0) fork_iters = atol(v);
        else if (strcmp(a, "--warmup") == 0) warmup = atol(v);
        else if (strcmp(a, "--contenders") == 0) contenders = v;
        else if (strcmp(a, "--child") == 0) child_path = v;
        else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (iters < 1 || fork_iters < 0 || warmup < 0)
        die("--iters must be at least 1, --fork-iters and --warmup at least 0");
    if (fork_iters > iters)
        fork_iters = iters;

    /* The contenders. */
    int chosen[C_COUNT];
    pidfd_spawn_p = (pidfd_spawn_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "pidfd_spawn");
    for (int c = 0; c < C_COUNT; c++)
        chosen[c] = contenders == NULL;
    if (contenders) {
        char *list = strdup(contenders), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int found = 0;
            for (int c = 0; c < C_COUNT; c++)
                if (strcmp(t, NAMES[c]) == 0)
                    chosen[c] = found = 1;
            if (!found)
                die("no contender %s", t);
        }
        free(list);
    }

    struct utsname u;
    uname(&u);
    char la[128];
    load(la, sizeof la);
    printf("spawn_bench: Linux %s %s, %ld CPUs online, glibc %s\n", u.release, u.machine,
           sysconf(_SC_NPROCESSORS_ONLN), gnu_get_libc_version());
    printf("load average at start: %s\n", la);
    if (!pidfd_spawn_p) {
        printf("pidfd_spawn: not in this glibc (%s)\n", gnu_get_libc_version());
        chosen[C_PIDFD_SPAWN] = 0;
    }

    /* The child. */
    if (!child_path) {
#if defined(__x86_64__)
        child_path = write_tiny();
        printf("child: 129-byte static x86_64 ELF that calls exit(0) (%s)\n", child_path);
#else
        child_path = "/bin/true";
        printf("child: /bin/true (not x86_64: no generated static ELF)\n");
#endif
    } else {
        printf("child: %s\n", child_path);
    }
    child_argv[0] = (char *)child_path;

    /* The workers. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        die("readlink /proc/self/exe: %s", strerror(errno));
    self[n] = 0;
    struct worker workers[8];
    int nworkers = 0;
    {
        char *list = strdup(mem), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (nworkers == 8)
                die("at most 8 sizes");
            workers[nworkers].size = parse_size(t);
            nworkers++;
        }
        free(list);
    }
    for (int w = 0; w < nworkers; w++) {
        start_worker(&workers[w], self);
        uint64_t rss;
        char *p = (char *)&rss;
        size_t left = sizeof rss;
        while (left > 0) {
            ssize_t k = read(workers[w].reply_r, p, left);
            if (k <= 0)
                die("worker %d died while it filled its memory", w);
            p += k;
            left -= (size_t)k;
        }
        workers[w].rss_kib = (long)rss;
        char sz[32];
        format_size(workers[w].size, sz, sizeof sz);
        printf("worker %d: parent memory %s, VmRSS %.1f MiB\n", w, sz, (double)rss / 1024.0);
    }
    /* Each worker checks its children's statuses; one spawn of each chosen
     * contender per worker makes sure they all work before timing. */
    int budget[C_COUNT];
    for (int c = 0; c < C_COUNT; c++)
        budget[c] = c == C_FORK ? (int)fork_iters : (int)iters;
    printf("rounds: %ld (+%ld warm-up), fork in %ld of them; contenders:", iters, warmup,
           fork_iters);
    for (int c = 0; c < C_COUNT; c++)
        if (chosen[c])
            printf(" %s", NAMES[c]);
    printf("\n");
    fflush(stdout);

    for (long r = 0; r < warmup; r++)
        for (int c = 0; c < C_COUNT; c++)
            if (chosen[c] && (budget[c] == iters || r < 2))
                for (int w = 0; w < nworkers; w++)
                    ask(&workers[w], c);

    uint64_t *samples[8][C_COUNT];
    int count[8][C_COUNT] = {{0}};
    for (int w = 0; w < nworkers; w++)
        for (int c = 0; c < C_COUNT; c++)
            if (!(samples[w][c] = malloc(sizeof(uint64_t) * (size_t)(budget[c] ? budget[c] : 1))))
                die("out of memory");
    long turns[C_COUNT] = {0};
    int order[C_COUNT];
    for (int c = 0; c < C_COUNT; c++)
        order[c] = c;
    uint64_t t_start = now_ns();
    for (long round = 0; round < iters; round++) {
        for (int i = C_COUNT - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(rng_next() % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < C_COUNT; k++) {
            int c = order[k];
            /* a rationed contender runs in evenly spaced rounds */
            if (!chosen[c] || !(turns[c] * iters < (round + 1) * budget[c]))
                continue;
            turns[c]++;
            for (int w = 0; w < nworkers; w++)
                samples[w][c][count[w][c]++] = ask(&workers[w], c);
        }
    }
    double secs = (double)(now_ns() - t_start) / 1e9;
    load(la, sizeof la);
    printf("timed in %.1f s; load average at end: %s\n\n", secs, la);

    /* The table: per size, per contender, median and p90 in µs and their
     * ratios over posix_spawn's at the same size. */
    printf("| parent memory | contender      |     n | median µs |   p90 µs | median / posix_spawn | p90 / posix_spawn |\n");
    printf("|---------------|----------------|------:|----------:|---------:|---------------------:|------------------:|\n");
    for (int w = 0; w < nworkers; w++) {
        double med[C_COUNT], p90[C_COUNT];
        for (int c = 0; c < C_COUNT; c++) {
            if (!chosen[c] || count[w][c] == 0)
                continue;
            qsort(samples[w][c], (size_t)count[w][c], sizeof(uint64_t), cmp_u64);
            med[c] = quantile_us(samples[w][c], (size_t)count[w][c], 0.5);
            p90[c] = quantile_us(samples[w][c], (size_t)count[w][c], 0.9);
        }
        char sz[32];
        format_size(workers[w].size, sz, sizeof sz);
        for (int c = 0; c < C_COUNT; c++) {
            if (!chosen[c] || count[w][c] == 0)
                continue;
            printf("| %-13s | %-14s | %5d | %9.1f | %8.1f |", sz, NAMES[c], count[w][c], med[c], p90[c]);
            if (chosen[C_POSIX_SPAWN])
                printf(" %20.2f | %17.2f |\n", med[c] / med[C_POSIX_SPAWN], p90[c] / p90[C_POSIX_SPAWN]);
            else
                printf(" %20s | %17s |\n", "", "");
        }
    }
    if (nworkers > 1) {
        char first[32], last[32];
        format_size(workers[0].size, first, sizeof first);
        format_size(workers[nworkers - 1].size, last, sizeof last);
        printf("\nmedian at %s over median at %s, per contender:", last, first);
        for (int c = 0; c < C_COUNT; c++) {
            if (!chosen[c] || count[0][c] == 0)
                continue;
            double a = quantile_us(samples[0][c], (size_t)count[0][c], 0.5);
            double b = quantile_us(samples[nworkers - 1][c], (size_t)count[nworkers - 1][c], 0.5);
            printf(" %s %.2f;", NAMES[c], b / a);
        }
        printf("\n");
    }

    /* Stop the workers: EOF on their command pipes, then reap. */
    for (int w = 0; w < nworkers; w++) {
        close(workers[w].cmd_w);
        int status, r = spawnfd_wait(workers[w].pidfd, &status, NULL);
        if (r != 0)
            die("waiting for worker %d: %s", w, strerror(r));
        close(workers[w].pidfd);
        close(workers[w].reply_r);
    }
    return 0;
}
