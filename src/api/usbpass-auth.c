/*
 * usbpass-auth.c: who is calling the REST API, and what they may do
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usbpass-auth-private.h"
#include "usbpass-auth.h"
#include "usbpass-error.h"
#include "usbpass-string.h"

/* a presented secret longer than this is not one of ours: never hash megabytes */
#define USBPASS_AUTH_SECRET_MAX_BYTES 256
/* random bytes in a secret: 256 bits */
#define USBPASS_AUTH_SECRET_RANDOM_BYTES 32
/* a valid token is remembered this long, so that a busy client costs no
 * database read per request; revocation through this daemon clears it at once */
#define USBPASS_AUTH_CACHE_TTL_USEC (2 * G_USEC_PER_SEC)
#define USBPASS_AUTH_CACHE_MAX      1024
/* last_used is a hint for people, not an access log: one write a minute */
#define USBPASS_AUTH_TOUCH_INTERVAL_USEC (60 * G_USEC_PER_SEC)
#define USBPASS_AUTH_TOKEN_NAME_MAX      64

typedef struct {
	gchar *name;
	UsbpassTokenRole role;
	gint64 expires_usec; /* monotonic */
} UsbpassAuthCacheEntry;

struct _UsbpassAuth {
	GObject parent_instance;
	UsbpassStore *store;
	gchar *admin_group; /* NULL: root only */
	gid_t admin_gid;
	guint max_tokens;
	GHashTable *cache;   /* secret hash -> UsbpassAuthCacheEntry */
	GHashTable *touched; /* token name -> gint64* monotonic time of the last touch */
};

G_DEFINE_TYPE(UsbpassAuth, usbpass_auth, G_TYPE_OBJECT)

static void
usbpass_auth_cache_entry_free(UsbpassAuthCacheEntry *self)
{
	if (self == NULL)
		return;
	g_free(self->name);
	g_free(self);
}

/**
 * usbpass_auth_caller_new:
 *
 * Returns: (transfer full): an unauthenticated caller without credentials
 */
UsbpassAuthCaller *
usbpass_auth_caller_new(void)
{
	UsbpassAuthCaller *self = g_new0(UsbpassAuthCaller, 1);
	self->role = USBPASS_TOKEN_ROLE_READER;
	return self;
}

/**
 * usbpass_auth_caller_free:
 * @self: (nullable): a caller
 */
void
usbpass_auth_caller_free(UsbpassAuthCaller *self)
{
	if (self == NULL)
		return;
	g_free(self->actor);
	g_free(self->detail);
	g_free(self);
}

/**
 * usbpass_auth_caller_authorize:
 * @self: an identified caller
 * @required: the weakest role allowed
 * @error: (nullable): #USBPASS_ERROR_PERMISSION_DENIED saying why
 *
 * Returns: %TRUE when @self is authenticated with @required or a stronger role
 */
gboolean
usbpass_auth_caller_authorize(const UsbpassAuthCaller *self,
                              UsbpassTokenRole required,
                              GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(required < USBPASS_TOKEN_ROLE_LAST, FALSE);

	if (!self->authenticated) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_PERMISSION_DENIED,
		            "%s",
		            self->detail != NULL ? self->detail : "authentication required");
		return FALSE;
	}
	if (self->role < required) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_PERMISSION_DENIED,
		            "'%s' has the role '%s'; this needs '%s'",
		            self->actor,
		            usbpass_token_role_to_string(self->role),
		            usbpass_token_role_to_string(required));
		return FALSE;
	}
	return TRUE;
}

/**
 * usbpass_auth_hash_secret:
 * @secret: a bearer secret
 *
 * Returns: (transfer full): "sha256:<64 lower-case hex digits>", the form the
 * store keeps
 */
gchar *
usbpass_auth_hash_secret(const gchar *secret)
{
	g_autofree gchar *hex = NULL;
	g_return_val_if_fail(secret != NULL, NULL);
	hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, secret, -1);
	return g_strdup_printf("sha256:%s", hex);
}

/**
 * usbpass_auth_generate_secret:
 * @error: (nullable): #USBPASS_ERROR_INTERNAL when the kernel has no randomness
 *
 * g_random_*() is not cryptographic; this reads getrandom(2).
 *
 * Returns: (transfer full): "usbp_" and 43 characters of URL-safe base64
 */
