/*
 * usbpass-libvirt-xml.c: libvirt's <hostdev> XML, built and read with libxml2
 */
#define G_LOG_DOMAIN "UsbpassLibvirt"

#include "config.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <string.h>

#include "usbpass-autocleanups.h"
#include "usbpass-error.h"
#include "usbpass-libvirt-xml.h"
#include "usbpass-string.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)

/* every element that names a host USB device, in document order: a <hostdev>
 * of type usb (mode defaults to subsystem when left out), and an <interface
 * type='hostdev'> whose source is a USB device (libvirt defines it, although
 * no hypervisor runs it); hostdevs of type pci, scsi, scsi_host or mdev and
 * capabilities-mode hostdevs are not USB devices and are left out */
#define HOSTDEV_XPATH                                                                              \
	"/domain/devices/hostdev[@type='usb'][not(@mode) or @mode='subsystem'] | "                 \
	"/domain/devices/interface[@type='hostdev'][source/vendor or source/address[@type='usb']]"

static gsize
usbpass_libvirt_xml_init(void)
{
	static gsize initialized = 0;
	/* libxml2 2.9 must be initialised once before threads use it */
	if (g_once_init_enter(&initialized)) {
		xmlInitParser();
		g_once_init_leave(&initialized, 1);
	}
	return initialized;
}

static xmlDoc *
usbpass_libvirt_xml_read(const gchar *domain_xml, GError **error)
{
	gsize len = strlen(domain_xml);
	g_autoptr(xmlDoc) doc = NULL;
	xmlNode *root;

	usbpass_libvirt_xml_init();
	if (len > USBPASS_LIBVIRT_XML_MAX_BYTES) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "domain XML of %" G_GSIZE_FORMAT " bytes is over the limit of %u",
			    len,
			    (guint)USBPASS_LIBVIRT_XML_MAX_BYTES);
		return NULL;
	}
	/* no network, no entity substitution, no DTD: nothing but the text */
	doc = xmlReadMemory(domain_xml,
			    (int)len,
			    "domain.xml",
			    NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL) {
		const xmlError *xml_error = xmlGetLastError();
		g_autofree gchar *reason =
		  usbpass_string_sanitize(xml_error != NULL ? xml_error->message : NULL, -1, 200);
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "domain XML is not well-formed: %s",
			    reason != NULL ? reason : "unknown error");
		return NULL;
	}
	/* libvirt never writes a DTD; one could only smuggle entities in */
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		g_set_error_literal(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "domain XML must not have a document type declaration");
		return NULL;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || xmlStrcmp(root->name, (const xmlChar *)"domain") != 0) {
		g_set_error_literal(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "domain XML has no <domain> root element");
		return NULL;
	}
	return g_steal_pointer(&doc);
}

static xmlXPathObject *
usbpass_libvirt_xml_eval(xmlXPathContext *ctx, xmlNode *node, const gchar *expr, GError **error)
{
	xmlXPathObject *obj;

	ctx->node = node;
	obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	if (obj == NULL || obj->type != XPATH_NODESET) {
		g_set_error(
		  error, USBPASS_ERROR, USBPASS_ERROR_INTERNAL, "XPath '%s' failed", expr);
		if (obj != NULL)
			xmlXPathFreeObject(obj);
		return NULL;
	}
	return obj;
}

/* the text of the first node @expr selects under @node; %NULL with no error
 * when there is none */
static gchar *
usbpass_libvirt_xml_get(xmlXPathContext *ctx, xmlNode *node, const gchar *expr, GError **error)
{
	g_autoptr(xmlXPathObject) obj = usbpass_libvirt_xml_eval(ctx, node, expr, error);
	g_auto(xmlCharPtr) content = NULL;

	if (obj == NULL)
		return NULL;
	if (xmlXPathNodeSetIsEmpty(obj->nodesetval))
		return NULL;
	content = xmlNodeGetContent(xmlXPathNodeSetItem(obj->nodesetval, 0));
	return g_strdup(content != NULL ? (const gchar *)content : "");
}

/* a number as libvirt reads it (strtoul with base 0): "0x" or "0X" and hex
 * digits, a leading 0 and octal digits, or decimal digits; no sign, no space */
