/*
 * usbpass-error.c: the one error domain of usbpass
 */
#define G_LOG_DOMAIN "UsbpassCommon"

#include "config.h"

#include "usbpass-error.h"

G_DEFINE_QUARK(usbpass-error-quark, usbpass_error)

/* the names are part of the REST API: never rename one */
static const gchar *const error_names[USBPASS_ERROR_LAST] = {
    [USBPASS_ERROR_INTERNAL] = "internal",
    [USBPASS_ERROR_NOT_FOUND] = "not-found",
    [USBPASS_ERROR_INVALID_DATA] = "invalid-data",
    [USBPASS_ERROR_BUSY] = "busy",
    [USBPASS_ERROR_IN_USE] = "in-use",
    [USBPASS_ERROR_DENIED_BY_POLICY] = "denied-by-policy",
    [USBPASS_ERROR_PERMISSION_DENIED] = "permission-denied",
    [USBPASS_ERROR_DISABLED] = "disabled",
    [USBPASS_ERROR_NOT_SUPPORTED] = "not-supported",
    [USBPASS_ERROR_DRIVER] = "driver",
    [USBPASS_ERROR_STORE] = "store",
    [USBPASS_ERROR_TIMED_OUT] = "timed-out",
    [USBPASS_ERROR_UNREACHABLE] = "unreachable",
};

/**
 * usbpass_error_to_string:
 * @code: a #UsbpassError
 *
 * Returns: the stable name of @code, e.g. "in-use"; "internal" for unknown codes
 */
const gchar *
usbpass_error_to_string(UsbpassError code)
{
	if ((guint)code >= USBPASS_ERROR_LAST)
		return error_names[USBPASS_ERROR_INTERNAL];
	return error_names[code];
}

/**
 * usbpass_error_from_string:
 * @str: a name as returned by usbpass_error_to_string()
 *
 * Returns: the code, or %USBPASS_ERROR_INTERNAL for an unknown name
 */
UsbpassError
usbpass_error_from_string(const gchar *str)
{
	g_return_val_if_fail(str != NULL, USBPASS_ERROR_INTERNAL);
	for (guint i = 0; i < USBPASS_ERROR_LAST; i++) {
		if (g_strcmp0(str, error_names[i]) == 0)
			return (UsbpassError)i;
	}
	return USBPASS_ERROR_INTERNAL;
}

/* the REST API and the CLI both answer from this one table; exit codes follow
 * sysexits(3) where one fits, so scripts can tell "retry later" from "never" */
static const struct {
	guint http_status;
	gint exit_code;
} error_map[USBPASS_ERROR_LAST] = {
    [USBPASS_ERROR_INTERNAL] = {500, 70},	    /* EX_SOFTWARE */
    [USBPASS_ERROR_NOT_FOUND] = {404, 3},
    [USBPASS_ERROR_INVALID_DATA] = {400, 65},	    /* EX_DATAERR */
    [USBPASS_ERROR_BUSY] = {409, 75},		    /* EX_TEMPFAIL */
    [USBPASS_ERROR_IN_USE] = {409, 4},
    [USBPASS_ERROR_DENIED_BY_POLICY] = {403, 5},
    [USBPASS_ERROR_PERMISSION_DENIED] = {403, 77}, /* EX_NOPERM */
    [USBPASS_ERROR_DISABLED] = {403, 6},
    [USBPASS_ERROR_NOT_SUPPORTED] = {501, 69},	    /* EX_UNAVAILABLE */
    [USBPASS_ERROR_DRIVER] = {502, 7},
    [USBPASS_ERROR_STORE] = {503, 74},		    /* EX_IOERR */
    [USBPASS_ERROR_TIMED_OUT] = {504, 75},	    /* EX_TEMPFAIL */
    /* the client's own: usbpassd never answers with it; exit 1 as before it had a code */
    [USBPASS_ERROR_UNREACHABLE] = {503, 1},
};

/**
 * usbpass_error_to_http_status:
 * @code: a #UsbpassError
 *
 * Returns: the HTTP status the REST API answers @code with
 */
guint
usbpass_error_to_http_status(UsbpassError code)
{
	if ((guint)code >= USBPASS_ERROR_LAST)
		code = USBPASS_ERROR_INTERNAL;
	return error_map[code].http_status;
}

/**
 * usbpass_error_to_exit_code:
 * @code: a #UsbpassError
 *
 * Returns: the exit code of the usbpass command for @code: 1 when usbpassd
 * cannot be reached (2 is a usage error, never a code's)
 */
gint
usbpass_error_to_exit_code(UsbpassError code)
{
	if ((guint)code >= USBPASS_ERROR_LAST)
		code = USBPASS_ERROR_INTERNAL;
	return error_map[code].exit_code;
}
