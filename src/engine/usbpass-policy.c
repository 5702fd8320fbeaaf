/*
 * usbpass-policy.c: which devices may be handed to an instance
 */
#define G_LOG_DOMAIN "UsbpassEngine"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "usbpass-error.h"
#include "usbpass-policy.h"
#include "usbpass-string.h"

/* what an operator's file may make us hold */
#define USBPASS_POLICY_FILE_MAX_BYTES (1024 * 1024)
#define USBPASS_POLICY_RULES_MAX      1024
#define USBPASS_POLICY_TEXT_MAX	      512
/* block devices followed under one USB device, holders included */
#define USBPASS_POLICY_BLOCK_MAX 4096

#define USB_CLASS_HID		   0x03
#define USB_CLASS_HUB		   0x09
#define USB_HID_SUBCLASS_BOOT	   0x01
#define USB_HID_PROTOCOL_KEYBOARD 0x01
#define USB_HID_PROTOCOL_MOUSE	   0x02

typedef enum {
	USBPASS_POLICY_RULE_ROOT_HUB,
	USBPASS_POLICY_RULE_HUB,
	USBPASS_POLICY_RULE_HID_BOOT,
	USBPASS_POLICY_RULE_MOUNTED,
	USBPASS_POLICY_RULE_OPERATOR,
} UsbpassPolicyRuleKind;

typedef struct {
	UsbpassPolicyRuleKind kind;
	gchar *name; /* "builtin-hub", "[deny dongles]" */
	gboolean allow;
	gchar *reason; /* NULL: the built-in rule words it per device */
	/* operator rules: every key given must match */
	gchar *match_id; /* as written, for describe() */
	gint vendor_id;	 /* -1: any */
	gint product_id; /* -1: any */
	gchar *match_serial;
	GPatternSpec *serial;
	gchar *match_port;
	GPatternSpec *port;
	gint usb_class; /* -1: any */
} UsbpassPolicyRule;

struct _UsbpassPolicy {
	GObject parent_instance;
	GPtrArray *rules; /* of UsbpassPolicyRule, in the order they apply */
	gchar *mountinfo_path;
	gchar *sysfs_path;
};

G_DEFINE_TYPE(UsbpassPolicy, usbpass_policy, G_TYPE_OBJECT)

static void
usbpass_policy_rule_free(UsbpassPolicyRule *rule)
{
	if (rule == NULL)
		return;
	g_free(rule->name);
	g_free(rule->reason);
	g_free(rule->match_id);
	g_free(rule->match_serial);
	g_free(rule->match_port);
	if (rule->serial != NULL)
		g_pattern_spec_free(rule->serial);
	if (rule->port != NULL)
		g_pattern_spec_free(rule->port);
	g_free(rule);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassPolicyRule, usbpass_policy_rule_free)

static UsbpassPolicyRule *
usbpass_policy_rule_new(UsbpassPolicyRuleKind kind, const gchar *name, gboolean allow)
{
	UsbpassPolicyRule *rule = g_new0(UsbpassPolicyRule, 1);
	rule->kind = kind;
	rule->name = g_strdup(name);
	rule->allow = allow;
	rule->vendor_id = -1;
	rule->product_id = -1;
	rule->usb_class = -1;
	return rule;
}

/**
 * usbpass_policy_verdict_free:
 * @self: (nullable): a verdict
 */
void
usbpass_policy_verdict_free(UsbpassPolicyVerdict *self)
{
	if (self == NULL)
		return;
	g_free(self->rule);
	g_free(self->reason);
	g_free(self);
}

static UsbpassPolicyVerdict *
usbpass_policy_verdict_new(gboolean allowed, const gchar *rule, gchar *reason)
{
	UsbpassPolicyVerdict *verdict = g_new0(UsbpassPolicyVerdict, 1);
	verdict->allowed = allowed;
	verdict->rule = g_strdup(rule);
	verdict->reason = reason;
	return verdict;
}

/* the built-in rules */

static gchar *
usbpass_policy_match_root_hub(const UsbpassDevice *device)
{
	if (!device->is_root_hub)
		return NULL;
	return g_strdup_printf("USB root hub: it is the host controller itself, passing it would "
			       "hand every device of bus %u to the guest",
			       device->bus);
}