static gboolean
usbpass_libvirt_xml_parse_number(const gchar *text, guint64 max, guint64 *value)
{
	const gchar *digits = text;
	guint base = 10;

	if (g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X")) {
		digits = text + 2;
		base = 16;
	} else if (text[0] == '0' && text[1] != '\0') {
		digits = text + 1;
		base = 8;
	}
	if (digits[0] == '\0')
		return FALSE;
	for (const gchar *p = digits; *p != '\0'; p++) {
		if (base == 16 ? !g_ascii_isxdigit(*p)
			       : (*p < '0' || *p > (base == 8 ? '7' : '9')))
			return FALSE;
	}
	return g_ascii_string_to_unsigned(digits, base, 0, max, value, NULL);
}

static gboolean
usbpass_libvirt_xml_get_uint(xmlXPathContext *ctx,
			     xmlNode *node,
			     const gchar *expr,
			     guint64 max,
			     gboolean *found,
			     guint64 *value,
			     GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *text = usbpass_libvirt_xml_get(ctx, node, expr, &error_local);

	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	*found = text != NULL;
	if (text == NULL)
		return TRUE;
	if (!usbpass_libvirt_xml_parse_number(text, max, value)) {
		g_autofree gchar *shown = usbpass_string_sanitize(text, -1, 32);
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "hostdev %s '%s' is not a number from 0 to %" G_GUINT64_FORMAT
			    " (decimal, 0x-prefixed hexadecimal or 0-prefixed octal)",
			    expr,
			    shown != NULL ? shown : "",
			    max);
		return FALSE;
	}
	return TRUE;
}

/* reads one <hostdev> element; strict: a garbled attribute fails the whole
 * element rather than hiding a device from the in-use checks */
static UsbpassHostdev *
usbpass_libvirt_xml_parse_node(xmlXPathContext *ctx, xmlNode *node, gboolean live, GError **error)
{
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *missing = NULL;
	g_autofree gchar *alias = NULL;
	gboolean has_vendor = FALSE;
	gboolean has_product = FALSE;
	gboolean has_bus = FALSE;
	gboolean has_device = FALSE;
	guint64 vendor = 0;
	guint64 product = 0;
	guint64 bus = 0;
	guint64 device = 0;

	if (!usbpass_libvirt_xml_get_uint(
	      ctx, node, "source/vendor/@id", G_MAXUINT16, &has_vendor, &vendor, error))
		return NULL;
	if (!usbpass_libvirt_xml_get_uint(
	      ctx, node, "source/product/@id", G_MAXUINT16, &has_product, &product, error))
		return NULL;
	if (!usbpass_libvirt_xml_get_uint(
	      ctx, node, "source/address/@bus", G_MAXUINT16, &has_bus, &bus, error))
		return NULL;
	if (!usbpass_libvirt_xml_get_uint(
	      ctx, node, "source/address/@device", G_MAXUINT16, &has_device, &device, error))
		return NULL;
	/* libvirt refuses it too ("Zero is not permitted"); 0 means "no ids" here */
	if (has_vendor && vendor == 0) {
		g_set_error_literal(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "hostdev vendor id 0 is not a USB vendor");
		return NULL;
	}
	if (has_vendor != has_product) {
		g_set_error_literal(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "hostdev has a vendor id without a product id or the reverse");
		return NULL;
	}
	if (has_bus != has_device) {
		g_set_error_literal(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "hostdev address has a bus without a device number or the reverse");
		return NULL;
	}
	missing = usbpass_libvirt_xml_get(ctx, node, "source/@missing", &error_local);
	if (error_local == NULL)
		alias = usbpass_libvirt_xml_get(ctx, node, "alias/@name", &error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}

	hostdev->vendor_id = (guint16)vendor;
	hostdev->product_id = (guint16)product;
	hostdev->bus = (guint)bus;
	hostdev->device = (guint)device;
	hostdev->missing = g_strcmp0(missing, "yes") == 0;
	hostdev->alias = usbpass_string_sanitize(alias, -1, USBPASS_STRING_MAX_BYTES);
	/* the mark usbpass writes, and only on the <hostdev> elements it writes */
	hostdev->owned = xmlStrcmp(node->name, (const xmlChar *)"hostdev") == 0 &&
			 alias != NULL && g_str_has_prefix(alias, USBPASS_HOSTDEV_ALIAS_PREFIX);
	hostdev->live = live;
	hostdev->persistent = !live;
	return g_steal_pointer(&hostdev);
}

