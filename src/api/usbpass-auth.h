/*
 * usbpass-auth.h: who is calling the REST API, and what they may do
 *
 * Two ways in, two ways to know the caller:
 *  - the local Unix socket: the kernel's peer credentials (SO_PEERCRED). Root
 *    and members of the configured admin group (primary or supplementary
 *    group of the peer process, as SO_PEERGROUPS recorded them at connect;
 *    before Linux 4.13 /proc/<pid>/status while it is still the same user's,
 *    else the user database) are admins; anybody else is refused (403).
 *  - TCP: "Authorization: Bearer <secret>". Only the SHA-256 of a secret is
 *    stored ("sha256:<hex>"); a secret is made from getrandom(), shown once by
 *    usbpass_auth_create_token() and never again. No function here returns or
 *    logs a secret or a hash of an existing token.
 *
 * Roles are ordered: reader < operator < admin. usbpass_auth_caller_authorize()
 * decides with PERMISSION_DENIED; the caller's credentials_given tells the API
 * whether that is a 401 (none or invalid) or a 403 (valid, but too weak).
 *
 * Everything a caller can make us allocate is bounded: the number of tokens
 * (usbpass_auth_set_max_tokens()), the length of a presented secret, the
 * cache of recently seen tokens. Main-loop thread only (the store is).
 */
#pragma once

#include <gio/gio.h>

#include "store/usbpass-store.h"
#include "usbpass-common.h"

G_BEGIN_DECLS

/* the default limit of bearer tokens a host keeps */
#define USBPASS_AUTH_MAX_TOKENS_DEFAULT 1000
/* the prefix of every secret usbpass makes, so that scanners can spot leaks */
#define USBPASS_AUTH_SECRET_PREFIX "usbp_"

/* the result of identifying one request */
typedef struct {
	gchar *actor;               /* "uid:1000", "token:ops", "tcp:127.0.0.1" when unknown */
	gboolean credentials_given; /* FALSE: no usable credentials at all (401) */
	gboolean authenticated;     /* TRUE: @role is valid */
	UsbpassTokenRole role;      /* what the caller may do when authenticated */
	gchar *detail;              /* why the caller is not authenticated, NULL when it is */
} UsbpassAuthCaller;

UsbpassAuthCaller *
usbpass_auth_caller_new(void) G_GNUC_WARN_UNUSED_RESULT;
void
usbpass_auth_caller_free(UsbpassAuthCaller *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassAuthCaller, usbpass_auth_caller_free)

gboolean
usbpass_auth_caller_authorize(const UsbpassAuthCaller *self,
                              UsbpassTokenRole required,
                              GError **error) USBPASS_NONNULL(1);

#define USBPASS_TYPE_AUTH (usbpass_auth_get_type())
G_DECLARE_FINAL_TYPE(UsbpassAuth, usbpass_auth, USBPASS, AUTH, GObject)

UsbpassAuth *
usbpass_auth_new(UsbpassStore *store) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

gboolean
usbpass_auth_set_admin_group(UsbpassAuth *self, const gchar *group, GError **error)
  USBPASS_NONNULL(1);
const gchar *
usbpass_auth_get_admin_group(UsbpassAuth *self) USBPASS_NONNULL(1);
void
usbpass_auth_set_max_tokens(UsbpassAuth *self, guint max_tokens) USBPASS_NONNULL(1);

UsbpassAuthCaller *
usbpass_auth_identify_peer(UsbpassAuth *self, GSocket *socket) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
UsbpassAuthCaller *
usbpass_auth_identify_bearer(UsbpassAuth *self,
                             const gchar *authorization,
                             const gchar *remote_host,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

UsbpassToken *
usbpass_auth_create_token(UsbpassAuth *self,
                          const gchar *name,
                          UsbpassTokenRole role,
                          gchar **secret,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 4);
gboolean
usbpass_auth_revoke_token(UsbpassAuth *self, const gchar *name, GError **error)
  USBPASS_NONNULL(1, 2);

gchar *
usbpass_auth_hash_secret(const gchar *secret) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_auth_generate_secret(GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* whether process @pid of user @uid, primary group @primary_gid, is in group @gid */
gboolean
usbpass_auth_peer_in_group(guint pid, guint uid, guint primary_gid, guint gid);

G_END_DECLS
