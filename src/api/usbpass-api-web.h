/*
 * usbpass-api-web.h: the web page of usbpassd (src/web/) on the TCP listener
 *
 * The page's three files are compiled into the daemon as a GResource: nothing
 * is read from disk or fetched at run time. usbpass_api_web_respond() answers
 * GET and HEAD of "/", "/index.html", "/app.js" and "/app.css" without any
 * credentials (the page holds no secret; it asks for the token and sends it
 * on every API call as "Authorization: Bearer"), with a strict
 * Content-Security-Policy (scripts, styles and connections only from the
 * daemon itself, no inline script or style), nosniff, no referrer, no
 * framing, and an ETag (If-None-Match gives 304). Every other path is left to
 * the API.
 *
 * Stateless: any thread that owns @msg.
 */
#pragma once

#include <libsoup/soup.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

/* the policy of the page and of everything it loads */
#define USBPASS_API_WEB_CSP                                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "            \
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

gboolean
usbpass_api_web_respond(SoupServerMessage *msg, const gchar *path) USBPASS_NONNULL(1);

G_END_DECLS
