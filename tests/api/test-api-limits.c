/*
 * test-api-limits.c: connections against a usbpassd this test starts
 *
 * Descriptors, timeouts and limits of the API's connections: every case
 * counts the daemon's descriptors in /proc/PID/fd before and after, and
 * asserts they come back to where they were. Raw sockets on purpose: the
 * clients misbehave (close between requests, reset, dribble, flood).
 * Each case has its own temporary directory, testbed and daemon; every wait
 * has a deadline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <umockdev.h>

#define DEADLINE_USEC (30 * G_USEC_PER_SEC)

typedef struct {
	guint max_connections; /* 0: the default */
	guint request_timeout; /* seconds, 0: the default */
	guint idle_timeout;    /* seconds, 0: the default */
} LimitsOptions;

typedef struct {
	gchar *tmpdir;
	gchar *socket_path;
	gchar *notify_path;
	guint16 port;
	UMockdevTestbed *testbed;
	GSocket *notify;
	GSubprocess *daemon;
	pid_t pid;
	guint baseline;
	gboolean skipped;
} LimitsFixture;

/* the daemon's descriptors */
static guint
fd_count(pid_t pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/fd", (int)pid);
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	guint count = 0;
	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		count++;
	return count;
}

/* TRUE once the daemon holds at most @count descriptors, FALSE at the deadline */
static gboolean
wait_fd_count(LimitsFixture *f, guint count)
{
	gint64 deadline = g_get_monotonic_time() + DEADLINE_USEC;
	while (fd_count(f->pid) > count) {
		if (g_get_monotonic_time() > deadline) {
			g_test_message("%u descriptors, want %u", fd_count(f->pid), count);
			return FALSE;
		}
		g_usleep(10 * 1000);
	}
	return TRUE;
}

/* TRUE once the daemon holds at least @count descriptors */
static gboolean
wait_fd_reach(LimitsFixture *f, guint count)
{
	gint64 deadline = g_get_monotonic_time() + DEADLINE_USEC;
	while (fd_count(f->pid) < count) {
		if (g_get_monotonic_time() > deadline)
			return FALSE;
		g_usleep(10 * 1000);
	}
	return TRUE;
}

/* the highest descriptor number of the daemon */
static guint
fd_highest(pid_t pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/fd", (int)pid);
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	guint highest = 0;
	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL)
		highest = MAX(highest, (guint)g_ascii_strtoull(name, NULL, 10));
	return highest;
}

/* raw clients */

static int
connect_tcp(LimitsFixture *f, gboolean nonblocking)
{
	struct sockaddr_in addr = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	g_assert_cmpint(fd, >=, 0);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(f->port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		g_assert_true(nonblocking && errno == EINPROGRESS);
	return fd;
}

static int
connect_unix(LimitsFixture *f)
{
	struct sockaddr_un addr = { 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(fd, >=, 0);
	addr.sun_family = AF_UNIX;
	g_strlcpy(addr.sun_path, f->socket_path, sizeof(addr.sun_path));
	g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	return fd;
}

static void
send_all(int fd, const gchar *data)
{
	gsize len = strlen(data);
	while (len > 0) {
		gssize n = send(fd, data, len, MSG_NOSIGNAL);
		g_assert_cmpint(n, >, 0);
		data += n;
		len -= (gsize)n;
	}
}

/* reads one answer (headers and a Content-Length body); returns its status,
 * 0 when the connection ended first; *body gets the body */
static guint
read_answer(int fd, gchar **body)
{
	g_autoptr(GString) text = g_string_new(NULL);
	gint64 deadline = g_get_monotonic_time() + DEADLINE_USEC;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		gchar buf[4096];
		const gchar *end = strstr(text->str, "\r\n\r\n");
		gssize n;
		if (end != NULL) {
			const gchar *cl =
			  g_strstr_len(text->str, end - text->str, "Content-Length: ");
			gsize want = cl != NULL ? (gsize)g_ascii_strtoull(cl + 16, NULL, 10) : 0;
			if (text->len >= (gsize)(end - text->str) + 4 + want) {
				if (body != NULL)
					*body = g_strndup(end + 4, want);
				break;
			}
		}
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return 0;
		g_string_append_len(text, buf, n);
	}
	if (!g_str_has_prefix(text->str, "HTTP/1."))
		return 0;
	return (guint)g_ascii_strtoull(text->str + 9, NULL, 10);
}

/* TRUE once the daemon closed @fd (end of stream or reset) */
static gboolean
wait_closed_by_peer(int fd)
{
	gint64 deadline = g_get_monotonic_time() + DEADLINE_USEC;
	while (g_get_monotonic_time() < deadline) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		gchar buf[4096];
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			return TRUE;
	}
	return FALSE;
}

