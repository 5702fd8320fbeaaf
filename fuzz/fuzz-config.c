/*
 * fuzz-config.c: any usbpassd.conf -> the configuration loader
 *
 * Asserted: loading either succeeds with printable settings where the daemon
 * needs them (host, driver) or fails with INVALID_DATA, a printable one-line
 * message, and the record untouched (usbpass-config.h promises both).
 *
 * Input: the file.
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include "daemon/usbpass-config.h"
#include "usbpass-error.h"
#include "usbpass-fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	usbpass_fuzz_init();
	return 0;
}

static void
fuzz_assert_same(const UsbpassConfig *a, const UsbpassConfig *b)
{
	g_assert_cmpstr(a->path, ==, b->path);
	g_assert(a->enabled == b->enabled);
	g_assert_cmpstr(a->host, ==, b->host);
	g_assert_cmpstr(a->store, ==, b->store);
	g_assert_cmpstr(a->socket, ==, b->socket);
	g_assert_cmpstr(a->socket_group, ==, b->socket_group);
	g_assert(a->socket_mode == b->socket_mode);
	g_assert_cmpstr(a->listen, ==, b->listen);
	g_assert_cmpstr(a->tls_certificate, ==, b->tls_certificate);
	g_assert_cmpstr(a->tls_key, ==, b->tls_key);
	g_assert_cmpstr(a->driver, ==, b->driver);
	g_assert(a->log_level == b->log_level);
	g_assert_cmpstr(a->libvirt_uri, ==, b->libvirt_uri);
	g_assert_cmpstr(a->policy_file, ==, b->policy_file);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	g_autoptr(UsbpassConfig) config = usbpass_config_new();
	g_autoptr(UsbpassConfig) before = usbpass_config_copy(config);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hint = NULL;

	if (!usbpass_config_load_data(config, (const gchar *)data, size, "fuzz.conf", &error)) {
		g_assert(g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA));
		usbpass_fuzz_assert_text("config error", error->message, NULL);
		fuzz_assert_same(config, before);
		return 0;
	}
	g_assert_no_error(error);
	g_assert_cmpstr(config->path, ==, "fuzz.conf");
	usbpass_fuzz_assert_text("host", config->host, NULL);
	g_assert(g_strcmp0(config->driver, "libvirt") == 0 ||
	         g_strcmp0(config->driver, "test") == 0);
	g_assert((config->tls_certificate == NULL) == (config->tls_key == NULL));
	g_assert(config->socket_mode <= 0777);
	g_assert(config->store != NULL && config->socket != NULL && config->libvirt_uri != NULL);
	g_assert(usbpass_config_log_level_to_string(config->log_level) != NULL);
	hint = usbpass_config_get_enable_hint(config);
	g_assert(hint != NULL);

	/* loading the same file again over the result changes nothing */
	{
		g_autoptr(UsbpassConfig) again = usbpass_config_copy(config);
		g_assert(
		  usbpass_config_load_data(again, (const gchar *)data, size, "fuzz.conf", NULL));
		fuzz_assert_same(again, config);
	}
	return 0;
}
