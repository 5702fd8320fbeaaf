/*
 * fuzz-libvirt-xml.c: any domain XML -> the hostdev parser and editor of the libvirt driver
 *
 * Domain XML comes from libvirt but holds whatever an operator or another tool
 * wrote. Asserted beyond "no crash, no leak": an edit gives XML that parses
 * again, adding a hostdev adds exactly one that reads back as the one added,
 * removing takes away exactly the elements counted, and what find returns
 * parses as a hostdev matching the one asked for.
 *
 * Input: the domain XML.
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include <string.h>

#include "drivers/libvirt/usbpass-libvirt-xml.h"
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
fuzz_check_hostdev(const UsbpassHostdev *hostdev)
{
	g_autofree gchar *text = usbpass_hostdev_to_string(hostdev);
	usbpass_fuzz_assert_text("hostdev", text, NULL);
	usbpass_fuzz_assert_text_or_null("alias", hostdev->alias, NULL);
}

static GPtrArray *
fuzz_parse(const gchar *xml)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *hostdevs = usbpass_libvirt_xml_parse_hostdevs(xml, FALSE, &error);
	g_assert_no_error(error);
	g_assert(hostdevs != NULL);
	return hostdevs;
}

/* find, remove and add @wanted against @xml, which has @hostdevs */
static void
fuzz_edit(const gchar *xml, GPtrArray *hostdevs, const UsbpassHostdev *wanted)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) found = NULL;
	g_autofree gchar *removed = NULL;
	g_autofree gchar *added = NULL;
	guint n_matching = 0;
	guint n_removed = 0;

	/* usbpass finds and removes only the entries it wrote for @wanted */
	for (guint i = 0; i < hostdevs->len; i++) {
		if (usbpass_hostdev_is_removable_for(g_ptr_array_index(hostdevs, i), wanted))
			n_matching++;
	}

	found = usbpass_libvirt_xml_find_hostdevs(xml, wanted, &error);
	g_assert_no_error(error);
	g_assert(found->len == n_matching);
	for (guint i = 0; i < found->len; i++) {
		/* what libvirt would be handed for a detach is one hostdev, the one asked for */
		g_autofree gchar *domain =
		  g_strdup_printf("<domain><devices>%s</devices></domain>",
		                  (const gchar *)g_ptr_array_index(found, i));
		g_autoptr(GPtrArray) one = usbpass_libvirt_xml_parse_hostdevs(domain, TRUE, &error);
		/* an element may use a namespace prefix declared outside it */
		if (one == NULL) {
			g_clear_error(&error);
			continue;
		}
		g_assert(one->len == 1);
		g_assert(usbpass_hostdev_is_removable_for(g_ptr_array_index(one, 0), wanted));
	}

	removed = usbpass_libvirt_xml_remove_hostdevs(xml, wanted, &n_removed, &error);
	g_assert_no_error(error);
	g_assert(n_removed == n_matching);
	{
		g_autoptr(GPtrArray) after = fuzz_parse(removed);
		g_assert(after->len == hostdevs->len - n_removed);
		for (guint i = 0; i < after->len; i++)
			g_assert(!usbpass_hostdev_is_removable_for(g_ptr_array_index(after, i),
			                                           wanted));
	}

	added = usbpass_libvirt_xml_add_hostdev(xml, wanted, &error);
	if (added == NULL) {
		/* no <devices>, or a hostdev without ids or address */
		g_assert(error != NULL);
		usbpass_fuzz_assert_text("add error", error->message, NULL);
		return;
	}
	{
		g_autoptr(GPtrArray) after = fuzz_parse(added);
		const UsbpassHostdev *last;
		g_assert(after->len == hostdevs->len + 1);
		last = g_ptr_array_index(after, after->len - 1);
		g_assert(usbpass_hostdev_matches(last, wanted));
	}
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	g_autofree gchar *xml = g_strndup((const gchar *)data, size);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) live = NULL;
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autoptr(UsbpassHostdev) other = usbpass_hostdev_new();

	live = usbpass_libvirt_xml_parse_hostdevs(xml, TRUE, &error);
	if (live == NULL) {
		g_assert(error != NULL);
		g_assert(error->domain == USBPASS_ERROR);
		usbpass_fuzz_assert_text("parse error", error->message, NULL);
		return 0;
	}
	hostdevs = fuzz_parse(xml);
	g_assert(hostdevs->len == live->len);
	for (guint i = 0; i < hostdevs->len; i++) {
		const UsbpassHostdev *hostdev = g_ptr_array_index(hostdevs, i);
		g_assert(((UsbpassHostdev *)g_ptr_array_index(live, i))->live);
		g_assert(hostdev->persistent && !hostdev->live);
		fuzz_check_hostdev(hostdev);
	}

	/* a hostdev of the definition, and one that is not in it */
	if (hostdevs->len > 0)
		fuzz_edit(xml, hostdevs, g_ptr_array_index(hostdevs, 0));
	other->vendor_id = 0x0781;
	other->product_id = 0x5567;
	other->bus = 3;
	other->device = 9;
	fuzz_edit(xml, hostdevs, other);
	return 0;
}
