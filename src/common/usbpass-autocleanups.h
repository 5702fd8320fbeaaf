/*
 * usbpass-autocleanups.h: g_autoptr() support for foreign types
 *
 * Include this after the foreign library's own header; each block is compiled
 * only when that header has been seen, so the common module needs no foreign
 * library itself.
 */
#pragma once

#include <glib-object.h>

#if defined(SQLITE3_H) || defined(_SQLITE3_H_)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)
#endif

#ifdef LIBPQ_FE_H
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PGresult, PQclear)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PGconn, PQfinish)
#endif

#ifdef LIBVIRT_H
static inline void
usbpass_vir_connect_close(virConnectPtr conn)
{
	if (conn != NULL)
		virConnectClose(conn);
}
static inline void
usbpass_vir_domain_free(virDomainPtr domain)
{
	if (domain != NULL)
		virDomainFree(domain);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, usbpass_vir_connect_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, usbpass_vir_domain_free)
#endif

#ifdef __XML_TREE_H__
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlNode, xmlFreeNode)
typedef xmlChar *xmlCharPtr;
static inline void
usbpass_xml_free(xmlCharPtr str)
{
	if (str != NULL)
		xmlFree(str);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(xmlCharPtr, usbpass_xml_free, NULL)
#endif

#ifdef __XML_XPATH_H__
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)
#endif