static gchar *
usbpass_policy_match_hub(const UsbpassDevice *device)
{
	if (!device->is_hub && !usbpass_device_has_class(device, USB_CLASS_HUB))
		return NULL;
	return g_strdup("USB hub: passing a hub would hand every device behind it to the guest");
}

static const gchar *
usbpass_policy_hid_boot_kind(guint8 usb_class, guint8 subclass, guint8 protocol)
{
	if (usb_class != USB_CLASS_HID || subclass != USB_HID_SUBCLASS_BOOT)
		return NULL;
	if (protocol == USB_HID_PROTOCOL_KEYBOARD)
		return "keyboard";
	if (protocol == USB_HID_PROTOCOL_MOUSE)
		return "mouse";
	return NULL;
}

static gchar *
usbpass_policy_match_hid_boot(const UsbpassDevice *device)
{
	const gchar *kind = usbpass_policy_hid_boot_kind(device->device_class,
							 device->device_subclass,
							 device->device_protocol);
	if (kind != NULL) {
		return g_strdup_printf("HID boot %s: the host's console may need it, a guest must "
				       "not take the host's own input devices",
				       kind);
	}
	for (guint i = 0; device->interfaces != NULL && i < device->interfaces->len; i++) {
		const UsbpassInterface *iface = g_ptr_array_index(device->interfaces, i);
		kind = usbpass_policy_hid_boot_kind(iface->interface_class,
						    iface->interface_subclass,
						    iface->interface_protocol);
		if (kind != NULL) {
			return g_strdup_printf("HID boot %s (interface %u): the host's console "
					       "may need it, a guest must not take the host's own "
					       "input devices",
					       kind,
					       iface->number);
		}
	}
	return NULL;
}

/* mounted filesystems: the block devices below the USB device in sysfs, the
 * devices stacked on them (holders: dm-crypt, LVM, md), and whether any of
 * them appears in mountinfo */

static gchar *
usbpass_policy_get_sysfs_path(UsbpassPolicy *self)
{
	const gchar *umockdev_dir;

	if (self->sysfs_path != NULL)
		return g_strdup(self->sysfs_path);
	/* under umockdev the testbed is the host's sysfs; an explicit prefix
	 * works with and without its preload library */
	umockdev_dir = g_getenv("UMOCKDEV_DIR");
	if (umockdev_dir != NULL && umockdev_dir[0] != '\0')
		return g_build_filename(umockdev_dir, "sys", NULL);
	return g_strdup("/sys");
}

static gchar *
usbpass_policy_realpath(const gchar *path)
{
	g_autofree gchar *resolved = realpath(path, NULL);
	/* realpath() allocates with malloc(): hand over a GLib string */
	return resolved != NULL ? g_strdup(resolved) : NULL;
}

/* names of the block devices whose sysfs directory lies under @device_dir */
static void
usbpass_policy_collect_block(const gchar *class_block,
			     const gchar *device_dir,
			     GHashTable *names)
{
	g_autoptr(GDir) dir = g_dir_open(class_block, 0, NULL);
	g_autofree gchar *prefix = g_strconcat(device_dir, "/", NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *link = g_build_filename(class_block, name, NULL);
		g_autofree gchar *resolved = usbpass_policy_realpath(link);
		if (resolved == NULL || !g_str_has_prefix(resolved, prefix))
			continue;
		if (g_hash_table_size(names) >= USBPASS_POLICY_BLOCK_MAX)
			return;
		g_hash_table_add(names, g_strdup(name));
	}
}

/* adds what is stacked on @names, transitively */
static void
usbpass_policy_collect_holders(const gchar *class_block, GHashTable *names)
{
	g_autoptr(GPtrArray) queue = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, names);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(queue, g_strdup(key));
	for (guint i = 0; i < queue->len; i++) {
		g_autofree gchar *holders =
		    g_build_filename(class_block, g_ptr_array_index(queue, i), "holders", NULL);
		g_autoptr(GDir) dir = g_dir_open(holders, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			if (g_hash_table_size(names) >= USBPASS_POLICY_BLOCK_MAX)
				return;
			if (g_hash_table_contains(names, name))
				continue;
			g_hash_table_add(names, g_strdup(name));
			g_ptr_array_add(queue, g_strdup(name));
		}
	}
}