static guint
health(LimitsFixture *f, gchar **body)
{
	int fd = connect_tcp(f, FALSE);
	guint status;
	send_all(fd, "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
	status = read_answer(fd, body);
	close(fd);
	return status;
}

/* the "code" of a JSON error body */
static gchar *
error_code(const gchar *body)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *object;
	g_assert_nonnull(body);
	g_assert_true(json_parser_load_from_data(parser, body, -1, NULL));
	object = json_node_get_object(json_parser_get_root(parser));
	object = json_object_get_object_member(object, "error");
	g_assert_nonnull(object);
	return g_strdup(json_object_get_string_member(object, "code"));
}

/* fixture */

static guint16
pick_free_port(void)
{
	g_autoptr(GSocket) socket =
	  g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;
	g_assert_true(g_socket_bind(socket, address, TRUE, NULL));
	bound = g_socket_get_local_address(socket, NULL);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

static void
daemon_child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
fixture_setup(LimitsFixture *f, gconstpointer user_data)
{
	static const LimitsOptions defaults = { 0, 0, 0 };
	const LimitsOptions *o = user_data != NULL ? user_data : &defaults;
	const gchar *data_dir = g_getenv("USBPASS_TEST_DATA");
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GSocketAddress) notify_address = NULL;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GString) api = g_string_new("[api]\n");
	g_autofree gchar *demo = NULL;
	g_autofree gchar *config = NULL;
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *config_arg = NULL;
	gint64 deadline;
	gboolean ready = FALSE;

	if (g_strstr_len(g_getenv("LD_PRELOAD"), -1, "libumockdev-preload") == NULL) {
		g_test_skip("needs the umockdev preload: run under umockdev-wrapper");
		f->skipped = TRUE;
		return;
	}
	f->tmpdir = g_dir_make_tmp("usbpass-limits-XXXXXX", &error_local);
	g_assert_no_error(error_local);
	f->socket_path = g_build_filename(f->tmpdir, "usbpassd.sock", NULL);
	f->notify_path = g_build_filename(f->tmpdir, "notify", NULL);
	f->port = pick_free_port();
	if (o->max_connections > 0)
		g_string_append_printf(api, "max-connections=%u\n", o->max_connections);
	if (o->request_timeout > 0)
		g_string_append_printf(api, "request-timeout=%u\n", o->request_timeout);
	if (o->idle_timeout > 0)
		g_string_append_printf(api, "idle-timeout=%u\n", o->idle_timeout);
	config = g_strdup_printf("[daemon]\nenabled=true\nhost=testhost\nstore=%s/usbpass.db\n"
	                         "socket=%s\nsocket-group=\nsocket-mode=0600\n"
	                         "listen=127.0.0.1:%u\ndriver=test\nlog-level=message\n%s",
	                         f->tmpdir,
	                         f->socket_path,
	                         f->port,
	                         api->str);
	config_path = g_build_filename(f->tmpdir, "usbpassd.conf", NULL);
	g_assert_true(g_file_set_contents(config_path, config, -1, &error_local));

	f->testbed = umockdev_testbed_new();
	demo = g_build_filename(data_dir != NULL ? data_dir : "tests/data", "demo.umockdev", NULL);
	g_assert_true(umockdev_testbed_add_from_file(f->testbed, demo, &error_local));
	g_assert_no_error(error_local);

	f->notify = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, 0, &error_local);
	g_assert_no_error(error_local);
	notify_address = g_unix_socket_address_new(f->notify_path);
	g_assert_true(g_socket_bind(f->notify, notify_address, FALSE, &error_local));

	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_subprocess_launcher_set_child_setup(launcher, daemon_child_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "NOTIFY_SOCKET", f->notify_path, TRUE);
	config_arg = g_strdup_printf("--config=%s", config_path);
	f->daemon =
	  g_subprocess_launcher_spawn(launcher, &error_local, USBPASSD_PATH, config_arg, NULL);
	g_assert_no_error(error_local);
	f->pid = (pid_t)g_ascii_strtoll(g_subprocess_get_identifier(f->daemon), NULL, 10);

	deadline = g_get_monotonic_time() + DEADLINE_USEC;
	while (!ready && g_get_monotonic_time() < deadline) {
		gchar buf[512];
		gssize len;
		if (!g_socket_condition_timed_wait(f->notify, G_IO_IN, 50 * 1000, NULL, NULL))
			continue;
		len = g_socket_receive(f->notify, buf, sizeof(buf) - 1, NULL, NULL);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		ready = strstr(buf, "READY=1") != NULL;
	}
	g_assert_true(ready);
	/* one request first: whatever is made lazily on the first one is made */
	g_assert_cmpuint(health(f, NULL), ==, 200);
	g_assert_true(wait_fd_count(f, fd_count(f->pid)));
	f->baseline = fd_count(f->pid);
}

