/*
 * usbpass-store.h: durable record of host USB devices and who holds them
 *
 * The table host_usb_devices has one row per (host, device identity): the
 * device's last known name and address, the instance it is assigned to and the
 * state of that assignment. Every state change is one transaction.
 * usbpass_store_claim_device() is the only way from "available" (or "failed")
 * to "attaching"; it is an atomic compare-and-set, so of N concurrent callers on
 * any number of connections or processes exactly one wins and the others fail
 * with USBPASS_ERROR_BUSY (someone is attaching or detaching it) or
 * USBPASS_ERROR_IN_USE (it is assigned to another instance).
 * usbpass_store_transition() moves a row only when it is still in the state the
 * caller expects, else USBPASS_ERROR_BUSY: a stale caller never overwrites.
 *
 * Fencing: every row carries a lease generation. A claim, and any transition
 * that changes the row's instance (an import, a release), increases it by one.
 * usbpass_store_claim_device_lease() returns the generation of the new lease,
 * and usbpass_store_transition_lease() moves the row only while it is still that
 * lease (else BUSY), so a holder that comes back after its lease was ended and
 * given to someone else cannot overwrite the newer lease, even when the row is
 * in the state it expects.
 *
 * The store is an interface: usbpass-sqlite-store (embedded default) and, for
 * clusters, usbpass-pg-store implement it; usbpass_store_open() picks one from a
 * location (see usbpass-store-open.h). Each backend's header states its
 * threading contract; open one store per thread for concurrency.
 */
#pragma once

#include <glib-object.h>

#include "usbpass-device-state.h"
#include "usbpass-error.h"

G_BEGIN_DECLS

/* one row of host_usb_devices */
typedef struct {
	gchar *host;	  /* host name: identities are host-qualified */
	gchar *device_id; /* stable identity from the inventory */
	gchar *name;	  /* human name, for people and the UI */
	guint bus;	  /* last known address; 0 when never seen */
	guint device;
	guint16 vendor_id;
	guint16 product_id;
	gchar *serial;	      /* NULL when absent */
	gchar *port;	      /* last known port path */
	gchar *instance_uuid; /* NULL when not assigned */
	gchar *instance_name; /* cached for display, NULL when not assigned */
	UsbpassDeviceState state;
	gboolean present; /* plugged in at the last inventory update */
	gchar *error;	  /* last failure, NULL when none */
	gint64 created_usec;
	gint64 updated_usec; /* wall clock, g_get_real_time() */
	guint64 generation;  /* lease generation (fencing); 0 when never claimed */
} UsbpassStoreDevice;