/* "8:17" -> "sdb1" for each block device that has a readable dev attribute */
static GHashTable *
usbpass_policy_block_numbers(const gchar *class_block, GHashTable *names)
{
	GHashTable *numbers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, names);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		g_autofree gchar *path = g_build_filename(class_block, key, "dev", NULL);
		g_autofree gchar *contents = NULL;
		gsize len = 0;
		if (!g_file_get_contents(path, &contents, &len, NULL) || len > 32)
			continue;
		g_strstrip(contents);
		g_hash_table_insert(numbers, g_strdup(contents), g_strdup(key));
	}
	return numbers;
}

/* the first mountinfo line that mounts one of @numbers or @names;
 * proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw" */
static gboolean
usbpass_policy_find_mount(const gchar *mountinfo,
			  GHashTable *numbers,
			  GHashTable *names,
			  gchar **mount_point,
			  gchar **block_name)
{
	g_auto(GStrv) lines = g_strsplit(mountinfo, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = g_strsplit(lines[i], " ", -1);
		const gchar *name = NULL;
		guint n_fields = g_strv_length(fields);
		guint sep;

		if (n_fields < 7)
			continue;
		for (sep = 6; sep < n_fields && g_strcmp0(fields[sep], "-") != 0; sep++)
			;
		name = g_hash_table_lookup(numbers, fields[2]);
		/* btrfs and friends report an anonymous device number: use the source */
		if (name == NULL && sep + 2 < n_fields &&
		    g_str_has_prefix(fields[sep + 2], "/dev/")) {
			const gchar *source = fields[sep + 2] + strlen("/dev/");
			if (g_hash_table_contains(names, source))
				name = source;
		}
		if (name != NULL) {
			g_autofree gchar *unescaped = g_strcompress(fields[4]);
			*mount_point =
			    usbpass_string_sanitize(unescaped, -1, USBPASS_STRING_MAX_BYTES);
			*block_name = usbpass_string_sanitize(name, -1, USBPASS_STRING_MAX_BYTES);
			return TRUE;
		}
	}
	return FALSE;
}

static gchar *
usbpass_policy_match_mounted(UsbpassPolicy *self, const UsbpassDevice *device)
{
	g_autofree gchar *sysfs = NULL;
	g_autofree gchar *sysfs_real = NULL;
	g_autofree gchar *class_block = NULL;
	g_autofree gchar *device_dir = NULL;
	g_autofree gchar *device_real = NULL;
	g_autofree gchar *mountinfo = NULL;
	g_autofree gchar *mount_point = NULL;
	g_autofree gchar *block_name = NULL;
	g_autoptr(GHashTable) names = NULL;
	g_autoptr(GHashTable) numbers = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *mountinfo_path =
	    self->mountinfo_path != NULL ? self->mountinfo_path : "/proc/self/mountinfo";

	if (device->syspath == NULL || !g_str_has_prefix(device->syspath, "/sys/"))
		return NULL;
	sysfs = usbpass_policy_get_sysfs_path(self);
	sysfs_real = usbpass_policy_realpath(sysfs);
	if (sysfs_real == NULL)
		return NULL;
	class_block = g_build_filename(sysfs_real, "class", "block", NULL);
	device_dir = g_build_filename(sysfs_real, device->syspath + strlen("/sys/"), NULL);
	device_real = usbpass_policy_realpath(device_dir);

	names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	usbpass_policy_collect_block(class_block,
				     device_real != NULL ? device_real : device_dir,
				     names);
	if (g_hash_table_size(names) == 0)
		return NULL;
	usbpass_policy_collect_holders(class_block, names);
	numbers = usbpass_policy_block_numbers(class_block, names);

	/* a disk we cannot prove unmounted is treated as mounted */
	if (!g_file_get_contents(mountinfo_path, &mountinfo, NULL, &error)) {
		return g_strdup_printf("USB storage device: cannot tell whether it holds a mounted "
				       "filesystem of the host: %s",
				       error->message);
	}
	if (!usbpass_policy_find_mount(mountinfo, numbers, names, &mount_point, &block_name))
		return NULL;
	return g_strdup_printf("USB storage device holding the host's mounted filesystem '%s' "
			       "(%s): passing it would pull a mounted disk from under the host",
			       mount_point != NULL ? mount_point : "",
			       block_name != NULL ? block_name : "");
}

