/*
 * usbpass-libvirt-xml.h: libvirt's <hostdev> XML, built and read with libxml2
 *
 * Builds the element usbpass attaches, marked as usbpass's by its user alias
 * (usbpass-driver.h, "Ownership"):
 *   <hostdev mode='subsystem' type='usb' managed='yes'>
 *     <source startupPolicy='optional'>
 *       <vendor id='0x0781'/><product id='0x5567'/><address bus='1' device='4'/>
 *     </source>
 *     <alias name='ua-usbpass-0781-5567-1-4'/>
 *   </hostdev>
 * and finds, adds and removes USB hostdevs in a domain's XML with the tree API
 * and XPath; no string is ever pasted into XML. Reading takes every form of
 * libvirt's grammar: <hostdev type='usb'> with or without mode='subsystem',
 * ids only, address only or both, numbers in decimal, 0x-hex or 0-octal as
 * libvirt's own parser (strtoul, base 0) reads them, any startupPolicy,
 * guestReset, <boot>, guest <address type='usb'>, managed, <alias>; and
 * <interface type='hostdev'> with a USB source. Non-USB hostdevs (pci, scsi,
 * scsi_host, mdev) are not listed. Find and remove see only the <hostdev>
 * elements usbpass may remove (usbpass_hostdev_is_removable_for()): anything
 * else is left byte for byte as it was.
 *
 * Domain XML is treated as untrusted: its size is capped, a DTD refused,
 * numbers are parsed strictly (ids up to 0xffff, vendor 0 refused as libvirt
 * does), the alias is sanitised, and anything malformed is
 * USBPASS_ERROR_INVALID_DATA. An entry without ids reads as vendor_id and
 * product_id 0, one without an address as bus 0.
 *
 * Pure functions, thread-safe; only drivers/libvirt/ includes this.
 */
#pragma once

#include "drivers/usbpass-driver.h"

G_BEGIN_DECLS

/* libvirt's own limit for an XML document over RPC */
#define USBPASS_LIBVIRT_XML_MAX_BYTES (16 * 1024 * 1024)

gchar *
usbpass_libvirt_xml_build_hostdev(const UsbpassHostdev *hostdev,
				  GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* Returns: (transfer container) (element-type UsbpassHostdev): the USB hostdevs
 * of @domain_xml in document order, with live or persistent set from @live */
GPtrArray *
usbpass_libvirt_xml_parse_hostdevs(const gchar *domain_xml,
				   gboolean live,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* Returns: (transfer container) (element-type utf8): the <hostdev> elements of
 * @domain_xml usbpass may remove for @hostdev (usbpass_hostdev_is_removable_for()),
 * serialised as libvirt wrote them; empty when none */
GPtrArray *
usbpass_libvirt_xml_find_hostdevs(const gchar *domain_xml,
				  const UsbpassHostdev *hostdev,
				  GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer full): @domain_xml with @hostdev's element appended to <devices> */
gchar *
usbpass_libvirt_xml_add_hostdev(const gchar *domain_xml,
				const UsbpassHostdev *hostdev,
				GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer full): @domain_xml without the elements usbpass may
 * remove for @hostdev (usbpass_hostdev_is_removable_for()); @n_removed says
 * how many there were */
gchar *
usbpass_libvirt_xml_remove_hostdevs(const gchar *domain_xml,
				    const UsbpassHostdev *hostdev,
				    guint *n_removed,
				    GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

G_END_DECLS
