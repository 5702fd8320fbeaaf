/*
 * usbpass-device.h: one USB device of a host, as a plain value record
 *
 * A UsbpassDevice is a snapshot: the inventory builds a new one whenever it reads
 * sysfs and never changes a record it has handed out, so a caller may keep and
 * share one (it is reference counted) from any thread. Every string in it has
 * been through usbpass_string_sanitize(): valid UTF-8, no control characters,
 * bounded length; it is still untrusted text and must be escaped by whatever
 * format carries it (JSON, XML, HTML).
 *
 * Identity ("id") versus address ("bus:device"): the address changes on every
 * re-plug, the identity does not; see docs/identity.md for the scheme.
 */
#pragma once

#include "usbpass-common.h"
#include <glib-object.h>

G_BEGIN_DECLS

/* one interface of the active configuration */
typedef struct {
	guint8 number;
	guint8 interface_class;
	guint8 interface_subclass;
	guint8 interface_protocol;
	gchar *driver; /* bound kernel driver, NULL when none */
} UsbpassInterface;

typedef struct {
	/* stable identity, e.g. "0781:5567:s:4C530001230123456789", see docs/identity.md */
	gchar *id;
	/* how the identity was made: "serial" or "port" */
	gchar *id_kind;
	/* set when the identity could not be made unique on this host: says why */
	gchar *id_conflict;

	gchar *syspath;     /* /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1 */
	gchar *port;        /* kernel name: "1-1.4", or "usb1" for a root hub */
	gchar *parent_port; /* port of the parent hub, NULL for a root hub */
	guint bus;          /* busnum, 1..255 */
	guint device;       /* devnum, 1..127; changes on re-plug */

	guint16 vendor_id;
	guint16 product_id;
	guint16 bcd_device;
	gchar *manufacturer; /* descriptor string, NULL when absent */
	gchar *product;      /* descriptor string, NULL when absent */
	gchar *serial;       /* descriptor string, NULL when absent */
	gchar *vendor_name;  /* as lsusb shows it: descriptor, else hwdb, else fallback */
	gchar *product_name; /* as lsusb shows it: descriptor, else hwdb, else fallback */
	gchar *name;         /* "vendor_name product_name", for people */

	guint8 device_class;
	guint8 device_subclass;
	guint8 device_protocol;
	GPtrArray *interfaces; /* of UsbpassInterface, ordered by number */

	guint speed_mbps; /* 1 (1.5 Mb/s is stored as 1), 12, 480, 5000, ...; 0 unknown */
	gchar *speed;     /* the kernel's text, e.g. "1.5", "480" */
	gboolean is_hub;
	gboolean is_root_hub;
	guint num_ports; /* downstream ports of a hub (sysfs maxchild), 0 otherwise */

	gchar *controller_pci_address; /* "0000:00:14.0", NULL when not on PCI */
	gchar *controller_name;        /* "Intel Corporation ... xHCI Host Controller" */

	/* set when sysfs was half-broken: what could not be read; the rest is best effort */
	gchar *error;

	/*< private >*/
	gint refcount;
	gpointer json_cache; /* sealed JsonNode of usbpass_device_to_json_node(), built once */
} UsbpassDevice;

GType
usbpass_device_get_type(void);
#define USBPASS_TYPE_DEVICE (usbpass_device_get_type())

UsbpassDevice *
usbpass_device_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassDevice *
usbpass_device_ref(UsbpassDevice *self) USBPASS_NONNULL(1);
void
usbpass_device_unref(UsbpassDevice *self);
UsbpassDevice *
usbpass_device_copy(const UsbpassDevice *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* drops derived caches (the JSON form); call after changing a record not yet shared */
void
usbpass_device_invalidate(UsbpassDevice *self) USBPASS_NONNULL(1);

UsbpassInterface *
usbpass_interface_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassInterface *
usbpass_interface_copy(const UsbpassInterface *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_interface_free(UsbpassInterface *self);

/* TRUE when every field of @a and @b is the same (the refcount aside) */
gboolean
usbpass_device_equal(const UsbpassDevice *a, const UsbpassDevice *b) USBPASS_NONNULL(1, 2);
/* the inventory's order: bus, then port path compared number by number
 * ("1-1.2" < "1-1.10"), a root hub before the devices of its bus */
gint
usbpass_device_compare(const UsbpassDevice *a, const UsbpassDevice *b) USBPASS_NONNULL(1, 2);
gint
usbpass_port_compare(const gchar *a, const gchar *b);

/* "0781:5567" */
gchar *
usbpass_device_get_vid_pid(const UsbpassDevice *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* "Mass Storage" etc. as lsusb names the class of the device, or of its
 * first interface when the device class is 0 (defined per interface) */
const gchar *
usbpass_device_get_class_name(const UsbpassDevice *self) USBPASS_NONNULL(1);
/* TRUE when the device or one of its interfaces has @usb_class */
gboolean
usbpass_device_has_class(const UsbpassDevice *self, guint8 usb_class) USBPASS_NONNULL(1);
const gchar *
usbpass_usb_class_to_string(guint8 usb_class);
/* the kernel's speed text ("1.5", "480", "5000") in Mb/s (1.5 gives 1), 0 when unknown */
guint
usbpass_usb_speed_to_mbps(const gchar *speed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassDevice, usbpass_device_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassInterface, usbpass_interface_free)

G_END_DECLS
