/*
 * pkg-noop: the native client of a no-op `pkg build` (docs/build-layer.md, "No-op builds").
 *
 *   pkg-noop <path of bin/pkg.js> build [args...]
 *
 * bin/pkg runs it for `pkg build ...`. It sends the command line, the working directory and the
 * environment the answer depends on to the store daemon (`noop-build`, answered by src/noop/answer.ts)
 * and prints what the daemon says `pkg build` would print. When the daemon declines, or cannot be
 * reached, or anything here is unusual, it runs the full command instead: `node <pkg.js> build
 * [args...]` with PKG_NOOP_DECLINED=1 (bin/pkg.js then does not ask again). It never prints on stdout
 * unless it answers, so the full command's output is never mixed with anything.
 *
 * Why C: starting node costs ~60 ms here, more than cargo's whole no-op (~40 ms); this costs ~1 ms
 * plus the daemon's few ms. Its twin in TypeScript is src/noop/client.ts (the same request,
 * the same trace with PKG_TRACE_FASTPATH=1); test/unit/store/build-cli.test.ts runs both.
 *
 * No JSON parser: the answer's text comes as hex (`{"id":1,"ok":true,"result":{"answered":true,
 * "stdout":"<hex>"}}`, keys in that order, as the daemon writes them); any other line declines.
 * The socket comes from $PKG_STORE_SOCKET, else the `daemon.sock` link in the store, which the daemon
 * makes when it listens (the path itself hashes the store's, and this has no sha256).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long the daemon may take to answer (it only stats files and looks up one derivation). */
#define ANSWER_TIMEOUT_MS 30000
#define MAX_ANSWER (16 * 1024 * 1024)

static int tracing;

static void trace(const char *format, ...) {
  if (!tracing) return;
  va_list ap;
  va_start(ap, format);
  fputs("fastpath: ", stderr);
  vfprintf(stderr, format, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Runs the full command; never returns. */
static void full(char **argv, const char *why) {
  trace("full (%s)", why);
  fflush(stderr);
  setenv("PKG_NOOP_DECLINED", "1", 1);
  int n = 0;
  while (argv[2 + n] != NULL) n++;
  char **args = calloc((size_t)n + 3, sizeof(char *));
  if (args == NULL) _exit(127);
  args[0] = "node";
  args[1] = argv[1];
  for (int i = 0; i < n; i++) args[2 + i] = argv[2 + i];
  execvp("node", args);
  fprintf(stderr, "error: cannot run node for pkg: %s\n  hint: put node on PATH\n", strerror(errno));
  _exit(127);
}

/* A growing byte buffer; on allocation failure `failed` is set and appends are ignored. */
struct buf {
  char *data;
  size_t len, cap;
  int failed;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
      b->failed = 1;
      return;
    }
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* A JSON string. Bytes >= 0x80 go as they are: a string that is not UTF-8 becomes U+FFFD in the
   daemon, so it names no file of ours and the daemon declines. */
static void put_json(struct buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      char e[2] = {'\\', (char)*p};
      put(b, e, 2);
    } else if (*p < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
      put(b, e, 6);
    } else {
      put(b, (const char *)p, 1);
    }
  }
  put(b, "\"", 1);
}

/* The variables the answer depends on: src/noop/env.ts says the same. */
static int sent_env(const char *entry) {
  return strncmp(entry, "PKG_", 4) == 0 || strncmp(entry, "XDG_", 4) == 0 || strncmp(entry, "HOME=", 5) == 0 ||
         strncmp(entry, "DEBUG=", 6) == 0 || strncmp(entry, "CLI_FLAGS_DEBUG=", 16) == 0;
}

static const char *env_or_empty(const char *name) {
  const char *v = getenv(name);
  return v ? v : "";
}

/* `rel` against `cwd` unless absolute (path.resolve without the normalisation: the kernel does that). */
static void put_resolved(struct buf *b, const char *cwd, const char *rel) {
  if (rel[0] != '/') {
    puts_(b, cwd);
    puts_(b, "/");
  }
  puts_(b, rel);
}

/* src/files/dirs.ts defaultStoreDir: $PKG_STORE_DIR, else ($PKG_DATA_DIR, else $XDG_DATA_HOME/chainpkg,
   else ~/.local/share/chainpkg)/store. */