/* operator rules */

static gboolean
usbpass_policy_rule_matches(const UsbpassPolicyRule *rule, const UsbpassDevice *device)
{
	if (rule->vendor_id >= 0 && device->vendor_id != rule->vendor_id)
		return FALSE;
	if (rule->product_id >= 0 && device->product_id != rule->product_id)
		return FALSE;
	if (rule->serial != NULL &&
	    (device->serial == NULL || !g_pattern_spec_match_string(rule->serial, device->serial)))
		return FALSE;
	if (rule->port != NULL &&
	    (device->port == NULL || !g_pattern_spec_match_string(rule->port, device->port)))
		return FALSE;
	if (rule->usb_class >= 0 && !usbpass_device_has_class(device, (guint8)rule->usb_class))
		return FALSE;
	return TRUE;
}

static gchar *
usbpass_policy_rule_match(UsbpassPolicy *self,
			  const UsbpassPolicyRule *rule,
			  const UsbpassDevice *device)
{
	switch (rule->kind) {
	case USBPASS_POLICY_RULE_ROOT_HUB:
		return usbpass_policy_match_root_hub(device);
	case USBPASS_POLICY_RULE_HUB:
		return usbpass_policy_match_hub(device);
	case USBPASS_POLICY_RULE_HID_BOOT:
		return usbpass_policy_match_hid_boot(device);
	case USBPASS_POLICY_RULE_MOUNTED:
		return usbpass_policy_match_mounted(self, device);
	case USBPASS_POLICY_RULE_OPERATOR:
	default:
		break;
	}
	if (!usbpass_policy_rule_matches(rule, device))
		return NULL;
	if (rule->reason != NULL)
		return g_strdup(rule->reason);
	return g_strdup_printf("%s by rule '%s' of the policy file",
			       rule->allow ? "allowed" : "denied",
			       rule->name);
}

/* loading */

static gboolean
usbpass_policy_set_key_error(const gchar *group,
			     const gchar *key,
			     const gchar *value,
			     const gchar *expected,
			     GError **error)
{
	g_autofree gchar *shown = usbpass_string_sanitize(value, -1, 64);
	/* GKeyFile takes control characters and invalid UTF-8 in a key name */
	g_autofree gchar *shown_key = usbpass_string_sanitize(key, -1, 64);
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_INVALID_DATA,
		    "policy rule '[%s]' key '%s': '%s' is not %s",
		    group,
		    shown_key != NULL ? shown_key : "",
		    shown != NULL ? shown : "",
		    expected);
	return FALSE;
}

/* "0781", or "*" for any: exactly four hex digits, nothing else */
static gboolean
usbpass_policy_parse_id_part(const gchar *part, gint *value)
{
	if (g_strcmp0(part, "*") == 0) {
		*value = -1;
		return TRUE;
	}
	if (strlen(part) != 4)
		return FALSE;
	for (guint i = 0; i < 4; i++) {
		if (!g_ascii_isxdigit(part[i]))
			return FALSE;
	}
	*value = (gint)g_ascii_strtoull(part, NULL, 16);
	return TRUE;
}

static gboolean
usbpass_policy_parse_match_id(UsbpassPolicyRule *rule,
			      const gchar *group,
			      const gchar *value,
			      GError **error)
{
	g_auto(GStrv) parts = g_strsplit(value, ":", -1);
	const gchar *expected = "VVVV:PPPP, four hex digits or '*' on each side";

	if (g_strv_length(parts) != 2 ||
	    !usbpass_policy_parse_id_part(parts[0], &rule->vendor_id) ||
	    !usbpass_policy_parse_id_part(parts[1], &rule->product_id))
		return usbpass_policy_set_key_error(group, "match-id", value, expected, error);
	/* GKeyFile lists a key given twice in a group twice; its value is the last */
	g_free(rule->match_id);
	rule->match_id = g_ascii_strdown(value, -1);
	return TRUE;
}