gchar *
usbpass_auth_generate_secret(GError **error)
{
	guint8 random_bytes[USBPASS_AUTH_SECRET_RANDOM_BYTES];
	g_autofree gchar *encoded = NULL;
	gsize got = 0;

	while (got < sizeof(random_bytes)) {
		gssize rc = getrandom(random_bytes + got, sizeof(random_bytes) - got, 0);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INTERNAL,
			            "cannot read random bytes for a token: %s",
			            g_strerror(errno));
			return NULL;
		}
		got += (gsize)rc;
	}
	encoded = g_base64_encode(random_bytes, sizeof(random_bytes));
	memset(random_bytes, 0, sizeof(random_bytes));
	/* URL-safe alphabet without padding: the secret goes into headers and shells */
	for (gchar *p = encoded; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=')
			*p = '\0';
	}
	return g_strdup_printf("%s%s", USBPASS_AUTH_SECRET_PREFIX, encoded);
}

/**
 * usbpass_auth_new:
 * @store: where tokens live
 *
 * Returns: (transfer full): an authenticator admitting root on the socket and
 * tokens of @store on TCP
 */
UsbpassAuth *
usbpass_auth_new(UsbpassStore *store)
{
	UsbpassAuth *self;
	g_return_val_if_fail(USBPASS_IS_STORE(store), NULL);
	self = g_object_new(USBPASS_TYPE_AUTH, NULL);
	self->store = g_object_ref(store);
	return self;
}

/**
 * usbpass_auth_set_admin_group:
 * @self: the authenticator
 * @group: (nullable): a group name; %NULL or "" for root only
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when the group does not exist
 *
 * Members of @group connecting over the Unix socket are admins. On failure the
 * previous setting stays.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_auth_set_admin_group(UsbpassAuth *self, const gchar *group, GError **error)
{
	struct group grp_buf;
	struct group *grp = NULL;
	g_autofree gchar *buf = NULL;
	gsize buf_len = 4096;
	gint rc;

	g_return_val_if_fail(USBPASS_IS_AUTH(self), FALSE);

	if (group == NULL || group[0] == '\0') {
		g_clear_pointer(&self->admin_group, g_free);
		return TRUE;
	}
	for (;;) {
		g_free(buf);
		buf = g_malloc(buf_len);
		rc = getgrnam_r(group, &grp_buf, buf, buf_len, &grp);
		if (rc != ERANGE || buf_len >= 1024 * 1024)
			break;
		buf_len *= 4;
	}
	if (grp == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_NOT_FOUND,
		            "group '%s' does not exist%s%s",
		            group,
		            rc != 0 ? ": " : "",
		            rc != 0 ? g_strerror(rc) : "");
		return FALSE;
	}
	g_free(self->admin_group);
	self->admin_group = g_strdup(group);
	self->admin_gid = grp->gr_gid;
	return TRUE;
}

/**
 * usbpass_auth_get_admin_group:
 * @self: the authenticator
 *
 * Returns: (nullable): the admin group, %NULL when only root is admin
 */
const gchar *
usbpass_auth_get_admin_group(UsbpassAuth *self)
{
	g_return_val_if_fail(USBPASS_IS_AUTH(self), NULL);
	return self->admin_group;
}

/**
 * usbpass_auth_set_max_tokens:
 * @self: the authenticator
 * @max_tokens: how many tokens usbpass_auth_create_token() allows in the store
 */
void
usbpass_auth_set_max_tokens(UsbpassAuth *self, guint max_tokens)
{
	g_return_if_fail(USBPASS_IS_AUTH(self));
	self->max_tokens = max_tokens;
}

static gboolean
usbpass_auth_groups_line_contains(const gchar *line, guint gid)
{
	g_auto(GStrv) fields = g_strsplit_set(line, " \t", -1);
	for (guint i = 0; fields[i] != NULL; i++) {
		guint64 value = 0;
		if (fields[i][0] == '\0')
			continue;
		if (!g_ascii_string_to_unsigned(fields[i], 10, 0, G_MAXUINT32, &value, NULL))
			continue;
		if (value == gid)
			return TRUE;
	}
	return FALSE;
}