UsbpassStoreDevice *
usbpass_store_device_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassStoreDevice *
usbpass_store_device_copy(const UsbpassStoreDevice *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_store_device_free(UsbpassStoreDevice *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassStoreDevice, usbpass_store_device_free)

/* one line of the audit log */
typedef struct {
	gint64 id; /* increasing */
	gint64 created_usec;
	gchar *host;
	gchar *actor;	 /* "uid:0", "token:ops-1", "usbpassd" for automatic actions */
	gchar *action;	 /* "attach", "detach", "reattach", "reconcile", "auth", ... */
	gchar *device_id;     /* NULL when not about a device */
	gchar *instance_uuid; /* NULL when not about an instance */
	gchar *outcome;	 /* "ok", or an error code name such as "in-use" */
	gchar *message;	 /* human detail, NULL when none */
} UsbpassAuditEntry;

UsbpassAuditEntry *
usbpass_audit_entry_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassAuditEntry *
usbpass_audit_entry_copy(const UsbpassAuditEntry *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_audit_entry_free(UsbpassAuditEntry *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassAuditEntry, usbpass_audit_entry_free)

/* an API bearer token: only a hash of the secret is ever stored */
typedef enum {
	USBPASS_TOKEN_ROLE_READER,   /* read inventory, instances, state */
	USBPASS_TOKEN_ROLE_OPERATOR, /* and attach / detach */
	USBPASS_TOKEN_ROLE_ADMIN,    /* and tokens, audit log */
	USBPASS_TOKEN_ROLE_LAST
} UsbpassTokenRole;

const gchar *
usbpass_token_role_to_string(UsbpassTokenRole role);
/* Returns: the role, or USBPASS_TOKEN_ROLE_LAST for an unknown name */
UsbpassTokenRole
usbpass_token_role_from_string(const gchar *str);

typedef struct {
	gchar *name;	    /* unique, an identifier: [A-Za-z0-9._-]{1,64} */
	UsbpassTokenRole role;
	gchar *secret_hash; /* "sha256:<hex>" of the secret */
	gint64 created_usec;
	gint64 last_used_usec; /* 0 when never used */
} UsbpassToken;

UsbpassToken *
usbpass_token_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassToken *
usbpass_token_copy(const UsbpassToken *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_token_free(UsbpassToken *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassToken, usbpass_token_free)

/* what a caller can make a store keep or return at once */
#define USBPASS_STORE_TOKENS_MAX      1000 /* add_token beyond: INVALID_DATA */
#define USBPASS_STORE_AUDIT_LIMIT     100  /* list_audit with limit 0 */
#define USBPASS_STORE_AUDIT_LIMIT_MAX 1000 /* list_audit caps larger limits */
#define USBPASS_STORE_MESSAGE_MAX     4096 /* error and audit messages are cut (sanitised) */

#define USBPASS_TYPE_STORE (usbpass_store_get_type())
G_DECLARE_INTERFACE(UsbpassStore, usbpass_store, USBPASS, STORE, GObject)

struct _UsbpassStoreInterface {
	GTypeInterface parent_iface;

	/* inserts the row (state available; created/updated from the record or
	 * now) or refreshes its name, address, ids, serial, port and presence;
	 * never touches state, instance, error or timestamps of a row */
	gboolean (*upsert_device)(UsbpassStore *self, const UsbpassStoreDevice *device, GError **error);
	UsbpassStoreDevice *(*get_device)(UsbpassStore *self,
					  const gchar *host,
					  const gchar *device_id,
					  GError **error);
	/* host NULL: every host */
	GPtrArray *(*list_devices)(UsbpassStore *self, const gchar *host, GError **error);
	gboolean (*set_present)(UsbpassStore *self,
				const gchar *host,
				const gchar *device_id,
				gboolean present,
				GError **error);
	gboolean (*delete_device)(UsbpassStore *self,
				  const gchar *host,
				  const gchar *device_id,
				  GError **error);
	gboolean (*append_audit)(UsbpassStore *self, const UsbpassAuditEntry *entry, GError **error);
	GPtrArray *(*list_audit)(UsbpassStore *self,
				 const gchar *host,
				 gint64 after_id,
				 guint limit,
				 GError **error);
	gboolean (*add_token)(UsbpassStore *self, const UsbpassToken *token, GError **error);
	UsbpassToken *(*lookup_token)(UsbpassStore *self, const gchar *secret_hash, GError **error);
	GPtrArray *(*list_tokens)(UsbpassStore *self, GError **error);
	gboolean (*revoke_token)(UsbpassStore *self, const gchar *name, GError **error);
	gboolean (*touch_token)(UsbpassStore *self, const gchar *name, gint64 used_usec, GError **error);
	/* claim and transition, fenced (see the top of this file); the unfenced
	 * usbpass_store_claim_device() and usbpass_store_transition() call them */
	gboolean (*claim_device_lease)(UsbpassStore *self,
				       const gchar *host,
				       const gchar *device_id,
				       const gchar *instance_uuid,
				       const gchar *instance_name,
				       guint64 *generation,
				       GError **error);
	gboolean (*transition_lease)(UsbpassStore *self,
				     const gchar *host,
				     const gchar *device_id,
				     guint64 generation,
				     UsbpassDeviceState from,
				     UsbpassDeviceState to,
				     const gchar *instance_uuid,
				     const gchar *instance_name,
				     const gchar *error_message,
				     guint64 *new_generation,
				     GError **error);
};

gboolean
usbpass_store_upsert_device(UsbpassStore *self, const UsbpassStoreDevice *device, GError **error)
    USBPASS_NONNULL(1, 2);
/* Returns: (transfer full): the row, or NULL with USBPASS_ERROR_NOT_FOUND */
UsbpassStoreDevice *
usbpass_store_get_device(UsbpassStore *self, const gchar *host, const gchar *device_id, GError **error)
    G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 3);
/* Returns: (transfer container) (element-type UsbpassStoreDevice): ordered by host, device_id */
GPtrArray *
usbpass_store_list_devices(UsbpassStore *self, const gchar *host, GError **error)
    G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* available or failed -> attaching for @instance_uuid; failed only when it
 * failed for the same instance (a retry) or was released */
gboolean
usbpass_store_claim_device(UsbpassStore *self,
			   const gchar *host,
			   const gchar *device_id,
			   const gchar *instance_uuid,
			   const gchar *instance_name,
			   GError **error) USBPASS_NONNULL(1, 2, 3, 4);
/* compare-and-set of the state: BUSY when the row is no longer in @from,
 * INVALID_DATA for a move usbpass_device_state_can_transition() refuses (any
 * move to "attaching": that is claim's) or a non-available state without an
 * instance. @to "available" always clears the assignment (@instance_uuid must
 * be NULL then); otherwise @instance_uuid NULL keeps the row's instance, and
 * @instance_name NULL keeps its name unless the instance changes.
 * @error_message replaces the row's error (NULL clears it), sanitised to one
 * line of at most USBPASS_STORE_MESSAGE_MAX bytes */
gboolean
usbpass_store_transition(UsbpassStore *self,
			 const gchar *host,
			 const gchar *device_id,
			 UsbpassDeviceState from,
			 UsbpassDeviceState to,
			 const gchar *instance_uuid,
			 const gchar *instance_name,
			 const gchar *error_message,
			 GError **error) USBPASS_NONNULL(1, 2, 3);
/* claim_device that also returns the generation of the new lease (>= 1) */
gboolean
usbpass_store_claim_device_lease(UsbpassStore *self,
				 const gchar *host,
				 const gchar *device_id,
				 const gchar *instance_uuid,
				 const gchar *instance_name,
				 guint64 *generation,
				 GError **error) USBPASS_NONNULL(1, 2, 3, 4);
/* transition, only while the row is still the lease @generation (else BUSY,
 * naming both generations); @new_generation: the row's generation after the
 * move (one more when the instance changed) */
gboolean
usbpass_store_transition_lease(UsbpassStore *self,
			       const gchar *host,
			       const gchar *device_id,
			       guint64 generation,
			       UsbpassDeviceState from,
			       UsbpassDeviceState to,
			       const gchar *instance_uuid,
			       const gchar *instance_name,
			       const gchar *error_message,
			       guint64 *new_generation,
			       GError **error) USBPASS_NONNULL(1, 2, 3);
gboolean
usbpass_store_set_present(UsbpassStore *self,
			  const gchar *host,
			  const gchar *device_id,
			  gboolean present,
			  GError **error) USBPASS_NONNULL(1, 2, 3);
/* removes a row in state available; USBPASS_ERROR_IN_USE otherwise */
gboolean
usbpass_store_delete_device(UsbpassStore *self, const gchar *host, const gchar *device_id, GError **error)
    USBPASS_NONNULL(1, 2, 3);
gboolean
usbpass_store_append_audit(UsbpassStore *self, const UsbpassAuditEntry *entry, GError **error)
    USBPASS_NONNULL(1, 2);
/* Returns: (transfer container) (element-type UsbpassAuditEntry): newest first,
 * entries with id > @after_id, at most @limit (0: USBPASS_STORE_AUDIT_LIMIT;
 * larger than USBPASS_STORE_AUDIT_LIMIT_MAX: that many). append_audit needs
 * host, actor, action and outcome (INVALID_DATA otherwise) and keeps a bounded
 * number of the newest entries */
GPtrArray *
usbpass_store_list_audit(UsbpassStore *self, const gchar *host, gint64 after_id, guint limit, GError **error)
    G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

/* tokens: names are unique (INVALID_DATA when taken), so are secret hashes;
 * at most USBPASS_STORE_TOKENS_MAX; lookup, revoke and touch give NOT_FOUND for
 * unknown tokens; touch only moves last_used_usec forward; list never contains
 * secrets (only hashes) */
gboolean
usbpass_store_add_token(UsbpassStore *self, const UsbpassToken *token, GError **error) USBPASS_NONNULL(1, 2);
UsbpassToken *
usbpass_store_lookup_token(UsbpassStore *self, const gchar *secret_hash, GError **error)
    G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer container) (element-type UsbpassToken): ordered by name */
GPtrArray *
usbpass_store_list_tokens(UsbpassStore *self, GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gboolean
usbpass_store_revoke_token(UsbpassStore *self, const gchar *name, GError **error) USBPASS_NONNULL(1, 2);
gboolean
usbpass_store_touch_token(UsbpassStore *self, const gchar *name, gint64 used_usec, GError **error)
    USBPASS_NONNULL(1, 2);

G_END_DECLS