static gboolean
usbpass_policy_parse_match_class(UsbpassPolicyRule *rule,
				 const gchar *group,
				 const gchar *value,
				 GError **error)
{
	const gchar *expected = "a USB class from 0 to 255, decimal or 0xNN";
	guint64 tmp = 0;
	gboolean ok;

	if (g_str_has_prefix(value, "0x") || g_str_has_prefix(value, "0X"))
		ok = value[2] != '\0' && strlen(value) <= 4 &&
		     usbpass_string_parse_uint(value + 2, 16, 0, 255, &tmp, NULL);
	else
		ok = g_ascii_isdigit(value[0]) &&
		     usbpass_string_parse_uint(value, 10, 0, 255, &tmp, NULL);
	if (!ok)
		return usbpass_policy_set_key_error(group, "match-class", value, expected, error);
	rule->usb_class = (gint)tmp;
	return TRUE;
}

/* TRUE when @text can go into a message or a line as it is: valid UTF-8
 * without control characters, spaces kept (they tell "[allow ]" from "[allow]") */
static gboolean
usbpass_policy_is_printable(const gchar *text, gsize max_bytes)
{
	if (strlen(text) > max_bytes || !g_utf8_validate(text, -1, NULL))
		return FALSE;
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029)
			return FALSE;
	}
	return TRUE;
}

static gboolean
usbpass_policy_parse_pattern(const gchar *group,
			     const gchar *key,
			     const gchar *value,
			     gchar **text,
			     GPatternSpec **pattern,
			     GError **error)
{
	/* serials and ports are sanitised: a control character could never match,
	 * and would break the rule's line in `usbpass policy show` */
	if (value[0] == '\0' || !usbpass_policy_is_printable(value, USBPASS_POLICY_TEXT_MAX))
		return usbpass_policy_set_key_error(
		    group,
		    key,
		    value,
		    "a string or glob pattern of 1 to 512 bytes of printable UTF-8",
		    error);
	g_free(*text);
	*text = g_strdup(value);
	g_clear_pointer(pattern, g_pattern_spec_free);
	*pattern = g_pattern_spec_new(value);
	return TRUE;
}

static UsbpassPolicyRule *
usbpass_policy_parse_rule(GKeyFile *keyfile, const gchar *group, GError **error)
{
	g_autoptr(UsbpassPolicyRule) rule = NULL;
	g_auto(GStrv) keys = NULL;
	g_autofree gchar *name = NULL;
	/* GKeyFile refuses ASCII control characters in a group name, but not C1
	 * controls or invalid UTF-8 */
	g_autofree gchar *shown_group = usbpass_policy_is_printable(group, 128)
					    ? g_strdup(group)
					    : usbpass_string_sanitize(group, -1, 128);
	gboolean allow;

	if (g_str_has_prefix(group, "allow ")) {
		allow = TRUE;
		name = g_strdup(group + strlen("allow "));
	} else if (g_str_has_prefix(group, "deny ")) {
		allow = FALSE;
		name = g_strdup(group + strlen("deny "));
	} else {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "policy group '[%s]' is neither '[allow NAME]' nor '[deny NAME]'",
			    shown_group != NULL ? shown_group : "");
		return NULL;
	}
	if (!usbpass_string_is_identifier(name, 64)) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "policy group '[%s]': the rule name must be 1 to 64 characters from "
			    "A-Z, a-z, 0-9, '.', '_', '-'",
			    shown_group != NULL ? shown_group : "");
		return NULL;
	}
	rule = usbpass_policy_rule_new(USBPASS_POLICY_RULE_OPERATOR, NULL, allow);
	rule->name = g_strdup_printf("[%s]", group);

	keys = g_key_file_get_keys(keyfile, group, NULL, error);
	if (keys == NULL)
		return NULL;
	for (guint i = 0; keys[i] != NULL; i++) {
		const gchar *key = keys[i];
		g_autoptr(GError) error_value = NULL;
		g_autofree gchar *value = g_key_file_get_string(keyfile, group, key, &error_value);

		/* an invalid escape sets the error yet returns the raw text */
		if (value == NULL || error_value != NULL) {
			g_autofree gchar *raw = g_key_file_get_value(keyfile, group, key, NULL);
			usbpass_policy_set_key_error(group,
						     key,
						     raw,
						     "UTF-8 text with valid escapes (\\s \\n \\t \\r \\\\)",
						     error);
			return NULL;
		}
		if (g_strcmp0(key, "match-id") == 0) {
			if (!usbpass_policy_parse_match_id(rule, group, value, error))
				return NULL;
		} else if (g_strcmp0(key, "match-serial") == 0) {
			if (!usbpass_policy_parse_pattern(group,
							  key,
							  value,
							  &rule->match_serial,
							  &rule->serial,
							  error))
				return NULL;
		} else if (g_strcmp0(key, "match-port") == 0) {
			if (!usbpass_policy_parse_pattern(group,
							  key,
							  value,
							  &rule->match_port,
							  &rule->port,
							  error))
				return NULL;
		} else if (g_strcmp0(key, "match-class") == 0) {
			if (!usbpass_policy_parse_match_class(rule, group, value, error))
				return NULL;
		} else if (g_strcmp0(key, "reason") == 0) {
			g_free(rule->reason);
			rule->reason = usbpass_string_sanitize(value, -1, USBPASS_POLICY_TEXT_MAX);
		} else {
			g_autofree gchar *shown_key = usbpass_string_sanitize(key, -1, 64);
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "policy rule '[%s]' has an unknown key '%s': expected match-id, "
				    "match-serial, match-port, match-class or reason",
				    group,
				    shown_key != NULL ? shown_key : "");
			return NULL;
		}
	}
	return g_steal_pointer(&rule);
}