static void
remove_tree(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	if (dir == NULL) {
		g_remove(path);
		return;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (g_file_test(child, G_FILE_TEST_IS_DIR))
			remove_tree(child);
		else
			g_remove(child);
	}
	g_rmdir(path);
}

static void
fixture_teardown(LimitsFixture *f, gconstpointer user_data)
{
	if (f->skipped)
		return;
	if (f->daemon != NULL) {
		g_subprocess_send_signal(f->daemon, SIGTERM);
		g_assert_true(g_subprocess_wait(f->daemon, NULL, NULL));
		g_assert_true(g_subprocess_get_if_exited(f->daemon));
		g_assert_cmpint(g_subprocess_get_exit_status(f->daemon), ==, 0);
	}
	g_clear_object(&f->daemon);
	g_clear_object(&f->notify);
	g_clear_object(&f->testbed);
	remove_tree(f->tmpdir);
	g_free(f->tmpdir);
	g_free(f->socket_path);
	g_free(f->notify_path);
}

/* cases */

/* keep-alive clients that leave between requests, in order and by reset */
static void
test_keepalive_close(LimitsFixture *f, gconstpointer user_data)
{
	if (f->skipped)
		return;
	for (guint i = 0; i < 300; i++) {
		int fd = (i % 2 == 0) ? connect_tcp(f, FALSE) : connect_unix(f);
		send_all(
		  fd,
		  "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
		g_assert_cmpuint(read_answer(fd, NULL), ==, 200);
		if (i % 3 == 0) {
			/* a reset instead of an orderly close */
			struct linger linger = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
		}
		close(fd);
	}
	g_assert_true(wait_fd_count(f, f->baseline));
	g_assert_cmpuint(health(f, NULL), ==, 200);
}

/* the real client: the usbpass command, over the Unix socket and TCP */
static void
test_cli(LimitsFixture *f, gconstpointer user_data)
{
	g_autofree gchar *socket_arg = NULL;
	if (f->skipped)
		return;
	socket_arg = g_strdup_printf("--socket=%s", f->socket_path);
	for (guint i = 0; i < 100; i++) {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(GSubprocess) cli = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE,
		                                              &error_local,
		                                              USBPASS_CLI_PATH,
		                                              socket_arg,
		                                              "list",
		                                              NULL);
		g_assert_no_error(error_local);
		g_assert_true(g_subprocess_wait_check(cli, NULL, &error_local));
		g_assert_no_error(error_local);
	}
	g_assert_true(wait_fd_count(f, f->baseline));
}

/* clients that never finish their request: closed after the request timeout,
 * while others are answered */
static void
test_slowloris(LimitsFixture *f, gconstpointer user_data)
{
	int fds[300];
	if (f->skipped)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		fds[i] = connect_tcp(f, FALSE);
		/* half of them send nothing, half a header that never ends */
		if (i % 2 == 1)
			send_all(fds[i], "GET /v1/health HTTP/1.1\r\nHost: local");
	}
	g_assert_cmpuint(health(f, NULL), ==, 200);
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		g_assert_true(wait_closed_by_peer(fds[i]));
		close(fds[i]);
	}
	g_assert_true(wait_fd_count(f, f->baseline));
}

