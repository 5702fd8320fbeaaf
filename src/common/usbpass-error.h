/*
 * usbpass-error.h: the one error domain of usbpass
 *
 * Every failure a caller can act on is a GError in USBPASS_ERROR with one of the
 * few codes below. Foreign errors (libvirt, SQLite, libpq, libsoup) are translated
 * at the module boundary that meets them, keeping the original text in the
 * message. The codes and their string names are stable: the REST API and the CLI
 * expose them.
 */
#pragma once

#include "usbpass-common.h"

G_BEGIN_DECLS

#define USBPASS_ERROR (usbpass_error_quark())

typedef enum {
	USBPASS_ERROR_INTERNAL,		 /* a bug or an unexpected condition */
	USBPASS_ERROR_NOT_FOUND,	 /* no such device, instance, token or record */
	USBPASS_ERROR_INVALID_DATA,	 /* malformed input from a caller, a device or a file */
	USBPASS_ERROR_BUSY,		 /* another request holds the device right now */
	USBPASS_ERROR_IN_USE,		 /* the device is assigned to (another) instance */
	USBPASS_ERROR_DENIED_BY_POLICY,	 /* a policy rule forbids this device */
	USBPASS_ERROR_PERMISSION_DENIED, /* the caller is not authorised */
	USBPASS_ERROR_DISABLED,		 /* passthrough is switched off on this host */
	USBPASS_ERROR_NOT_SUPPORTED,	 /* the driver or store cannot do this */
	USBPASS_ERROR_DRIVER,		 /* the hypervisor refused or failed */
	USBPASS_ERROR_STORE,		 /* the database failed */
	USBPASS_ERROR_TIMED_OUT,	 /* an operation did not finish in time */
	USBPASS_ERROR_UNREACHABLE,	 /* a client cannot reach usbpassd, or the connection broke */
	USBPASS_ERROR_LAST
} UsbpassError;

GQuark
usbpass_error_quark(void);

const gchar *
usbpass_error_to_string(UsbpassError code);
UsbpassError
usbpass_error_from_string(const gchar *str) USBPASS_NONNULL(1);

/* the one table mapping codes to HTTP statuses and CLI exit codes */
guint
usbpass_error_to_http_status(UsbpassError code);
gint
usbpass_error_to_exit_code(UsbpassError code);

G_END_DECLS