/* whether a "Uid:" line of /proc/<pid>/status names @uid as real and effective user */
static gboolean
usbpass_auth_uid_line_matches(const gchar *line, guint uid)
{
	g_auto(GStrv) fields = g_strsplit_set(line, " \t", -1);
	guint n = 0;
	for (guint i = 0; fields[i] != NULL && n < 2; i++) {
		guint64 value = 0;
		if (fields[i][0] == '\0')
			continue;
		if (!g_ascii_string_to_unsigned(fields[i], 10, 0, G_MAXUINT32, &value, NULL))
			return FALSE;
		if (value != uid)
			return FALSE;
		n++;
	}
	return n == 2;
}

/**
 * usbpass_auth_status_in_group:
 * @status: the text of /proc/<pid>/status
 * @uid: the user the socket credentials name
 * @gid: the group asked about
 * @in_group: (out): whether the process is in @gid, set only on %TRUE
 *
 * The pid of SO_PEERCRED may have been reused by another process since the
 * peer connected; a status whose real or effective user is not @uid belongs
 * to somebody else and tells nothing.
 *
 * Returns: %TRUE when @status answers: its "Uid:" line names @uid as real and
 * effective user and it has a "Groups:" line
 */
gboolean
usbpass_auth_status_in_group(const gchar *status, guint uid, guint gid, gboolean *in_group)
{
	g_auto(GStrv) lines = NULL;
	const gchar *groups = NULL;
	gboolean uid_ok = FALSE;

	g_return_val_if_fail(status != NULL, FALSE);
	g_return_val_if_fail(in_group != NULL, FALSE);

	lines = g_strsplit(status, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "Uid:"))
			uid_ok = usbpass_auth_uid_line_matches(lines[i] + 4, uid);
		else if (g_str_has_prefix(lines[i], "Groups:"))
			groups = lines[i] + 7;
	}
	if (!uid_ok || groups == NULL)
		return FALSE;
	*in_group = usbpass_auth_groups_line_contains(groups, gid);
	return TRUE;
}

/**
 * usbpass_auth_socket_in_group:
 * @fd: a connected Unix socket
 * @gid: the group asked about
 * @in_group: (out): whether the peer was in @gid, set only on %TRUE
 *
 * Asks the kernel for the supplementary groups the peer had when it connected
 * (SO_PEERGROUPS, Linux 4.13), which no pid reuse can change.
 *
 * Returns: %TRUE when the kernel answered
 */
gboolean
usbpass_auth_socket_in_group(gint fd, guint gid, gboolean *in_group)
{
	g_autofree gid_t *groups = NULL;
	socklen_t len = 64 * sizeof(gid_t);

	g_return_val_if_fail(in_group != NULL, FALSE);

	if (fd < 0)
		return FALSE;
	/* ERANGE tells the size needed in len; NGROUPS_MAX bounds it */
	for (guint attempt = 0; attempt < 2; attempt++) {
		g_free(groups);
		groups = g_malloc0(MAX(len, sizeof(gid_t)));
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
			gboolean found = FALSE;
			for (gsize i = 0; i < len / sizeof(gid_t); i++) {
				if (groups[i] == gid)
					found = TRUE;
			}
			*in_group = found;
			return TRUE;
		}
		if (errno != ERANGE || len > 65536 * sizeof(gid_t))
			return FALSE;
	}
	return FALSE;
}

/**
 * usbpass_auth_peer_in_group:
 * @pid: the peer process, 0 when unknown
 * @uid: its user
 * @primary_gid: its effective group
 * @gid: the group asked about
 *
 * The supplementary groups of the process itself count (they may differ from
 * the user database after newgrp or setgroups) while /proc/<pid>/status still
 * belongs to @uid; when it does not (the pid is gone or reused) or /proc does
 * not tell, the user's groups from the user database do. Prefer
 * usbpass_auth_socket_in_group() where there is a socket.
 *
 * Returns: %TRUE when the peer is in @gid
 */
