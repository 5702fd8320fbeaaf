/*
 * usbpass-pg-harness.c: a private PostgreSQL server for tests and benchmarks
 */
#define G_LOG_DOMAIN "UsbpassPgHarness"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "usbpass-pg-harness.h"

#define USBPASS_PG_HARNESS_START_TIMEOUT_USEC (60 * G_USEC_PER_SEC)

struct _UsbpassPgHarness {
	gchar *bindir;
	gchar *tmpdir; /* the socket directory too */
	gchar *datadir;
	gchar *logfile;
	uid_t uid; /* run the server as this user (postgres when we are root) */
	gid_t gid;
	GPid pid; /* the postmaster, 0 when stopped */
	guint databases;
};

static gchar *
usbpass_pg_harness_find_bindir(void)
{
	const gchar *env = g_getenv("USBPASS_PG_BINDIR");
	g_autoptr(GDir) dir = NULL;
	const gchar *name;
	guint best = 0;

	if (env != NULL)
		return g_strdup(env);
	dir = g_dir_open("/usr/lib/postgresql", 0, NULL);
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		guint64 version = 0;
		g_autofree gchar *postgres =
		  g_build_filename("/usr/lib/postgresql", name, "bin", "postgres", NULL);
		if (!g_ascii_string_to_unsigned(name, 10, 1, 999, &version, NULL))
			continue;
		if (g_file_test(postgres, G_FILE_TEST_IS_EXECUTABLE) && version > best)
			best = (guint)version;
	}
	if (best == 0)
		return NULL;
	return g_strdup_printf("/usr/lib/postgresql/%u/bin", best);
}

/* in the child, between fork and exec: only async-signal-safe calls */
static void
usbpass_pg_harness_child_setup(gpointer user_data)
{
	UsbpassPgHarness *self = user_data;

	if (getuid() != self->uid) {
		if (setgroups(0, NULL) != 0 || setgid(self->gid) != 0 || setuid(self->uid) != 0)
			_exit(126);
	}
	/* after setuid, which clears it: the server dies with us */
	prctl(PR_SET_PDEATHSIG, SIGQUIT);
}

static gboolean
usbpass_pg_harness_run(UsbpassPgHarness *self, const gchar *const *argv, GError **error)
{
	g_autofree gchar *out = NULL;
	gint status = 0;

	if (!g_spawn_sync(NULL,
	                  (gchar **)argv,
	                  NULL,
	                  G_SPAWN_STDERR_TO_DEV_NULL,
	                  usbpass_pg_harness_child_setup,
	                  self,
	                  &out,
	                  NULL,
	                  &status,
	                  error))
		return FALSE;
	if (!g_spawn_check_wait_status(status, error)) {
		g_prefix_error(error, "%s failed: %s: ", argv[0], out != NULL ? out : "");
		return FALSE;
	}
	return TRUE;
}

static gchar *
usbpass_pg_harness_conninfo(UsbpassPgHarness *self, const gchar *dbname)
{
	return g_strdup_printf("postgresql:///%s?host=%s&user=postgres", dbname, self->tmpdir);
}