typedef gboolean (*UsbpassLibvirtXmlVisit)(xmlDoc *doc,
					   xmlNode *node,
					   UsbpassHostdev *hostdev,
					   gpointer user_data);

/* parses @domain_xml and calls @visit for each USB hostdev; @doc_out keeps the tree */
static gboolean
usbpass_libvirt_xml_walk(const gchar *domain_xml,
			 gboolean live,
			 UsbpassLibvirtXmlVisit visit,
			 gpointer user_data,
			 xmlDoc **doc_out,
			 GError **error)
{
	g_autoptr(xmlDoc) doc = usbpass_libvirt_xml_read(domain_xml, error);
	g_autoptr(xmlXPathContext) ctx = NULL;
	g_autoptr(xmlXPathObject) obj = NULL;
	g_autoptr(GPtrArray) nodes = g_ptr_array_new();
	g_autoptr(GPtrArray) hostdevs =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);

	if (doc == NULL)
		return FALSE;
	ctx = xmlXPathNewContext(doc);
	if (ctx == NULL) {
		g_set_error_literal(
		  error, USBPASS_ERROR, USBPASS_ERROR_INTERNAL, "cannot create an XPath context");
		return FALSE;
	}
	obj = usbpass_libvirt_xml_eval(ctx, xmlDocGetRootElement(doc), HOSTDEV_XPATH, error);
	if (obj == NULL)
		return FALSE;
	/* read every element first, and drop the XPath objects before any
	 * visitor unlinks a node: freeing a node set looks at its nodes */
	for (gint i = 0; obj->nodesetval != NULL && i < obj->nodesetval->nodeNr; i++) {
		xmlNode *node = obj->nodesetval->nodeTab[i];
		UsbpassHostdev *hostdev = usbpass_libvirt_xml_parse_node(ctx, node, live, error);
		if (hostdev == NULL) {
			g_prefix_error(error, "hostdev %d of the domain XML: ", i + 1);
			return FALSE;
		}
		g_ptr_array_add(nodes, node);
		g_ptr_array_add(hostdevs, hostdev);
	}
	g_clear_pointer(&obj, xmlXPathFreeObject);
	g_clear_pointer(&ctx, xmlXPathFreeContext);
	for (guint i = 0; i < nodes->len; i++) {
		if (!visit(doc,
			   g_ptr_array_index(nodes, i),
			   g_steal_pointer(&hostdevs->pdata[i]),
			   user_data))
			break;
	}
	if (doc_out != NULL)
		*doc_out = g_steal_pointer(&doc);
	return TRUE;
}

static gchar *
usbpass_libvirt_xml_node_to_string(xmlDoc *doc, xmlNode *node, GError **error)
{
	g_autoptr(xmlBuffer) buf = xmlBufferCreate();

	if (buf == NULL || xmlNodeDump(buf, doc, node, 0, 0) < 0) {
		g_set_error_literal(
		  error, USBPASS_ERROR, USBPASS_ERROR_INTERNAL, "cannot serialise XML");
		return NULL;
	}
	return g_strndup((const gchar *)xmlBufferContent(buf), (gsize)xmlBufferLength(buf));
}