/* a kept-alive connection is closed after the idle timeout */
static void
test_idle(LimitsFixture *f, gconstpointer user_data)
{
	int fd;
	if (f->skipped)
		return;
	fd = connect_tcp(f, FALSE);
	send_all(fd, "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
	g_assert_cmpuint(read_answer(fd, NULL), ==, 200);
	/* still kept alive: a second request on it */
	send_all(fd, "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
	g_assert_cmpuint(read_answer(fd, NULL), ==, 200);
	g_assert_true(wait_closed_by_peer(fd));
	close(fd);
	g_assert_true(wait_fd_count(f, f->baseline));
}

/* 2,000 idle connections, more than max-connections: the idle ones make
 * room, the daemon keeps answering */
static void
test_idle_flood(LimitsFixture *f, gconstpointer user_data)
{
	g_autofree int *fds = g_new(int, 2000);
	if (f->skipped)
		return;
	for (guint i = 0; i < 2000; i++) {
		fds[i] = connect_tcp(f, FALSE);
		if (i % 250 == 0)
			g_assert_cmpuint(health(f, NULL), ==, 200);
	}
	g_assert_cmpuint(health(f, NULL), ==, 200);
	for (guint i = 0; i < 2000; i++)
		close(fds[i]);
	g_assert_true(wait_fd_count(f, f->baseline));
	g_assert_cmpuint(health(f, NULL), ==, 200);
}

/* every connection busy (event streams): a new one is answered 503 with a
 * JSON error */
static void
test_connection_limit(LimitsFixture *f, gconstpointer user_data)
{
	int fds[4];
	g_autofree gchar *body = NULL;
	g_autofree gchar *code = NULL;
	if (f->skipped)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		gchar buf[256];
		fds[i] = connect_unix(f);
		send_all(fds[i], "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n");
		g_assert_cmpint(recv(fds[i], buf, sizeof(buf), 0), >, 12);
		g_assert_true(g_str_has_prefix(buf, "HTTP/1.1 200"));
	}
	g_assert_cmpuint(health(f, &body), ==, 503);
	code = error_code(body);
	g_assert_cmpstr(code, ==, "busy");
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
		close(fds[i]);
	g_assert_true(wait_fd_count(f, f->baseline));
	g_assert_cmpuint(health(f, NULL), ==, 200);
}

/* out of descriptors: the listeners stop, and start again by themselves */
static void
test_emfile(LimitsFixture *f, gconstpointer user_data)
{
	struct rlimit old_limit;
	struct rlimit low;
	int fds[40];
	int late;
	if (f->skipped)
		return;
	g_assert_cmpint(prlimit(f->pid, RLIMIT_NOFILE, NULL, &old_limit), ==, 0);
	/* room for 8 more descriptors above the highest one in use */
	low.rlim_cur = fd_highest(f->pid) + 1 + 8;
	low.rlim_max = old_limit.rlim_max;
	g_assert_cmpint(prlimit(f->pid, RLIMIT_NOFILE, &low, NULL), ==, 0);
	/* busy connections (a request begun), so none can be closed to make room */
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		fds[i] = connect_tcp(f, FALSE);
		send_all(fds[i], "GET /v1/health HTTP/1.1\r\nHost: local");
	}
	g_assert_true(wait_fd_reach(f, (guint)low.rlim_cur));
	late = connect_tcp(f, FALSE);
	send_all(late, "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
		close(fds[i]);
	/* the connection waiting in the backlog is answered once there is room */
	g_assert_cmpuint(read_answer(late, NULL), ==, 200);
	close(late);
	g_assert_cmpint(prlimit(f->pid, RLIMIT_NOFILE, &old_limit, NULL), ==, 0);
	g_assert_true(wait_fd_count(f, f->baseline));
	g_assert_cmpuint(health(f, NULL), ==, 200);
}

/* what libsoup answers itself, and headers we refuse */
static void
test_malformed(LimitsFixture *f, gconstpointer user_data)
{
	static const gchar *const requests[] = {
		"GARBAGE\r\n\r\n",
		"GET /v1/health HTTP/1.1 trailing\r\nHost: localhost\r\n\r\n",
		"GET /v1/health HTTP/1.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n"
		"Host: localhost\r\n\r\n",
		"GET /v1/host HTTP/1.1\r\nauthorization: Bearer a\r\nAuthorization: Bearer b\r\n"
		"Host: localhost\r\n\r\n",
	};
	if (f->skipped)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(requests); i++) {
		g_autofree gchar *body = NULL;
		g_autofree gchar *code = NULL;
		int fd = connect_tcp(f, FALSE);
		send_all(fd, requests[i]);
		g_assert_cmpuint(read_answer(fd, &body), ==, 400);
		code = error_code(body);
		g_assert_cmpstr(code, ==, "invalid-data");
		close(fd);
	}
	g_assert_true(wait_fd_count(f, f->baseline));
}

/* an oversized body announced with Expect: 100-continue is refused before
 * it is sent */
static void
test_too_large(LimitsFixture *f, gconstpointer user_data)
{
	g_autofree gchar *body = NULL;
	g_autofree gchar *code = NULL;
	int fd;
	if (f->skipped)
		return;
	fd = connect_unix(f);
	send_all(fd,
	         "POST /v1/tokens HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
	         "Content-Length: 100000000\r\nExpect: 100-continue\r\n\r\n");
	g_assert_cmpuint(read_answer(fd, &body), ==, 413);
	code = error_code(body);
	g_assert_cmpstr(code, ==, "invalid-data");
	close(fd);
}

