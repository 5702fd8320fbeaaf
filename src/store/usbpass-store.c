/*
 * usbpass-store.c: the store interface, its records and their names
 */
#define G_LOG_DOMAIN "UsbpassStore"

#include "config.h"

#include "usbpass-error.h"
#include "usbpass-store.h"

G_DEFINE_INTERFACE(UsbpassStore, usbpass_store, G_TYPE_OBJECT)

static void
usbpass_store_default_init(UsbpassStoreInterface *iface)
{
}

/* records */

/**
 * usbpass_store_device_new:
 *
 * Returns: (transfer full): an empty row in state "available"
 */
UsbpassStoreDevice *
usbpass_store_device_new(void)
{
	UsbpassStoreDevice *self = g_new0(UsbpassStoreDevice, 1);
	self->state = USBPASS_DEVICE_STATE_AVAILABLE;
	return self;
}

/**
 * usbpass_store_device_copy:
 * @self: a row
 *
 * Returns: (transfer full): a deep copy of @self
 */
UsbpassStoreDevice *
usbpass_store_device_copy(const UsbpassStoreDevice *self)
{
	UsbpassStoreDevice *copy;

	g_return_val_if_fail(self != NULL, NULL);

	copy = g_new0(UsbpassStoreDevice, 1);
	*copy = *self;
	copy->host = g_strdup(self->host);
	copy->device_id = g_strdup(self->device_id);
	copy->name = g_strdup(self->name);
	copy->serial = g_strdup(self->serial);
	copy->port = g_strdup(self->port);
	copy->instance_uuid = g_strdup(self->instance_uuid);
	copy->instance_name = g_strdup(self->instance_name);
	copy->error = g_strdup(self->error);
	return copy;
}

/**
 * usbpass_store_device_free:
 * @self: (nullable): a row
 */
void
usbpass_store_device_free(UsbpassStoreDevice *self)
{
	if (self == NULL)
		return;
	g_free(self->host);
	g_free(self->device_id);
	g_free(self->name);
	g_free(self->serial);
	g_free(self->port);
	g_free(self->instance_uuid);
	g_free(self->instance_name);
	g_free(self->error);
	g_free(self);
}

/**
 * usbpass_audit_entry_new:
 *
 * Returns: (transfer full): an empty audit entry
 */
UsbpassAuditEntry *
usbpass_audit_entry_new(void)
{
	return g_new0(UsbpassAuditEntry, 1);
}

/**
 * usbpass_audit_entry_copy:
 * @self: an audit entry
 *
 * Returns: (transfer full): a deep copy of @self
 */
UsbpassAuditEntry *
usbpass_audit_entry_copy(const UsbpassAuditEntry *self)
{
	UsbpassAuditEntry *copy;

	g_return_val_if_fail(self != NULL, NULL);

	copy = g_new0(UsbpassAuditEntry, 1);
	copy->id = self->id;
	copy->created_usec = self->created_usec;
	copy->host = g_strdup(self->host);
	copy->actor = g_strdup(self->actor);
	copy->action = g_strdup(self->action);
	copy->device_id = g_strdup(self->device_id);
	copy->instance_uuid = g_strdup(self->instance_uuid);
	copy->outcome = g_strdup(self->outcome);
	copy->message = g_strdup(self->message);
	return copy;
}

/**
 * usbpass_audit_entry_free:
 * @self: (nullable): an audit entry
 */
void
usbpass_audit_entry_free(UsbpassAuditEntry *self)
{
	if (self == NULL)
		return;
	g_free(self->host);
	g_free(self->actor);
	g_free(self->action);
	g_free(self->device_id);
	g_free(self->instance_uuid);
	g_free(self->outcome);
	g_free(self->message);
	g_free(self);
}

/* the names are stored in the database and shown by the API: never rename one */
static const gchar *const role_names[USBPASS_TOKEN_ROLE_LAST] = {
    [USBPASS_TOKEN_ROLE_READER] = "reader",
    [USBPASS_TOKEN_ROLE_OPERATOR] = "operator",
    [USBPASS_TOKEN_ROLE_ADMIN] = "admin",
};