gboolean
usbpass_auth_peer_in_group(guint pid, guint uid, guint primary_gid, guint gid)
{
	g_autofree gchar *status = NULL;
	struct passwd pwd_buf;
	struct passwd *pwd = NULL;
	gchar pwd_strings[4096];
	gid_t groups[256];
	gint ngroups = G_N_ELEMENTS(groups);

	if (primary_gid == gid)
		return TRUE;

	if (pid > 0) {
		g_autofree gchar *path = g_strdup_printf("/proc/%u/status", pid);
		gboolean in_group = FALSE;
		if (g_file_get_contents(path, &status, NULL, NULL) &&
		    usbpass_auth_status_in_group(status, uid, gid, &in_group))
			return in_group;
	}

	/* the peer is gone, is another user's process now, or /proc is hidden:
	 * ask the user database */
	if (getpwuid_r(uid, &pwd_buf, pwd_strings, sizeof(pwd_strings), &pwd) != 0 || pwd == NULL)
		return FALSE;
	if (getgrouplist(pwd->pw_name, primary_gid, groups, &ngroups) < 0)
		ngroups = G_N_ELEMENTS(groups);
	for (gint i = 0; i < ngroups; i++) {
		if (groups[i] == gid)
			return TRUE;
	}
	return FALSE;
}

static gboolean
usbpass_auth_ucred_is_admin(UsbpassAuth *self, GSocket *socket, const struct ucred *ucred)
{
	gboolean in_group = FALSE;

	if (self->admin_group == NULL)
		return FALSE;
	if (ucred->gid == self->admin_gid)
		return TRUE;
	/* the groups the peer connected with; /proc only on kernels before 4.13 */
	if (usbpass_auth_socket_in_group(g_socket_get_fd(socket), self->admin_gid, &in_group))
		return in_group;
	return usbpass_auth_peer_in_group(
	  (guint)ucred->pid, (guint)ucred->uid, (guint)ucred->gid, self->admin_gid);
}

/**
 * usbpass_auth_identify_peer:
 * @self: the authenticator
 * @socket: (nullable): the connection's socket, a Unix socket
 *
 * Returns: (transfer full): the caller: an admin when root or in the admin
 * group, else authenticated = FALSE with credentials_given = TRUE
 */
UsbpassAuthCaller *
usbpass_auth_identify_peer(UsbpassAuth *self, GSocket *socket)
{
	g_autoptr(UsbpassAuthCaller) caller = usbpass_auth_caller_new();
	g_autoptr(GCredentials) credentials = NULL;
	g_autoptr(GError) error_local = NULL;
	struct ucred *ucred;

	g_return_val_if_fail(USBPASS_IS_AUTH(self), NULL);

	if (socket != NULL)
		credentials = g_socket_get_credentials(socket, &error_local);
	if (credentials == NULL) {
		caller->actor = g_strdup("uid:unknown");
		caller->detail =
		  g_strdup_printf("cannot read the peer credentials of the socket: %s",
		                  error_local != NULL ? error_local->message : "no socket");
		return g_steal_pointer(&caller);
	}
	ucred = g_credentials_get_native(credentials, G_CREDENTIALS_TYPE_LINUX_UCRED);
	if (ucred == NULL) {
		caller->actor = g_strdup("uid:unknown");
		caller->detail = g_strdup("the socket carries no Unix credentials");
		return g_steal_pointer(&caller);
	}

	caller->credentials_given = TRUE;
	caller->actor = g_strdup_printf("uid:%u", (guint)ucred->uid);
	if (ucred->uid == 0 || usbpass_auth_ucred_is_admin(self, socket, ucred)) {
		caller->authenticated = TRUE;
		caller->role = USBPASS_TOKEN_ROLE_ADMIN;
		return g_steal_pointer(&caller);
	}
	if (self->admin_group != NULL) {
		caller->detail =
		  g_strdup_printf("user %u is neither root nor a member of group '%s'",
		                  (guint)ucred->uid,
		                  self->admin_group);
	} else {
		caller->detail = g_strdup_printf("user %u is not root", (guint)ucred->uid);
	}
	return g_steal_pointer(&caller);
}

static gboolean
usbpass_auth_secret_is_plausible(const gchar *secret)
{
	gsize len = strlen(secret);
	if (len == 0 || len > USBPASS_AUTH_SECRET_MAX_BYTES)
		return FALSE;
	/* RFC 6750 b64token characters */
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(secret[i]) && strchr("-._~+/=", secret[i]) == NULL)
			return FALSE;
	}
	return TRUE;
}

