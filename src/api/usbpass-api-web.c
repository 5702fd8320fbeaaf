/*
 * usbpass-api-web.c: the web page of usbpassd (src/web/) on the TCP listener
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include <string.h>

#include "usbpass-api-json.h"
#include "usbpass-api-web.h"
#include "usbpass-error.h"
#include "usbpass-web-resources.h"

#define USBPASS_API_WEB_RESOURCE_PREFIX "/org/usbpass/web"

static const struct {
	const gchar *path;
	const gchar *file;
	const gchar *content_type;
} usbpass_api_web_files[] = {
	{ "/", "index.html", "text/html; charset=utf-8" },
	{ "/index.html", "index.html", "text/html; charset=utf-8" },
	{ "/app.js", "app.js", "text/javascript; charset=utf-8" },
	{ "/app.css", "app.css", "text/css; charset=utf-8" },
};

static gint
usbpass_api_web_find(const gchar *path)
{
	for (guint i = 0; i < G_N_ELEMENTS(usbpass_api_web_files); i++) {
		if (g_strcmp0(path, usbpass_api_web_files[i].path) == 0)
			return (gint)i;
	}
	return -1;
}

static void
usbpass_api_web_set_headers(SoupMessageHeaders *headers)
{
	soup_message_headers_replace(headers, "Content-Security-Policy", USBPASS_API_WEB_CSP);
	soup_message_headers_replace(headers, "X-Content-Type-Options", "nosniff");
	soup_message_headers_replace(headers, "X-Frame-Options", "DENY");
	/* the one-time URL carries the token in its fragment: never leak the page's URL */
	soup_message_headers_replace(headers, "Referrer-Policy", "no-referrer");
	soup_message_headers_replace(headers, "Cross-Origin-Opener-Policy", "same-origin");
	soup_message_headers_replace(headers, "Cross-Origin-Resource-Policy", "same-origin");
	/* revalidate every time: a new daemon version brings a new page */
	soup_message_headers_replace(headers, "Cache-Control", "no-cache");
}

/* TRUE when If-None-Match names @etag */
static gboolean
usbpass_api_web_etag_matches(SoupServerMessage *msg, const gchar *etag)
{
	const gchar *header = soup_message_headers_get_list(
	  soup_server_message_get_request_headers(msg), "If-None-Match");
	g_autoptr(GSList) list = NULL;
	gboolean matches = FALSE;

	if (header == NULL)
		return FALSE;
	list = soup_header_parse_list(header);
	for (GSList *l = list; l != NULL; l = l->next) {
		const gchar *candidate = l->data;
		if (g_str_has_prefix(candidate, "W/"))
			candidate += 2;
		if (g_strcmp0(candidate, "*") == 0 || g_strcmp0(candidate, etag) == 0) {
			matches = TRUE;
			break;
		}
	}
	g_slist_free_full(g_steal_pointer(&list), g_free);
	return matches;
}

static void
usbpass_api_web_respond_error(SoupServerMessage *msg,
                              guint status,
                              UsbpassError code,
                              const gchar *message)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
	SoupMessageBody *body = soup_server_message_get_response_body(msg);
	g_autoptr(GBytes) bytes = usbpass_api_json_error_new(code, message);

	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_replace(headers, "Content-Type", USBPASS_API_JSON_CONTENT_TYPE);
	soup_message_headers_replace(headers, "X-Content-Type-Options", "nosniff");
	soup_message_body_truncate(body);
	soup_message_body_append_bytes(body, bytes);
}

/**
 * usbpass_api_web_respond:
 * @msg: a request, not answered yet
 * @path: (nullable): its raw path
 *
 * Answers @msg when @path is one of the page's files: 200 with the file,
 * 304 when If-None-Match names its ETag, 405 for a method other than GET and
 * HEAD.
 *
 * Returns: %TRUE when @msg was answered, %FALSE when @path is not the page's
 */
gboolean
usbpass_api_web_respond(SoupServerMessage *msg, const gchar *path)
{
	const gchar *method;
	SoupMessageHeaders *headers;
	g_autofree gchar *resource_path = NULL;
	g_autofree gchar *checksum = NULL;
	g_autofree gchar *etag = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GError) error_local = NULL;
	gint index;

	g_return_val_if_fail(SOUP_IS_SERVER_MESSAGE(msg), FALSE);

	index = usbpass_api_web_find(path);
	if (index < 0)
		return FALSE;
	method = soup_server_message_get_method(msg);
	headers = soup_server_message_get_response_headers(msg);
	if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
		g_autofree gchar *text =
		  g_strdup_printf("method %s is not allowed here; allowed: GET, HEAD", method);
		usbpass_api_web_respond_error(
		  msg, SOUP_STATUS_METHOD_NOT_ALLOWED, USBPASS_ERROR_INVALID_DATA, text);
		soup_message_headers_replace(headers, "Allow", "GET, HEAD");
		return TRUE;
	}

	resource_path =
	  g_strconcat(USBPASS_API_WEB_RESOURCE_PREFIX "/", usbpass_api_web_files[index].file, NULL);
	bytes = g_resource_lookup_data(
	  usbpass_web_get_resource(), resource_path, G_RESOURCE_LOOKUP_FLAGS_NONE, &error_local);
	if (bytes == NULL) {
		/* the build compiles every file in: this is a broken build */
		g_autofree gchar *text =
		  g_strdup_printf("the page's file '%s' is not in usbpassd: %s",
		                  resource_path,
		                  error_local->message);
		g_warning("%s", text);
		usbpass_api_web_respond_error(
		  msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, USBPASS_ERROR_INTERNAL, text);
		return TRUE;
	}

	checksum = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, bytes);
	etag = g_strdup_printf("\"%.32s\"", checksum);
	usbpass_api_web_set_headers(headers);
	soup_message_headers_replace(headers, "ETag", etag);
	if (usbpass_api_web_etag_matches(msg, etag)) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_MODIFIED, NULL);
		return TRUE;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(
	  headers, "Content-Type", usbpass_api_web_files[index].content_type);
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), bytes);
	return TRUE;
}
