/*
 * usbpass-auth-private.h: how UsbpassAuth tells a Unix peer's groups, for its tests
 *
 * Not part of the API; pure functions of their arguments (and of the kernel's
 * answer for a socket), callable from any thread.
 */
#pragma once

#include "usbpass-auth.h"

G_BEGIN_DECLS

gboolean
usbpass_auth_status_in_group(const gchar *status, guint uid, guint gid, gboolean *in_group)
  G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 4);
gboolean
usbpass_auth_socket_in_group(gint fd, guint gid, gboolean *in_group) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(3);

G_END_DECLS