static xmlNode *
usbpass_libvirt_xml_new_hostdev_node(xmlDoc *doc, const UsbpassHostdev *hostdev, GError **error)
{
	g_autoptr(xmlNode) node = NULL;
	xmlNode *source;

	if (!usbpass_hostdev_validate(hostdev, error))
		return NULL;
	node = xmlNewDocNode(doc, NULL, (const xmlChar *)"hostdev", NULL);
	xmlNewProp(node, (const xmlChar *)"mode", (const xmlChar *)"subsystem");
	xmlNewProp(node, (const xmlChar *)"type", (const xmlChar *)"usb");
	xmlNewProp(node, (const xmlChar *)"managed", (const xmlChar *)"yes");
	source = xmlNewChild(node, NULL, (const xmlChar *)"source", NULL);
	/* a missing device must never stop the instance from booting */
	xmlNewProp(source, (const xmlChar *)"startupPolicy", (const xmlChar *)"optional");
	if (hostdev->vendor_id != 0 || hostdev->product_id != 0) {
		g_autofree gchar *vendor = g_strdup_printf("0x%04x", hostdev->vendor_id);
		g_autofree gchar *product = g_strdup_printf("0x%04x", hostdev->product_id);
		xmlNode *child = xmlNewChild(source, NULL, (const xmlChar *)"vendor", NULL);
		xmlNewProp(child, (const xmlChar *)"id", (const xmlChar *)vendor);
		child = xmlNewChild(source, NULL, (const xmlChar *)"product", NULL);
		xmlNewProp(child, (const xmlChar *)"id", (const xmlChar *)product);
	}
	if (hostdev->bus != 0) {
		g_autofree gchar *bus = g_strdup_printf("%u", hostdev->bus);
		g_autofree gchar *device = g_strdup_printf("%u", hostdev->device);
		xmlNode *child = xmlNewChild(source, NULL, (const xmlChar *)"address", NULL);
		xmlNewProp(child, (const xmlChar *)"bus", (const xmlChar *)bus);
		xmlNewProp(child, (const xmlChar *)"device", (const xmlChar *)device);
	}
	/* usbpass's mark: what it may remove again (usbpass-driver.h) */
	{
		g_autofree gchar *alias = usbpass_hostdev_make_alias(hostdev);
		xmlNode *child = xmlNewChild(node, NULL, (const xmlChar *)"alias", NULL);
		xmlNewProp(child, (const xmlChar *)"name", (const xmlChar *)alias);
	}
	return g_steal_pointer(&node);
}

/**
 * usbpass_libvirt_xml_build_hostdev:
 * @hostdev: the device; only ids and address are used
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA when it has neither ids nor an address
 *
 * Returns: (transfer full): the <hostdev> element for virDomainAttachDeviceFlags()
 */
gchar *
usbpass_libvirt_xml_build_hostdev(const UsbpassHostdev *hostdev, GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	xmlNode *node;

	g_return_val_if_fail(hostdev != NULL, NULL);

	usbpass_libvirt_xml_init();
	doc = xmlNewDoc((const xmlChar *)"1.0");
	node = usbpass_libvirt_xml_new_hostdev_node(doc, hostdev, error);
	if (node == NULL)
		return NULL;
	xmlDocSetRootElement(doc, node);
	return usbpass_libvirt_xml_node_to_string(doc, node, error);
}

static gboolean
usbpass_libvirt_xml_collect_cb(xmlDoc *doc,
			       xmlNode *node,
			       UsbpassHostdev *hostdev,
			       gpointer user_data)
{
	g_ptr_array_add(user_data, hostdev);
	return TRUE;
}

/**
 * usbpass_libvirt_xml_parse_hostdevs:
 * @domain_xml: a domain's XML, live or inactive
 * @live: whether it is the live definition
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for malformed XML or a garbled hostdev
 *
 * Returns: (transfer container) (element-type UsbpassHostdev): the USB hostdevs
 */
GPtrArray *
usbpass_libvirt_xml_parse_hostdevs(const gchar *domain_xml, gboolean live, GError **error)
{
	g_autoptr(GPtrArray) hostdevs =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);

	g_return_val_if_fail(domain_xml != NULL, NULL);

	if (!usbpass_libvirt_xml_walk(
	      domain_xml, live, usbpass_libvirt_xml_collect_cb, hostdevs, NULL, error))
		return NULL;
	return g_steal_pointer(&hostdevs);
}

typedef struct {
	const UsbpassHostdev *wanted;
	GPtrArray *elements; /* of utf8, for find */
	guint n_removed;     /* for remove */
	GError *error;
} UsbpassLibvirtXmlMatch;

static gboolean
usbpass_libvirt_xml_find_cb(xmlDoc *doc, xmlNode *node, UsbpassHostdev *hostdev, gpointer user_data)
{
	UsbpassLibvirtXmlMatch *match = user_data;
	g_autoptr(UsbpassHostdev) owned = hostdev;
	gchar *element;

	if (!usbpass_hostdev_is_removable_for(owned, match->wanted))
		return TRUE;
	element = usbpass_libvirt_xml_node_to_string(doc, node, &match->error);
	if (element == NULL)
		return FALSE;
	g_ptr_array_add(match->elements, element);
	return TRUE;
}

