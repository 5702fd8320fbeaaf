/*
 * usbpass-identity.c: the stable identity of a USB device
 */
#define G_LOG_DOMAIN "UsbpassInventory"

#include "config.h"

#include "usbpass-error.h"
#include "usbpass-identity.h"
#include "usbpass-string.h"

#include <string.h>

/* 128 bits of SHA-256: collisions need ~2^64 distinct serials on one vendor:product */
#define ENCODED_HEX_DIGITS 32

/* the hostname limit of RFC 1035 */
#define HOST_MAX 253

static gboolean
usbpass_identity_looks_encoded(const gchar *serial)
{
	if (serial[0] != 'x' || strlen(serial) != 1 + ENCODED_HEX_DIGITS)
		return FALSE;
	for (guint i = 1; i <= ENCODED_HEX_DIGITS; i++) {
		if (!g_ascii_isxdigit(serial[i]) || g_ascii_isupper(serial[i]))
			return FALSE;
	}
	return TRUE;
}

/**
 * usbpass_identity_encode_serial:
 * @serial: a (sanitised) serial number string
 *
 * Keeps a serial of 1 to 64 characters from [A-Za-z0-9._-] as it is; any other
 * serial, and one that is itself "x" and 32 lower-case hex digits, becomes "x"
 * and the first 32 hex digits of the SHA-256 of its bytes. The mapping is thus
 * one-to-one up to a hash collision.
 *
 * Returns: (transfer full): the serial part of an identity
 */
gchar *
usbpass_identity_encode_serial(const gchar *serial)
{
	g_autofree gchar *digest = NULL;

	g_return_val_if_fail(serial != NULL, NULL);

	if (usbpass_string_is_identifier(serial, USBPASS_IDENTITY_SERIAL_MAX) &&
	    !usbpass_identity_looks_encoded(serial))
		return g_strdup(serial);
	digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, serial, -1);
	return g_strdup_printf("x%.*s", ENCODED_HEX_DIGITS, digest);
}

/**
 * usbpass_identity_for_serial:
 * @vendor_id: idVendor
 * @product_id: idProduct
 * @serial: the serial number string
 *
 * Returns: (transfer full): e.g. "0781:5567:s:4C530001231122117043"
 */
gchar *
usbpass_identity_for_serial(guint16 vendor_id, guint16 product_id, const gchar *serial)
{
	g_autofree gchar *encoded = NULL;
	g_return_val_if_fail(serial != NULL, NULL);
	encoded = usbpass_identity_encode_serial(serial);
	return g_strdup_printf("%04x:%04x:s:%s", vendor_id, product_id, encoded);
}

/**
 * usbpass_identity_for_port:
 * @vendor_id: idVendor
 * @product_id: idProduct
 * @port: the kernel's name of the device, "1-1.4" or "usb1"
 *
 * Returns: (transfer full): e.g. "0781:5567:p:1-1.4"; a port that is not an
 * identifier (never from the kernel) is encoded like a serial
 */
gchar *
usbpass_identity_for_port(guint16 vendor_id, guint16 product_id, const gchar *port)
{
	g_autofree gchar *encoded = NULL;
	g_return_val_if_fail(port != NULL, NULL);
	encoded = usbpass_identity_encode_serial(port);
	return g_strdup_printf("%04x:%04x:p:%s", vendor_id, product_id, encoded);
}

/**
 * usbpass_identity_is_valid:
 * @id: (nullable): a string
 *
 * Returns: %TRUE when @id has the form of an identity (without host)
 */
gboolean
usbpass_identity_is_valid(const gchar *id)
{
	if (id == NULL || strlen(id) < 13)
		return FALSE;
	for (guint i = 0; i < 9; i++) {
		if (i == 4) {
			if (id[i] != ':')
				return FALSE;
		} else if (!g_ascii_isxdigit(id[i]) || g_ascii_isupper(id[i])) {
			return FALSE;
		}
	}
	if (id[9] != ':' || (id[10] != 's' && id[10] != 'p') || id[11] != ':')
		return FALSE;
	return usbpass_string_is_identifier(id + 12, USBPASS_IDENTITY_SERIAL_MAX);
}

static gchar *
usbpass_identity_serial_key(const UsbpassDevice *device)
{
	return g_strdup_printf(
	  "%04x:%04x:%s", device->vendor_id, device->product_id, device->serial);
}

/**
 * usbpass_identity_count_serials:
 * @devices: (element-type UsbpassDevice): the present devices (or all those
 *   with the vendor:product pairs of interest)
 *
 * Returns: (transfer full): a table "vvvv:pppp:SERIAL" -> number of devices
 * (GUINT_TO_POINTER) for usbpass_identity_compute()
 */
GHashTable *
usbpass_identity_count_serials(GPtrArray *devices)
{
	GHashTable *counts;

	g_return_val_if_fail(devices != NULL, NULL);

	counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < devices->len; i++) {
		const UsbpassDevice *device = g_ptr_array_index(devices, i);
		gchar *key;
		guint count;
		if (device->serial == NULL || device->is_root_hub)
			continue;
		key = usbpass_identity_serial_key(device);
		count = GPOINTER_TO_UINT(g_hash_table_lookup(counts, key));
		g_hash_table_replace(counts, key, GUINT_TO_POINTER(count + 1));
	}
	return counts;
}