/* 128 clients connect at once while the daemon cannot accept: the backlog
 * holds them all */
static void
test_backlog(LimitsFixture *f, gconstpointer user_data)
{
	int fds[128];
	gint64 deadline;
	guint connected = 0;
	if (f->skipped)
		return;
	g_assert_cmpint(kill(f->pid, SIGSTOP), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
		fds[i] = connect_tcp(f, TRUE);
	/* a full backlog drops the SYN: the client retries only after a second */
	deadline = g_get_monotonic_time() + G_USEC_PER_SEC / 2;
	while (connected < G_N_ELEMENTS(fds) && g_get_monotonic_time() < deadline) {
		connected = 0;
		for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
			struct pollfd pfd = { fds[i], POLLOUT, 0 };
			int err = 0;
			socklen_t len = sizeof(err);
			if (poll(&pfd, 1, 0) == 1 &&
			    getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
				connected++;
		}
	}
	g_assert_cmpint(kill(f->pid, SIGCONT), ==, 0);
	g_assert_cmpuint(connected, ==, G_N_ELEMENTS(fds));
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		int flags = fcntl(fds[i], F_GETFL);
		fcntl(fds[i], F_SETFL, flags & ~O_NONBLOCK);
		send_all(fds[i], "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
	}
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		g_assert_cmpuint(read_answer(fds[i], NULL), ==, 200);
		close(fds[i]);
	}
	g_assert_true(wait_fd_count(f, f->baseline));
}

/* 500 event streams: the watcher limit answers the rest 503, the daemon
 * keeps answering, and every descriptor comes back */
static void
test_event_flood(LimitsFixture *f, gconstpointer user_data)
{
	g_autofree int *fds = g_new(int, 500);
	guint streaming = 0;
	guint refused = 0;
	if (f->skipped)
		return;
	for (guint i = 0; i < 500; i++) {
		gchar buf[1024];
		gssize n;
		fds[i] = connect_unix(f);
		send_all(fds[i], "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n");
		n = recv(fds[i], buf, sizeof(buf) - 1, 0);
		g_assert_cmpint(n, >, 12);
		buf[n] = '\0';
		if (g_str_has_prefix(buf, "HTTP/1.1 200"))
			streaming++;
		else if (g_str_has_prefix(buf, "HTTP/1.1 503"))
			refused++;
	}
	g_assert_cmpuint(streaming, >, 0);
	g_assert_cmpuint(streaming + refused, ==, 500);
	g_assert_cmpuint(health(f, NULL), ==, 200);
	for (guint i = 0; i < 500; i++)
		close(fds[i]);
	g_assert_true(wait_fd_count(f, f->baseline));
	g_assert_cmpuint(health(f, NULL), ==, 200);
}

int
main(int argc, char **argv)
{
	static const LimitsOptions fast = { 0, 1, 1 };
	static const LimitsOptions four = { 4, 30, 30 };
	static const LimitsOptions slow = { 0, 30, 30 };
	struct rlimit limit;

	/* 2,000 connections at once need more than the usual 1,024 descriptors */
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 4096 &&
	    limit.rlim_max >= 4096) {
		limit.rlim_cur = 4096;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
	g_test_init(&argc, &argv, NULL);
#define ADD(path, options, func)                                                                   \
	g_test_add(path, LimitsFixture, options, fixture_setup, func, fixture_teardown)
	ADD("/usbpass/api-limits/keepalive-close", &slow, test_keepalive_close);
	ADD("/usbpass/api-limits/cli", &slow, test_cli);
	ADD("/usbpass/api-limits/slowloris", &fast, test_slowloris);
	ADD("/usbpass/api-limits/idle", &fast, test_idle);
	ADD("/usbpass/api-limits/idle{flood}", &slow, test_idle_flood);
	ADD("/usbpass/api-limits/connection-limit", &four, test_connection_limit);
	ADD("/usbpass/api-limits/emfile", &slow, test_emfile);
	ADD("/usbpass/api-limits/malformed", &slow, test_malformed);
	ADD("/usbpass/api-limits/too-large{expect}", &slow, test_too_large);
	ADD("/usbpass/api-limits/backlog", &slow, test_backlog);
	ADD("/usbpass/api-limits/events{flood}", &slow, test_event_flood);
#undef ADD
	return g_test_run();
}