static void
usbpass_policy_add_builtin_rules(UsbpassPolicy *self)
{
	const struct {
		UsbpassPolicyRuleKind kind;
		const gchar *name;
	} builtins[] = {
	    {USBPASS_POLICY_RULE_ROOT_HUB, "builtin-root-hub"},
	    {USBPASS_POLICY_RULE_HUB, "builtin-hub"},
	    {USBPASS_POLICY_RULE_HID_BOOT, "builtin-hid-boot"},
	    {USBPASS_POLICY_RULE_MOUNTED, "builtin-mounted-filesystem"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(builtins); i++) {
		g_ptr_array_add(self->rules,
				usbpass_policy_rule_new(builtins[i].kind, builtins[i].name, FALSE));
	}
}

static gboolean
usbpass_policy_load_data(UsbpassPolicy *self, const gchar *data, gsize length, GError **error)
{
	g_autoptr(GKeyFile) keyfile = g_key_file_new();
	g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) error_local = NULL;
	g_auto(GStrv) groups = NULL;

	if (length > USBPASS_POLICY_FILE_MAX_BYTES) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "policy is %" G_GSIZE_FORMAT " bytes, more than the %u allowed",
			    length,
			    (guint)USBPASS_POLICY_FILE_MAX_BYTES);
		return FALSE;
	}
	/* keep "key[locale]" lines, so that they are refused as unknown keys rather
	 * than silently dropped for another locale */
	if (!g_key_file_load_from_data(keyfile,
				       data,
				       length,
				       G_KEY_FILE_KEEP_TRANSLATIONS,
				       &error_local)) {
		/* GKeyFile quotes the offending line as it is */
		g_autofree gchar *shown = usbpass_string_sanitize(error_local->message, -1, 256);
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "policy is not a valid key file: %s",
			    shown != NULL ? shown : "");
		return FALSE;
	}
	groups = g_key_file_get_groups(keyfile, NULL);
	if (g_strv_length(groups) > USBPASS_POLICY_RULES_MAX) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "policy has %u rules, more than the %u allowed",
			    g_strv_length(groups),
			    (guint)USBPASS_POLICY_RULES_MAX);
		return FALSE;
	}
	for (guint i = 0; groups[i] != NULL; i++) {
		UsbpassPolicyRule *rule = usbpass_policy_parse_rule(keyfile, groups[i], error);
		const gchar *name;
		if (rule == NULL)
			return FALSE;
		name = strchr(groups[i], ' ') + 1;
		if (g_hash_table_contains(names, name)) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "policy rule '%s': another rule is named '%s' already",
				    rule->name,
				    name);
			usbpass_policy_rule_free(rule);
			return FALSE;
		}
		g_hash_table_add(names, (gpointer)name);
		g_ptr_array_add(self->rules, rule);
	}
	return TRUE;
}

/**
 * usbpass_policy_new:
 *
 * Returns: (transfer full): a policy of the built-in rules only
 */