static gboolean
usbpass_pg_harness_exec(UsbpassPgHarness *self,
                        const gchar *dbname,
                        const gchar *sql,
                        GError **error)
{
	g_autofree gchar *conninfo = usbpass_pg_harness_conninfo(self, dbname);
	PGconn *conn = PQconnectdb(conninfo);
	PGresult *res;
	gboolean ok;

	if (PQstatus(conn) != CONNECTION_OK) {
		g_set_error(
		  error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return FALSE;
	}
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		g_set_error(
		  error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return ok;
}

static gboolean
usbpass_pg_harness_start(UsbpassPgHarness *self, GError **error)
{
	g_autofree gchar *postgres = g_build_filename(self->bindir, "postgres", NULL);
	g_autofree gchar *conninfo = usbpass_pg_harness_conninfo(self, "postgres");
	g_autofree gchar *socket_opt = g_strdup_printf("unix_socket_directories=%s", self->tmpdir);
	const gchar *argv[] = { postgres,
		                "-D",
		                self->datadir,
		                "-c",
		                socket_opt,
		                "-c",
		                "listen_addresses=",
		                "-c",
		                "fsync=off",
		                "-c",
		                "synchronous_commit=off",
		                "-c",
		                "full_page_writes=off",
		                "-c",
		                "max_connections=150",
		                NULL };
	gint64 deadline = g_get_monotonic_time() + USBPASS_PG_HARNESS_START_TIMEOUT_USEC;
	gint log_fd;
	gboolean ok;

	log_fd = g_open(self->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		g_set_error(
		  error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot open %s", self->logfile);
		return FALSE;
	}
	ok = g_spawn_async_with_fds(NULL,
	                            (gchar **)argv,
	                            NULL,
	                            G_SPAWN_DO_NOT_REAP_CHILD,
	                            usbpass_pg_harness_child_setup,
	                            self,
	                            &self->pid,
	                            -1,
	                            log_fd,
	                            log_fd,
	                            error);
	g_close(log_fd, NULL);
	if (!ok)
		return FALSE;

	/* ready when it accepts connections; not a fixed sleep: a deadline */
	while (PQping(conninfo) != PQPING_OK) {
		gint status = 0;
		if (waitpid(self->pid, &status, WNOHANG) == self->pid) {
			g_autofree gchar *log = NULL;
			self->pid = 0;
			g_file_get_contents(self->logfile, &log, NULL, NULL);
			g_set_error(
			  error, G_IO_ERROR, G_IO_ERROR_FAILED, "postgres exited: %s", log);
			return FALSE;
		}
		if (g_get_monotonic_time() > deadline) {
			g_set_error(error,
			            G_IO_ERROR,
			            G_IO_ERROR_TIMED_OUT,
			            "postgres did not start within 60 s");
			return FALSE;
		}
		g_usleep(10 * 1000);
	}
	return TRUE;
}

static void
usbpass_pg_harness_stop(UsbpassPgHarness *self)
{
	if (self->pid == 0)
		return;
	/* SIGINT: the fast shutdown (pg_ctl stop -m fast) */
	kill(self->pid, SIGINT);
	while (waitpid(self->pid, NULL, 0) < 0 && errno == EINTR)
		;
	self->pid = 0;
}

static void
usbpass_pg_harness_rm_rf(const gchar *path)
{
	if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			usbpass_pg_harness_rm_rf(child);
		}
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

void
usbpass_pg_harness_free(UsbpassPgHarness *self)
{
	if (self == NULL)
		return;
	usbpass_pg_harness_stop(self);
	if (self->tmpdir != NULL)
		usbpass_pg_harness_rm_rf(self->tmpdir);
	g_free(self->bindir);
	g_free(self->tmpdir);
	g_free(self->datadir);
	g_free(self->logfile);
	g_free(self);
}

UsbpassPgHarness *
usbpass_pg_harness_new(GError **error)
{
	g_autoptr(UsbpassPgHarness) self = g_new0(UsbpassPgHarness, 1);
	g_autofree gchar *initdb = NULL;
	g_autofree gchar *postgres = NULL;

	self->bindir = usbpass_pg_harness_find_bindir();
	if (self->bindir == NULL) {
		g_set_error_literal(error,
		                    G_IO_ERROR,
		                    G_IO_ERROR_NOT_FOUND,
		                    "no PostgreSQL server in /usr/lib/postgresql/*/bin (Debian's "
		                    "postgresql package; scripts/install-deps installs it) and no "
		                    "USBPASS_PG_BINDIR");
		return NULL;
	}
	initdb = g_build_filename(self->bindir, "initdb", NULL);
	postgres = g_build_filename(self->bindir, "postgres", NULL);
	if (!g_file_test(initdb, G_FILE_TEST_IS_EXECUTABLE) ||
	    !g_file_test(postgres, G_FILE_TEST_IS_EXECUTABLE)) {
		g_set_error(error,
		            G_IO_ERROR,
		            G_IO_ERROR_NOT_FOUND,
		            "no initdb and postgres in '%s'",
		            self->bindir);
		return NULL;
	}
	self->uid = getuid();
	self->gid = getgid();
	if (self->uid == 0) {
		/* the server refuses to run as root */
		struct passwd *pw = getpwnam("postgres");
		if (pw == NULL) {
			g_set_error_literal(
			  error,
			  G_IO_ERROR,
			  G_IO_ERROR_NOT_FOUND,
			  "running as root and there is no user 'postgres' to run "
			  "the PostgreSQL server as");
			return NULL;
		}
		self->uid = pw->pw_uid;
		self->gid = pw->pw_gid;
	}

	self->tmpdir = g_dir_make_tmp("usbpass-pg-XXXXXX", error);
	if (self->tmpdir == NULL)
		return NULL;
	if (chown(self->tmpdir, self->uid, self->gid) != 0) {
		g_set_error(
		  error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot chown %s", self->tmpdir);
		return NULL;
	}
	self->datadir = g_build_filename(self->tmpdir, "data", NULL);
	self->logfile = g_build_filename(self->tmpdir, "postgres.log", NULL);
	{
		const gchar *argv[] = { initdb,     "-D",          self->datadir, "-U",
			                "postgres", "-A",          "trust",       "-E",
			                "UTF8",     "--no-locale", "--no-sync",   NULL };
		if (!usbpass_pg_harness_run(self, argv, error))
			return NULL;
	}
	if (!usbpass_pg_harness_start(self, error))
		return NULL;
	if (!usbpass_pg_harness_exec(self, "postgres", "CREATE DATABASE usbpass", error))
		return NULL;
	return g_steal_pointer(&self);
}

gchar *
usbpass_pg_harness_create_database(UsbpassPgHarness *self, GError **error)
{
	g_autofree gchar *name = g_strdup_printf("usbpass_test_%u", ++self->databases);
	g_autofree gchar *sql = NULL;
	g_autofree gchar *base = usbpass_pg_harness_conninfo(self, "usbpass");

	/* a schema costs far less than CREATE DATABASE (a copy of the template
	 * and a checkpoint); the name is ours, a plain identifier */
	sql = g_strdup_printf("CREATE SCHEMA %s", name);
	if (!usbpass_pg_harness_exec(self, "usbpass", sql, error))
		return NULL;
	return g_strdup_printf("%s&options=-csearch_path%%3D%s", base, name);
}

gboolean
usbpass_pg_harness_restart(UsbpassPgHarness *self, GError **error)
{
	usbpass_pg_harness_stop(self);
	return usbpass_pg_harness_start(self, error);
}