/**
 * usbpass_libvirt_xml_find_hostdevs:
 * @domain_xml: a domain's XML
 * @hostdev: the device to look for
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: (transfer container) (element-type utf8): the matching elements,
 * each fit for virDomainDetachDeviceFlags()
 */
GPtrArray *
usbpass_libvirt_xml_find_hostdevs(const gchar *domain_xml,
				  const UsbpassHostdev *hostdev,
				  GError **error)
{
	g_autoptr(GPtrArray) elements = g_ptr_array_new_with_free_func(g_free);
	UsbpassLibvirtXmlMatch match = { .wanted = hostdev, .elements = elements };

	g_return_val_if_fail(domain_xml != NULL, NULL);
	g_return_val_if_fail(hostdev != NULL, NULL);

	if (!usbpass_libvirt_xml_walk(
	      domain_xml, FALSE, usbpass_libvirt_xml_find_cb, &match, NULL, error))
		return NULL;
	if (match.error != NULL) {
		g_propagate_error(error, match.error);
		return NULL;
	}
	return g_steal_pointer(&elements);
}

static gboolean
usbpass_libvirt_xml_remove_cb(xmlDoc *doc,
			      xmlNode *node,
			      UsbpassHostdev *hostdev,
			      gpointer user_data)
{
	UsbpassLibvirtXmlMatch *match = user_data;
	g_autoptr(UsbpassHostdev) owned = hostdev;

	if (!usbpass_hostdev_is_removable_for(owned, match->wanted))
		return TRUE;
	xmlUnlinkNode(node);
	xmlFreeNode(node);
	match->n_removed++;
	return TRUE;
}

/**
 * usbpass_libvirt_xml_remove_hostdevs:
 * @domain_xml: a domain's XML
 * @hostdev: the device to remove
 * @n_removed: (out) (optional): how many elements were removed
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: (transfer full): the changed domain XML
 */
gchar *
usbpass_libvirt_xml_remove_hostdevs(const gchar *domain_xml,
				    const UsbpassHostdev *hostdev,
				    guint *n_removed,
				    GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	UsbpassLibvirtXmlMatch match = { .wanted = hostdev };
	gchar *result;

	g_return_val_if_fail(domain_xml != NULL, NULL);
	g_return_val_if_fail(hostdev != NULL, NULL);

	if (!usbpass_libvirt_xml_walk(
	      domain_xml, FALSE, usbpass_libvirt_xml_remove_cb, &match, &doc, error))
		return NULL;
	result = usbpass_libvirt_xml_node_to_string(doc, xmlDocGetRootElement(doc), error);
	if (result != NULL && n_removed != NULL)
		*n_removed = match.n_removed;
	return result;
}

/**
 * usbpass_libvirt_xml_add_hostdev:
 * @domain_xml: a domain's XML
 * @hostdev: the device to add
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: (transfer full): the changed domain XML
 */
gchar *
usbpass_libvirt_xml_add_hostdev(const gchar *domain_xml,
				const UsbpassHostdev *hostdev,
				GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	g_autoptr(xmlXPathContext) ctx = NULL;
	g_autoptr(xmlXPathObject) obj = NULL;
	xmlNode *node;

	g_return_val_if_fail(domain_xml != NULL, NULL);
	g_return_val_if_fail(hostdev != NULL, NULL);

	doc = usbpass_libvirt_xml_read(domain_xml, error);
	if (doc == NULL)
		return NULL;
	ctx = xmlXPathNewContext(doc);
	if (ctx == NULL) {
		g_set_error_literal(
		  error, USBPASS_ERROR, USBPASS_ERROR_INTERNAL, "cannot create an XPath context");
		return NULL;
	}
	obj = usbpass_libvirt_xml_eval(ctx, xmlDocGetRootElement(doc), "/domain/devices", error);
	if (obj == NULL)
		return NULL;
	if (xmlXPathNodeSetIsEmpty(obj->nodesetval)) {
		g_set_error_literal(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "domain XML has no <devices> element");
		return NULL;
	}
	node = usbpass_libvirt_xml_new_hostdev_node(doc, hostdev, error);
	if (node == NULL)
		return NULL;
	xmlAddChild(xmlXPathNodeSetItem(obj->nodesetval, 0), node);
	return usbpass_libvirt_xml_node_to_string(doc, xmlDocGetRootElement(doc), error);
}