UsbpassPolicy *
usbpass_policy_new(void)
{
	UsbpassPolicy *self = g_object_new(USBPASS_TYPE_POLICY, NULL);
	usbpass_policy_add_builtin_rules(self);
	return self;
}

/**
 * usbpass_policy_new_from_data:
 * @data: the text of a policy file (see data/policy.conf)
 * @length: its length in bytes, or -1 (as gsize) when NUL-terminated
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA naming the group and key
 *
 * Returns: (transfer full): the built-in rules followed by those of @data, or %NULL
 */
UsbpassPolicy *
usbpass_policy_new_from_data(const gchar *data, gsize length, GError **error)
{
	g_autoptr(UsbpassPolicy) self = NULL;

	g_return_val_if_fail(data != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (length == (gsize)-1)
		length = strlen(data);
	self = usbpass_policy_new();
	if (!usbpass_policy_load_data(self, data, length, error))
		return NULL;
	return g_steal_pointer(&self);
}

/**
 * usbpass_policy_new_from_file:
 * @path: a policy file
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when @path does not exist,
 *   #USBPASS_ERROR_PERMISSION_DENIED when it cannot be read,
 *   #USBPASS_ERROR_INVALID_DATA naming the group and key
 *
 * Returns: (transfer full): the built-in rules followed by those of @path, or %NULL
 */
UsbpassPolicy *
usbpass_policy_new_from_file(const gchar *path, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *data = NULL;
	gsize length = 0;
	GStatBuf st;
	UsbpassPolicy *self;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	/* refuse a huge file before reading it */
	if (g_stat(path, &st) == 0 && st.st_size > USBPASS_POLICY_FILE_MAX_BYTES) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "policy file '%s' is %" G_GINT64_FORMAT " bytes, more than the %u allowed",
			    path,
			    (gint64)st.st_size,
			    (guint)USBPASS_POLICY_FILE_MAX_BYTES);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, &length, &error_local)) {
		UsbpassError code = USBPASS_ERROR_INVALID_DATA;
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			code = USBPASS_ERROR_NOT_FOUND;
		else if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_ACCES))
			code = USBPASS_ERROR_PERMISSION_DENIED;
		if (code == USBPASS_ERROR_NOT_FOUND)
			g_set_error(error,
				    USBPASS_ERROR,
				    code,
				    "policy file '%s' does not exist",
				    path);
		else
			g_set_error(error,
				    USBPASS_ERROR,
				    code,
				    "policy file '%s' cannot be read: %s",
				    path,
				    error_local->message);
		return NULL;
	}
	self = usbpass_policy_new_from_data(data, length, error);
	if (self == NULL)
		g_prefix_error(error, "policy file '%s': ", path);
	return self;
}

/**
 * usbpass_policy_set_mountinfo_path:
 * @self: a #UsbpassPolicy
 * @path: a file in the format of /proc/self/mountinfo
 *
 * For tests: where the mounted-filesystem rule reads the host's mounts. Call
 * before sharing the policy between threads.
 */
void
usbpass_policy_set_mountinfo_path(UsbpassPolicy *self, const gchar *path)
{
	g_return_if_fail(USBPASS_IS_POLICY(self));
	g_return_if_fail(path != NULL);
	g_free(self->mountinfo_path);
	self->mountinfo_path = g_strdup(path);
}

/**
 * usbpass_policy_set_sysfs_path:
 * @self: a #UsbpassPolicy
 * @path: a directory that stands for /sys
 *
 * For tests: where the mounted-filesystem rule finds the block devices of a
 * USB device. The default is $UMOCKDEV_DIR/sys under umockdev, else /sys.
 * Call before sharing the policy between threads.
 */
void
usbpass_policy_set_sysfs_path(UsbpassPolicy *self, const gchar *path)
{
	g_return_if_fail(USBPASS_IS_POLICY(self));
	g_return_if_fail(path != NULL);
	g_free(self->sysfs_path);
	self->sysfs_path = g_strdup(path);
}

/**
 * usbpass_policy_check:
 * @self: a #UsbpassPolicy
 * @device: the device an instance would get
 *
 * Applies the rules in order; the first that matches decides. A device no
 * rule matches is allowed by the rule "default".
 *
 * Returns: (transfer full): the verdict, never %NULL
 */