static void put_store_dir(struct buf *b, const char *cwd) {
  const char *store = env_or_empty("PKG_STORE_DIR");
  const char *data = env_or_empty("PKG_DATA_DIR");
  const char *xdg = env_or_empty("XDG_DATA_HOME");
  if (*store) {
    put_resolved(b, cwd, store);
    return;
  }
  if (*data) {
    put_resolved(b, cwd, data);
  } else {
    if (*xdg) {
      put_resolved(b, cwd, xdg);
    } else {
      const char *home = env_or_empty("HOME");
      if (!*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir ? pw->pw_dir : "/";
      }
      put_resolved(b, cwd, home);
      puts_(b, "/.local/share");
    }
    puts_(b, "/chainpkg");
  }
  puts_(b, "/store");
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[2], "build") != 0) {
    fprintf(stderr, "usage: pkg-noop <bin/pkg.js> build [args...]\n");
    return 2;
  }
  tracing = strcmp(env_or_empty("PKG_TRACE_FASTPATH"), "1") == 0;

  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) full(argv, "no working directory");

  /* The socket: $PKG_STORE_SOCKET, else where <store>/daemon.sock points. */
  struct buf sock = {0};
  if (*env_or_empty("PKG_STORE_SOCKET")) {
    put_resolved(&sock, cwd, getenv("PKG_STORE_SOCKET"));
  } else {
    struct buf link = {0};
    put_store_dir(&link, cwd);
    puts_(&link, "/daemon.sock");
    if (link.failed) full(argv, "out of memory");
    char target[PATH_MAX];
    ssize_t n = readlink(link.data, target, sizeof target - 1);
    if (n <= 0) full(argv, "no daemon");
    target[n] = '\0';
    if (target[0] != '/') full(argv, "no daemon");
    puts_(&sock, target);
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (sock.failed || sock.len >= sizeof addr.sun_path) full(argv, "no daemon");
  memcpy(addr.sun_path, sock.data, sock.len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) full(argv, "no daemon");

  /* {"id":1,"op":"noop-build","argv":[...],"cwd":"...","env":{...}} */
  struct buf req = {0};
  puts_(&req, "{\"id\":1,\"op\":\"noop-build\",\"argv\":[");
  for (int i = 3; i < argc; i++) {
    if (i > 3) puts_(&req, ",");
    put_json(&req, argv[i]);
  }
  puts_(&req, "],\"cwd\":");
  put_json(&req, cwd);
  puts_(&req, ",\"env\":{");
  int first = 1;
  for (char **e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (eq == NULL || !sent_env(*e)) continue;
    if (!first) puts_(&req, ",");
    first = 0;
    char *name = strndup(*e, (size_t)(eq - *e));
    if (name == NULL) full(argv, "out of memory");
    put_json(&req, name);
    free(name);
    puts_(&req, ":");
    put_json(&req, eq + 1);
  }
  puts_(&req, "}}\n");
  if (req.failed) full(argv, "out of memory");
  for (size_t off = 0; off < req.len;) {
    ssize_t n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) full(argv, "no daemon");
    off += (size_t)n;
  }

  /* Lines until the answer (events of id 1 are skipped). */
  struct buf in = {0};
  long deadline = now_ms() + ANSWER_TIMEOUT_MS;
  size_t line_start = 0;
  for (;;) {
    char *nl;
    while ((nl = memchr(in.data ? in.data + line_start : "", '\n', in.len - line_start)) != NULL) {
      char *line = in.data + line_start;
      *nl = '\0';
      line_start = (size_t)(nl - in.data) + 1;
      if (strncmp(line, "{\"id\":1,\"event\":", 16) == 0) continue;
      static const char answered[] = "{\"id\":1,\"ok\":true,\"result\":{\"answered\":true,\"stdout\":\"";
      static const char declined[] = "{\"id\":1,\"ok\":true,\"result\":{\"answered\":false,\"why\":\"";
      if (strncmp(line, declined, sizeof declined - 1) == 0) {
        char *why = line + sizeof declined - 1;
        char *end = strstr(why, "\"}}");
        if (end != NULL) *end = '\0';
        full(argv, why);
      }
      if (strncmp(line, answered, sizeof answered - 1) != 0) full(argv, "no daemon");
      char *hex = line + sizeof answered - 1;
      size_t n = strlen(hex);
      if (n < 3 || strcmp(hex + n - 3, "\"}}") != 0 || (n - 3) % 2 != 0) full(argv, "no daemon");
      n = (n - 3) / 2;
      for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) full(argv, "no daemon");
        hex[i] = (char)(hi << 4 | lo);
      }
      for (size_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, hex + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 1; /* stdout closed: as node would fail to write */
        off += (size_t)w;
      }
      trace("no-op");
      return 0;
    }
    if (in.len > MAX_ANSWER) full(argv, "no daemon");
    long left = deadline - now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) full(argv, "no answer in time");
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) full(argv, "no daemon");
    put(&in, chunk, (size_t)n);
    if (in.failed) full(argv, "out of memory");
  }
}
