/*
 * usbpass-policy.h: which devices may be handed to an instance
 *
 * An ordered list of allow and deny rules; the first rule that matches a device
 * decides, and a device no rule matches is allowed. Built-in deny rules come
 * first and protect the host: hubs and root hubs, HID boot keyboards and mice,
 * and any device that holds a mounted filesystem of the host. Operators add
 * rules from a policy file (GKeyFile, see data/policy.conf) matching on
 * vendor:product (either may be "*"), serial, port path and USB class (of the
 * device or any interface); each rule has a reason shown to callers.
 *
 * Immutable after loading; thread-safe.
 */
#pragma once

#include "inventory/usbpass-device.h"

G_BEGIN_DECLS

#define USBPASS_TYPE_POLICY (usbpass_policy_get_type())
G_DECLARE_FINAL_TYPE(UsbpassPolicy, usbpass_policy, USBPASS, POLICY, GObject)

typedef struct {
	gboolean allowed;
	gchar *rule;   /* name of the deciding rule, e.g. "builtin-hub" or "[deny dongles]"; "default" */
	gchar *reason; /* human text shown to the caller */
} UsbpassPolicyVerdict;

void
usbpass_policy_verdict_free(UsbpassPolicyVerdict *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassPolicyVerdict, usbpass_policy_verdict_free)

/* the built-in rules only */
UsbpassPolicy *
usbpass_policy_new(void) G_GNUC_WARN_UNUSED_RESULT;
/* the built-in rules, then the rules of @path; INVALID_DATA names the bad key */
UsbpassPolicy *
usbpass_policy_new_from_file(const gchar *path, GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* @length: bytes of @data, or (gsize)-1 when NUL-terminated */
UsbpassPolicy *
usbpass_policy_new_from_data(const gchar *data, gsize length, GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

/* where to look for mounted block devices: the default is /proc/self/mountinfo,
 * tests point it elsewhere */
void
usbpass_policy_set_mountinfo_path(UsbpassPolicy *self, const gchar *path) USBPASS_NONNULL(1, 2);
/* the directory that stands for /sys when looking for a device's block devices:
 * the default is $UMOCKDEV_DIR/sys under umockdev, else /sys; tests point it
 * at a fake tree */
void
usbpass_policy_set_sysfs_path(UsbpassPolicy *self, const gchar *path) USBPASS_NONNULL(1, 2);

/* Returns: (transfer full): the verdict, never NULL */
UsbpassPolicyVerdict *
usbpass_policy_check(UsbpassPolicy *self, const UsbpassDevice *device) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

/* Returns: (transfer container) (element-type utf8): one line per rule, in order */
GPtrArray *
usbpass_policy_describe(UsbpassPolicy *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

G_END_DECLS