UsbpassPolicyVerdict *
usbpass_policy_check(UsbpassPolicy *self, const UsbpassDevice *device)
{
	g_return_val_if_fail(USBPASS_IS_POLICY(self), NULL);
	g_return_val_if_fail(device != NULL, NULL);

	for (guint i = 0; i < self->rules->len; i++) {
		const UsbpassPolicyRule *rule = g_ptr_array_index(self->rules, i);
		gchar *reason = usbpass_policy_rule_match(self, rule, device);
		if (reason != NULL)
			return usbpass_policy_verdict_new(rule->allow, rule->name, reason);
	}
	return usbpass_policy_verdict_new(TRUE,
					  "default",
					  g_strdup("no rule of the policy matches this device"));
}

static gchar *
usbpass_policy_rule_describe(const UsbpassPolicyRule *rule)
{
	g_autoptr(GString) matches = g_string_new(NULL);
	const gchar *what = NULL;
	const gchar *reason = rule->reason;

	switch (rule->kind) {
	case USBPASS_POLICY_RULE_ROOT_HUB:
		what = "root hubs";
		reason = "USB root hub: it is the host controller itself, passing it would hand "
			 "every device of its bus to the guest";
		break;
	case USBPASS_POLICY_RULE_HUB:
		what = "hubs (device or interface class 9)";
		reason = "USB hub: passing a hub would hand every device behind it to the guest";
		break;
	case USBPASS_POLICY_RULE_HID_BOOT:
		what = "HID boot keyboards and mice (class 3, subclass 1, protocol 1 or 2)";
		reason = "the host's console may need them, a guest must not take the host's own "
			 "input devices";
		break;
	case USBPASS_POLICY_RULE_MOUNTED:
		what = "devices holding a mounted filesystem of the host";
		reason = "passing one would pull a mounted disk from under the host";
		break;
	case USBPASS_POLICY_RULE_OPERATOR:
	default:
		if (rule->match_id != NULL)
			g_string_append_printf(matches, " match-id=%s", rule->match_id);
		if (rule->match_serial != NULL)
			g_string_append_printf(matches, " match-serial=%s", rule->match_serial);
		if (rule->match_port != NULL)
			g_string_append_printf(matches, " match-port=%s", rule->match_port);
		if (rule->usb_class >= 0)
			g_string_append_printf(matches,
					       " match-class=0x%02x",
					       (guint)rule->usb_class);
		what = matches->len > 0 ? matches->str + 1 : "every device";
		break;
	}
	return g_strdup_printf("%s %s (%s): %s",
			       rule->allow ? "allow" : "deny",
			       rule->name,
			       what,
			       reason != NULL ? reason : (rule->allow ? "allowed" : "denied"));
}

/**
 * usbpass_policy_describe:
 * @self: a #UsbpassPolicy
 *
 * One line per rule in the order they apply, e.g.
 * "deny [deny dongles] (match-id=0bda:*): no radio dongles", ending with the
 * default rule.
 *
 * Returns: (transfer container) (element-type utf8): the lines
 */
GPtrArray *
usbpass_policy_describe(UsbpassPolicy *self)
{
	GPtrArray *lines;

	g_return_val_if_fail(USBPASS_IS_POLICY(self), NULL);

	lines = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < self->rules->len; i++) {
		const UsbpassPolicyRule *rule = g_ptr_array_index(self->rules, i);
		g_ptr_array_add(lines, usbpass_policy_rule_describe(rule));
	}
	g_ptr_array_add(lines,
			g_strdup("allow default (every other device): no rule of the policy matches "
				 "this device"));
	return lines;
}

static void
usbpass_policy_finalize(GObject *object)
{
	UsbpassPolicy *self = USBPASS_POLICY(object);

	g_ptr_array_unref(self->rules);
	g_free(self->mountinfo_path);
	g_free(self->sysfs_path);
	G_OBJECT_CLASS(usbpass_policy_parent_class)->finalize(object);
}

static void
usbpass_policy_class_init(UsbpassPolicyClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = usbpass_policy_finalize;
}

static void
usbpass_policy_init(UsbpassPolicy *self)
{
	self->rules = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_policy_rule_free);
}