/**
 * usbpass_token_role_to_string:
 * @role: a #UsbpassTokenRole
 *
 * Returns: the stable name of @role, e.g. "operator"; "unknown" for an invalid value
 */
const gchar *
usbpass_token_role_to_string(UsbpassTokenRole role)
{
	if ((guint)role >= USBPASS_TOKEN_ROLE_LAST)
		return "unknown";
	return role_names[role];
}

/**
 * usbpass_token_role_from_string:
 * @str: (nullable): a name as returned by usbpass_token_role_to_string()
 *
 * Returns: the role, or %USBPASS_TOKEN_ROLE_LAST for an unknown name
 */
UsbpassTokenRole
usbpass_token_role_from_string(const gchar *str)
{
	if (str == NULL)
		return USBPASS_TOKEN_ROLE_LAST;
	for (guint i = 0; i < USBPASS_TOKEN_ROLE_LAST; i++) {
		if (g_strcmp0(str, role_names[i]) == 0)
			return (UsbpassTokenRole)i;
	}
	return USBPASS_TOKEN_ROLE_LAST;
}

/**
 * usbpass_token_new:
 *
 * Returns: (transfer full): an empty token with the reader role
 */
UsbpassToken *
usbpass_token_new(void)
{
	UsbpassToken *self = g_new0(UsbpassToken, 1);
	self->role = USBPASS_TOKEN_ROLE_READER;
	return self;
}

/**
 * usbpass_token_copy:
 * @self: a token
 *
 * Returns: (transfer full): a deep copy of @self
 */
UsbpassToken *
usbpass_token_copy(const UsbpassToken *self)
{
	UsbpassToken *copy;

	g_return_val_if_fail(self != NULL, NULL);

	copy = g_new0(UsbpassToken, 1);
	copy->name = g_strdup(self->name);
	copy->role = self->role;
	copy->secret_hash = g_strdup(self->secret_hash);
	copy->created_usec = self->created_usec;
	copy->last_used_usec = self->last_used_usec;
	return copy;
}

/**
 * usbpass_token_free:
 * @self: (nullable): a token
 */
void
usbpass_token_free(UsbpassToken *self)
{
	if (self == NULL)
		return;
	g_free(self->name);
	g_free(self->secret_hash);
	g_free(self);
}

/* dispatch */

static gboolean
usbpass_store_not_supported(UsbpassStore *self, const gchar *method, GError **error)
{
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_NOT_SUPPORTED,
		    "store '%s' does not implement %s",
		    G_OBJECT_TYPE_NAME(self),
		    method);
	return FALSE;
}

/**
 * usbpass_store_upsert_device:
 * @self: a #UsbpassStore
 * @device: the inventory's view of a device; host and device_id are required
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a bad record
 *
 * Inserts the row (state available, no instance, timestamps from @device or
 * now) or refreshes its name, address, vendor and product ids, serial, port
 * and presence. Never touches state, instance, error or timestamps of a row.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_store_upsert_device(UsbpassStore *self, const UsbpassStoreDevice *device, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(device != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->upsert_device == NULL)
		return usbpass_store_not_supported(self, "upsert_device", error);
	return iface->upsert_device(self, device, error);
}

/**
 * usbpass_store_get_device:
 * @self: a #UsbpassStore
 * @host: host name
 * @device_id: stable identity
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when there is no such row
 *
 * Returns: (transfer full): the row, or %NULL
 */
UsbpassStoreDevice *
usbpass_store_get_device(UsbpassStore *self,
			 const gchar *host,
			 const gchar *device_id,
			 GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), NULL);
	g_return_val_if_fail(host != NULL, NULL);
	g_return_val_if_fail(device_id != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->get_device == NULL) {
		usbpass_store_not_supported(self, "get_device", error);
		return NULL;
	}
	return iface->get_device(self, host, device_id, error);
}