/**
 * usbpass_identity_compute:
 * @device: a record whose vendor_id, product_id, serial and port are set
 * @serial_counts: from usbpass_identity_count_serials() over the present devices
 * @id: (out) (transfer full): the identity
 * @id_kind: (out) (transfer full): "serial" or "port"
 * @id_conflict: (out) (transfer full) (nullable): why the serial was not used,
 *   or %NULL
 *
 * Applies the scheme of docs/identity.md to one device.
 */
void
usbpass_identity_compute(const UsbpassDevice *device,
                         GHashTable *serial_counts,
                         gchar **id,
                         gchar **id_kind,
                         gchar **id_conflict)
{
	guint count = 0;
	const gchar *port;

	g_return_if_fail(device != NULL);
	g_return_if_fail(serial_counts != NULL);

	/* a root hub's "serial" is its controller's PCI address: the port names it better */
	if (device->serial != NULL && !device->is_root_hub) {
		g_autofree gchar *key = usbpass_identity_serial_key(device);
		count = GPOINTER_TO_UINT(g_hash_table_lookup(serial_counts, key));
	}
	if (device->serial != NULL && !device->is_root_hub && count <= 1) {
		*id = usbpass_identity_for_serial(
		  device->vendor_id, device->product_id, device->serial);
		*id_kind = g_strdup(USBPASS_IDENTITY_KIND_SERIAL);
		*id_conflict = NULL;
		return;
	}

	port = device->port != NULL ? device->port : "unknown";
	*id = usbpass_identity_for_port(device->vendor_id, device->product_id, port);
	*id_kind = g_strdup(USBPASS_IDENTITY_KIND_PORT);
	if (device->serial != NULL && !device->is_root_hub) {
		*id_conflict =
		  g_strdup_printf("serial '%s' is shared by %u devices %04x:%04x on this "
		                  "host; they are told apart by port",
		                  device->serial,
		                  count,
		                  device->vendor_id,
		                  device->product_id);
	} else {
		*id_conflict = NULL;
	}
}

/**
 * usbpass_identity_assign:
 * @devices: (element-type UsbpassDevice): every present device of the host,
 *   none of them shared yet
 *
 * Sets id, id_kind and id_conflict of each record from the whole set.
 */
void
usbpass_identity_assign(GPtrArray *devices)
{
	g_autoptr(GHashTable) counts = NULL;

	g_return_if_fail(devices != NULL);

	counts = usbpass_identity_count_serials(devices);
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		g_free(device->id);
		g_free(device->id_kind);
		g_free(device->id_conflict);
		usbpass_identity_compute(
		  device, counts, &device->id, &device->id_kind, &device->id_conflict);
		usbpass_device_invalidate(device);
	}
}

static gboolean
usbpass_identity_host_is_valid(const gchar *host)
{
	return usbpass_string_is_identifier(host, HOST_MAX);
}

/**
 * usbpass_identity_qualify:
 * @host: a host name, 1 to 253 characters of [A-Za-z0-9._-]
 * @id: an identity
 *
 * Returns: (transfer full): "HOST/ID", for identities across a cluster
 */
gchar *
usbpass_identity_qualify(const gchar *host, const gchar *id)
{
	g_return_val_if_fail(host != NULL, NULL);
	g_return_val_if_fail(id != NULL, NULL);
	g_return_val_if_fail(usbpass_identity_host_is_valid(host), NULL);
	return g_strdup_printf("%s/%s", host, id);
}

/**
 * usbpass_identity_split:
 * @qualified: "HOST/ID" or a bare "ID"
 * @host: (out) (optional) (transfer full) (nullable): the host, %NULL for a bare identity
 * @id: (out) (optional) (transfer full): the identity
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA when either part is malformed
 *
 * Returns: %TRUE on success; the outputs are untouched on failure
 */
gboolean
usbpass_identity_split(const gchar *qualified, gchar **host, gchar **id, GError **error)
{
	const gchar *slash;
	g_autofree gchar *host_part = NULL;
	const gchar *id_part = qualified;

	g_return_val_if_fail(qualified != NULL, FALSE);

	slash = strchr(qualified, '/');
	if (slash != NULL) {
		host_part = g_strndup(qualified, (gsize)(slash - qualified));
		id_part = slash + 1;
		if (!usbpass_identity_host_is_valid(host_part)) {
			g_autofree gchar *shown = usbpass_string_sanitize(host_part, -1, 64);
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "host '%s' is not a host name",
			            shown != NULL ? shown : "");
			return FALSE;
		}
	}
	if (!usbpass_identity_is_valid(id_part)) {
		g_autofree gchar *shown = usbpass_string_sanitize(id_part, -1, 96);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "'%s' is not a USB device identity",
		            shown != NULL ? shown : "");
		return FALSE;
	}
	if (host != NULL)
		*host = g_steal_pointer(&host_part);
	if (id != NULL)
		*id = g_strdup(id_part);
	return TRUE;
}