static void
usbpass_auth_touch(UsbpassAuth *self, const gchar *name)
{
	gint64 now = g_get_monotonic_time();
	gint64 *last = g_hash_table_lookup(self->touched, name);
	g_autoptr(GError) error_local = NULL;

	if (last != NULL && now - *last < USBPASS_AUTH_TOUCH_INTERVAL_USEC)
		return;
	if (g_hash_table_size(self->touched) > USBPASS_AUTH_CACHE_MAX)
		g_hash_table_remove_all(self->touched);
	g_hash_table_insert(self->touched, g_strdup(name), g_memdup2(&now, sizeof(now)));
	if (!usbpass_store_touch_token(self->store, name, g_get_real_time(), &error_local))
		g_debug(
		  "cannot record the use of token '%s', ignoring: %s", name, error_local->message);
}

/**
 * usbpass_auth_identify_bearer:
 * @self: the authenticator
 * @authorization: (nullable): the Authorization header
 * @remote_host: (nullable): the peer's address, for the audit log
 * @error: (nullable): #USBPASS_ERROR_STORE when the tokens cannot be read
 *
 * Returns: (transfer full): the caller, authenticated with the token's role,
 * or not (credentials_given tells 401 from 403); %NULL only on a store failure
 */
UsbpassAuthCaller *
usbpass_auth_identify_bearer(UsbpassAuth *self,
                             const gchar *authorization,
                             const gchar *remote_host,
                             GError **error)
{
	g_autoptr(UsbpassAuthCaller) caller = usbpass_auth_caller_new();
	g_autoptr(UsbpassToken) token = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *secret = NULL;
	UsbpassAuthCacheEntry *cached;
	gint64 now;

	g_return_val_if_fail(USBPASS_IS_AUTH(self), NULL);

	caller->actor = g_strdup_printf("tcp:%s", remote_host != NULL ? remote_host : "unknown");
	if (authorization == NULL) {
		caller->detail =
		  g_strdup("a bearer token is required (Authorization: Bearer <token>)");
		return g_steal_pointer(&caller);
	}
	caller->credentials_given = TRUE;
	if (g_ascii_strncasecmp(authorization, "Bearer ", 7) != 0) {
		caller->credentials_given = FALSE;
		caller->detail = g_strdup("only the Bearer authorization scheme is accepted");
		return g_steal_pointer(&caller);
	}
	secret = g_strstrip(g_strdup(authorization + 7));
	if (!usbpass_auth_secret_is_plausible(secret)) {
		caller->detail = g_strdup("the bearer token is malformed");
		return g_steal_pointer(&caller);
	}

	hash = usbpass_auth_hash_secret(secret);
	now = g_get_monotonic_time();
	cached = g_hash_table_lookup(self->cache, hash);
	if (cached != NULL && cached->expires_usec > now) {
		g_free(caller->actor);
		caller->actor = g_strdup_printf("token:%s", cached->name);
		caller->authenticated = TRUE;
		caller->role = cached->role;
		usbpass_auth_touch(self, cached->name);
		return g_steal_pointer(&caller);
	}

	token = usbpass_store_lookup_token(self->store, hash, &error_local);
	if (token == NULL) {
		if (g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND)) {
			g_hash_table_remove(self->cache, hash);
			caller->detail = g_strdup("the bearer token is unknown or revoked");
			return g_steal_pointer(&caller);
		}
		g_propagate_prefixed_error(
		  error, g_steal_pointer(&error_local), "cannot look up the bearer token: ");
		return NULL;
	}
	if (token->role >= USBPASS_TOKEN_ROLE_LAST) {
		caller->detail = g_strdup("the bearer token has no valid role");
		return g_steal_pointer(&caller);
	}

	if (g_hash_table_size(self->cache) >= USBPASS_AUTH_CACHE_MAX)
		g_hash_table_remove_all(self->cache);
	{
		UsbpassAuthCacheEntry *entry = g_new0(UsbpassAuthCacheEntry, 1);
		entry->name = g_strdup(token->name);
		entry->role = token->role;
		entry->expires_usec = now + USBPASS_AUTH_CACHE_TTL_USEC;
		g_hash_table_replace(self->cache, g_steal_pointer(&hash), entry);
	}
	g_free(caller->actor);
	caller->actor = g_strdup_printf("token:%s", token->name);
	caller->authenticated = TRUE;
	caller->role = token->role;
	usbpass_auth_touch(self, token->name);
	return g_steal_pointer(&caller);
}