/**
 * usbpass_store_list_devices:
 * @self: a #UsbpassStore
 * @host: (nullable): only the rows of this host; %NULL for every host
 * @error: (nullable): the store's failure
 *
 * Returns: (transfer container) (element-type UsbpassStoreDevice): ordered by
 * host, then device_id; %NULL on failure
 */
GPtrArray *
usbpass_store_list_devices(UsbpassStore *self, const gchar *host, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->list_devices == NULL) {
		usbpass_store_not_supported(self, "list_devices", error);
		return NULL;
	}
	return iface->list_devices(self, host, error);
}

/**
 * usbpass_store_claim_device:
 * @self: a #UsbpassStore
 * @host: host name
 * @device_id: stable identity
 * @instance_uuid: the instance that wants the device
 * @instance_name: (nullable): its name, for display
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND (no such row),
 *   #USBPASS_ERROR_BUSY (being attached or detached right now),
 *   #USBPASS_ERROR_IN_USE (assigned, to another instance or already to this one)
 *
 * Moves the row from available, or from failed for the same instance (a
 * retry), to attaching for @instance_uuid, clearing its error. Atomic: of many
 * concurrent callers exactly one succeeds.
 *
 * Returns: %TRUE when this caller holds the claim
 */
gboolean
usbpass_store_claim_device(UsbpassStore *self,
			   const gchar *host,
			   const gchar *device_id,
			   const gchar *instance_uuid,
			   const gchar *instance_name,
			   GError **error)
{
	/* the unfenced claim is the fenced one whose generation nobody keeps */
	return usbpass_store_claim_device_lease(
	  self, host, device_id, instance_uuid, instance_name, NULL, error);
}

/**
 * usbpass_store_transition:
 * @self: a #UsbpassStore
 * @host: host name
 * @device_id: stable identity
 * @from: the state the caller believes the row is in
 * @to: the new state; usbpass_device_state_can_transition() must allow it
 * @instance_uuid: (nullable): the instance to record; %NULL keeps the row's
 *   (and is required when @to is available, which always clears it)
 * @instance_name: (nullable): its name; %NULL keeps the row's name unless the
 *   instance changes
 * @error_message: (nullable): the row's new error; %NULL clears it
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND (no such row),
 *   #USBPASS_ERROR_BUSY (the row is no longer in @from),
 *   #USBPASS_ERROR_INVALID_DATA (a move the state machine does not have, or a
 *   state other than available without an instance)
 *
 * Compare-and-set of the row's state, in one transaction.
 *
 * Returns: %TRUE when the row moved
 */
gboolean
usbpass_store_transition(UsbpassStore *self,
			 const gchar *host,
			 const gchar *device_id,
			 UsbpassDeviceState from,
			 UsbpassDeviceState to,
			 const gchar *instance_uuid,
			 const gchar *instance_name,
			 const gchar *error_message,
			 GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(host != NULL, FALSE);
	g_return_val_if_fail(device_id != NULL, FALSE);
	g_return_val_if_fail((guint)from < USBPASS_DEVICE_STATE_LAST, FALSE);
	g_return_val_if_fail((guint)to < USBPASS_DEVICE_STATE_LAST, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->transition_lease == NULL)
		return usbpass_store_not_supported(self, "transition_lease", error);
	/* generation 0 to the backend: whatever lease the row holds (the public
	 * fenced call refuses 0) */
	return iface->transition_lease(self,
				       host,
				       device_id,
				       0,
				       from,
				       to,
				       instance_uuid,
				       instance_name,
				       error_message,
				       NULL,
				       error);
}

/**
 * usbpass_store_claim_device_lease:
 * @self: a #UsbpassStore
 * @host: host name
 * @device_id: stable identity
 * @instance_uuid: the instance that wants the device
 * @instance_name: (nullable): its name, for display
 * @generation: (out) (optional): the generation of the new lease, at least 1
 * @error: (nullable): as usbpass_store_claim_device()
 *
 * usbpass_store_claim_device() that also returns the lease's generation, for
 * the fenced transitions of usbpass_store_transition_lease().
 *
 * Returns: %TRUE when this caller holds the claim
 */
gboolean
usbpass_store_claim_device_lease(UsbpassStore *self,
				 const gchar *host,
				 const gchar *device_id,
				 const gchar *instance_uuid,
				 const gchar *instance_name,
				 guint64 *generation,
				 GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(host != NULL, FALSE);
	g_return_val_if_fail(device_id != NULL, FALSE);
	g_return_val_if_fail(instance_uuid != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->claim_device_lease == NULL)
		return usbpass_store_not_supported(self, "claim_device_lease", error);
	return iface->claim_device_lease(self,
					 host,
					 device_id,
					 instance_uuid,
					 instance_name,
					 generation,
					 error);
}

/**
 * usbpass_store_transition_lease:
 * @self: a #UsbpassStore
 * @host: host name
 * @device_id: stable identity
 * @generation: the lease the caller holds, as its claim returned it (>= 1)
 * @from: the state the caller believes the row is in
 * @to: the new state
 * @instance_uuid: (nullable): as usbpass_store_transition()
 * @instance_name: (nullable): as usbpass_store_transition()
 * @error_message: (nullable): as usbpass_store_transition()
 * @new_generation: (out) (optional): the row's generation after the move
 * @error: (nullable): as usbpass_store_transition(), and
 *   #USBPASS_ERROR_BUSY when the row is no longer the lease @generation
 *
 * usbpass_store_transition() fenced by the lease: a holder whose lease was
 * ended and given to someone else cannot move the newer lease's row.
 *
 * Returns: %TRUE when the row moved
 */
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
			       GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(host != NULL, FALSE);
	g_return_val_if_fail(device_id != NULL, FALSE);
	g_return_val_if_fail(generation > 0, FALSE);
	g_return_val_if_fail((guint)from < USBPASS_DEVICE_STATE_LAST, FALSE);
	g_return_val_if_fail((guint)to < USBPASS_DEVICE_STATE_LAST, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->transition_lease == NULL)
		return usbpass_store_not_supported(self, "transition_lease", error);
	return iface->transition_lease(self,
				       host,
				       device_id,
				       generation,
				       from,
				       to,
				       instance_uuid,
				       instance_name,
				       error_message,
				       new_generation,
				       error);
}

/**
 * usbpass_store_set_present:
 * @self: a #UsbpassStore
 * @host: host name
 * @device_id: stable identity
 * @present: plugged in now
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when there is no such row
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_store_set_present(UsbpassStore *self,
			  const gchar *host,
			  const gchar *device_id,
			  gboolean present,
			  GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(host != NULL, FALSE);
	g_return_val_if_fail(device_id != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->set_present == NULL)
		return usbpass_store_not_supported(self, "set_present", error);
	return iface->set_present(self, host, device_id, present, error);
}

/**
 * usbpass_store_delete_device:
 * @self: a #UsbpassStore
 * @host: host name
 * @device_id: stable identity
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, or #USBPASS_ERROR_IN_USE when
 *   the row is not available
 *
 * Returns: %TRUE when the row was removed
 */
gboolean
usbpass_store_delete_device(UsbpassStore *self,
			    const gchar *host,
			    const gchar *device_id,
			    GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(host != NULL, FALSE);
	g_return_val_if_fail(device_id != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->delete_device == NULL)
		return usbpass_store_not_supported(self, "delete_device", error);
	return iface->delete_device(self, host, device_id, error);
}