/**
 * usbpass_auth_create_token:
 * @self: the authenticator
 * @name: a unique name, [A-Za-z0-9._-]{1,64}
 * @role: what the token may do
 * @secret: (out) (transfer full): the secret, to be shown once
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a bad or taken name, a
 *   bad role or when the limit of tokens is reached; #USBPASS_ERROR_STORE
 *
 * Returns: (transfer full): the stored token (with its hash, for the caller to
 * drop: never show it)
 */
UsbpassToken *
usbpass_auth_create_token(UsbpassAuth *self,
                          const gchar *name,
                          UsbpassTokenRole role,
                          gchar **secret,
                          GError **error)
{
	g_autoptr(UsbpassToken) token = usbpass_token_new();
	g_autoptr(GPtrArray) tokens = NULL;
	g_autofree gchar *secret_tmp = NULL;

	g_return_val_if_fail(USBPASS_IS_AUTH(self), NULL);
	g_return_val_if_fail(name != NULL, NULL);
	g_return_val_if_fail(secret != NULL, NULL);

	if (!usbpass_string_is_identifier(name, USBPASS_AUTH_TOKEN_NAME_MAX)) {
		g_autofree gchar *shown = usbpass_string_sanitize(name, -1, 80);
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "token name '%s' is not 1 to %u characters of A-Z, a-z, 0-9, '.', '_' and '-'",
		  shown != NULL ? shown : "",
		  (guint)USBPASS_AUTH_TOKEN_NAME_MAX);
		return NULL;
	}
	if (role >= USBPASS_TOKEN_ROLE_LAST) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "token role %u is unknown",
		            (guint)role);
		return NULL;
	}
	tokens = usbpass_store_list_tokens(self->store, error);
	if (tokens == NULL)
		return NULL;
	if (tokens->len >= self->max_tokens) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "cannot create token '%s': the limit of %u tokens is reached; revoke one first",
		  name,
		  self->max_tokens);
		return NULL;
	}

	secret_tmp = usbpass_auth_generate_secret(error);
	if (secret_tmp == NULL)
		return NULL;
	token->name = g_strdup(name);
	token->role = role;
	token->secret_hash = usbpass_auth_hash_secret(secret_tmp);
	token->created_usec = g_get_real_time();
	token->last_used_usec = 0;
	if (!usbpass_store_add_token(self->store, token, error))
		return NULL;
	*secret = g_steal_pointer(&secret_tmp);
	return g_steal_pointer(&token);
}

/**
 * usbpass_auth_revoke_token:
 * @self: the authenticator
 * @name: the token's name
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, #USBPASS_ERROR_STORE
 *
 * The token stops working at once for this daemon.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_auth_revoke_token(UsbpassAuth *self, const gchar *name, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_AUTH(self), FALSE);
	g_return_val_if_fail(name != NULL, FALSE);

	if (!usbpass_store_revoke_token(self->store, name, error))
		return FALSE;
	g_hash_table_remove_all(self->cache);
	g_hash_table_remove(self->touched, name);
	return TRUE;
}

static void
usbpass_auth_finalize(GObject *object)
{
	UsbpassAuth *self = USBPASS_AUTH(object);
	g_clear_object(&self->store);
	g_free(self->admin_group);
	g_hash_table_unref(self->cache);
	g_hash_table_unref(self->touched);
	G_OBJECT_CLASS(usbpass_auth_parent_class)->finalize(object);
}

static void
usbpass_auth_init(UsbpassAuth *self)
{
	self->max_tokens = USBPASS_AUTH_MAX_TOKENS_DEFAULT;
	self->cache = g_hash_table_new_full(
	  g_str_hash, g_str_equal, g_free, (GDestroyNotify)usbpass_auth_cache_entry_free);
	self->touched = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
usbpass_auth_class_init(UsbpassAuthClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = usbpass_auth_finalize;
}