/**
 * usbpass_store_append_audit:
 * @self: a #UsbpassStore
 * @entry: the entry; host, actor, action and outcome are required, id is
 *   ignored and created_usec 0 means now
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a bad entry
 *
 * The log keeps a bounded number of the newest entries.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_store_append_audit(UsbpassStore *self, const UsbpassAuditEntry *entry, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(entry != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->append_audit == NULL)
		return usbpass_store_not_supported(self, "append_audit", error);
	return iface->append_audit(self, entry, error);
}

/**
 * usbpass_store_list_audit:
 * @self: a #UsbpassStore
 * @host: (nullable): only this host's entries; %NULL for all
 * @after_id: only entries with a larger id (0: all)
 * @limit: at most this many (0: %USBPASS_STORE_AUDIT_LIMIT; capped at
 *   %USBPASS_STORE_AUDIT_LIMIT_MAX)
 * @error: (nullable): the store's failure
 *
 * Returns: (transfer container) (element-type UsbpassAuditEntry): newest first
 */
GPtrArray *
usbpass_store_list_audit(UsbpassStore *self,
			 const gchar *host,
			 gint64 after_id,
			 guint limit,
			 GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->list_audit == NULL) {
		usbpass_store_not_supported(self, "list_audit", error);
		return NULL;
	}
	if (limit == 0)
		limit = USBPASS_STORE_AUDIT_LIMIT;
	limit = MIN(limit, USBPASS_STORE_AUDIT_LIMIT_MAX);
	return iface->list_audit(self, host, MAX(after_id, 0), limit, error);
}

/**
 * usbpass_store_add_token:
 * @self: a #UsbpassStore
 * @token: name ([A-Za-z0-9._-]{1,64}), role and "sha256:<64 hex>" secret hash;
 *   created_usec 0 means now
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a bad token, a name or
 *   hash already stored, or more than %USBPASS_STORE_TOKENS_MAX tokens
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_store_add_token(UsbpassStore *self, const UsbpassToken *token, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(token != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->add_token == NULL)
		return usbpass_store_not_supported(self, "add_token", error);
	return iface->add_token(self, token, error);
}

/**
 * usbpass_store_lookup_token:
 * @self: a #UsbpassStore
 * @secret_hash: "sha256:<hex>" of the secret a caller presented
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND for an unknown hash
 *
 * Returns: (transfer full): the token, or %NULL
 */
UsbpassToken *
usbpass_store_lookup_token(UsbpassStore *self, const gchar *secret_hash, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), NULL);
	g_return_val_if_fail(secret_hash != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->lookup_token == NULL) {
		usbpass_store_not_supported(self, "lookup_token", error);
		return NULL;
	}
	return iface->lookup_token(self, secret_hash, error);
}

/**
 * usbpass_store_list_tokens:
 * @self: a #UsbpassStore
 * @error: (nullable): the store's failure
 *
 * Returns: (transfer container) (element-type UsbpassToken): ordered by name
 */
GPtrArray *
usbpass_store_list_tokens(UsbpassStore *self, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->list_tokens == NULL) {
		usbpass_store_not_supported(self, "list_tokens", error);
		return NULL;
	}
	return iface->list_tokens(self, error);
}

/**
 * usbpass_store_revoke_token:
 * @self: a #UsbpassStore
 * @name: the token's name
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND for an unknown name
 *
 * Returns: %TRUE when the token was removed
 */
gboolean
usbpass_store_revoke_token(UsbpassStore *self, const gchar *name, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(name != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->revoke_token == NULL)
		return usbpass_store_not_supported(self, "revoke_token", error);
	return iface->revoke_token(self, name, error);
}

/**
 * usbpass_store_touch_token:
 * @self: a #UsbpassStore
 * @name: the token's name
 * @used_usec: when it was used, wall clock
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND for an unknown name
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_store_touch_token(UsbpassStore *self, const gchar *name, gint64 used_usec, GError **error)
{
	UsbpassStoreInterface *iface;

	g_return_val_if_fail(USBPASS_IS_STORE(self), FALSE);
	g_return_val_if_fail(name != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_STORE_GET_IFACE(self);
	if (iface->touch_token == NULL)
		return usbpass_store_not_supported(self, "touch_token", error);
	return iface->touch_token(self, name, used_usec, error);
}
