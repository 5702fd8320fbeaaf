/*
 * usbpass-device-state.c: the states of a row of host_usb_devices
 */
#define G_LOG_DOMAIN "UsbpassStore"

#include "config.h"

#include "usbpass-device-state.h"

/* the names are stored in the database and shown by the API: never rename one */
static const gchar *const state_names[USBPASS_DEVICE_STATE_LAST] = {
    [USBPASS_DEVICE_STATE_AVAILABLE] = "available",
    [USBPASS_DEVICE_STATE_ATTACHING] = "attaching",
    [USBPASS_DEVICE_STATE_ATTACHED] = "attached",
    [USBPASS_DEVICE_STATE_DETACHING] = "detaching",
    [USBPASS_DEVICE_STATE_FAILED] = "failed",
    [USBPASS_DEVICE_STATE_MISSING] = "missing",
};

/**
 * usbpass_device_state_to_string:
 * @state: a #UsbpassDeviceState
 *
 * Returns: the stable name of @state, e.g. "attached"; "unknown" for an invalid value
 */
const gchar *
usbpass_device_state_to_string(UsbpassDeviceState state)
{
	if ((guint)state >= USBPASS_DEVICE_STATE_LAST)
		return "unknown";
	return state_names[state];
}

/**
 * usbpass_device_state_from_string:
 * @str: (nullable): a name as returned by usbpass_device_state_to_string()
 *
 * Returns: the state, or %USBPASS_DEVICE_STATE_LAST for an unknown name
 */
UsbpassDeviceState
usbpass_device_state_from_string(const gchar *str)
{
	if (str == NULL)
		return USBPASS_DEVICE_STATE_LAST;
	for (guint i = 0; i < USBPASS_DEVICE_STATE_LAST; i++) {
		if (g_strcmp0(str, state_names[i]) == 0)
			return (UsbpassDeviceState)i;
	}
	return USBPASS_DEVICE_STATE_LAST;
}

#define A USBPASS_DEVICE_STATE_AVAILABLE
#define I USBPASS_DEVICE_STATE_ATTACHING
#define T USBPASS_DEVICE_STATE_ATTACHED
#define D USBPASS_DEVICE_STATE_DETACHING
#define F USBPASS_DEVICE_STATE_FAILED
#define M USBPASS_DEVICE_STATE_MISSING

/* docs/states.md explains who makes each move and when; a move to the same
 * state refreshes the instance name or the error of a settled row */
static const gboolean transitions[USBPASS_DEVICE_STATE_LAST][USBPASS_DEVICE_STATE_LAST] = {
    /* reconcile imports a hostdev found in an instance's definition */
    [A] = {[T] = TRUE, [M] = TRUE},
    /* attach succeeded, failed, or reconcile rolled back a crashed attach
     * (to missing: a crashed re-attach keeps its assignment) */
    [I] = {[T] = TRUE, [F] = TRUE, [A] = TRUE, [M] = TRUE},
    /* detach, unplug, failed re-attach, release (instance undefined), and
     * re-attach at a new address, which keeps the assignment */
    [T] = {[D] = TRUE, [M] = TRUE, [F] = TRUE, [A] = TRUE, [T] = TRUE, [I] = TRUE},
    /* detach succeeded, failed, or reconcile found it still attached */
    [D] = {[A] = TRUE, [F] = TRUE, [T] = TRUE},
    /* release, reconcile found it attached after all, unplug */
    [F] = {[D] = TRUE, [A] = TRUE, [T] = TRUE, [M] = TRUE, [F] = TRUE},
    /* re-plug re-attached (through attaching, so a crash in the middle is
     * reconciled like any attach) or failed to, detach or release while unplugged */
    [M] = {[T] = TRUE, [F] = TRUE, [D] = TRUE, [A] = TRUE, [M] = TRUE, [I] = TRUE},
};

#undef A
#undef I
#undef T
#undef D
#undef F
#undef M

/**
 * usbpass_device_state_can_transition:
 * @from: the state a row is in
 * @to: the state wanted
 *
 * "attaching" is reached from "available" or "failed" only by
 * usbpass_store_claim_device(); a transition reaches it only from "attached"
 * or "missing", for a re-attach that keeps the row's instance.
 *
 * Returns: %TRUE when usbpass_store_transition() accepts the move
 */
gboolean
usbpass_device_state_can_transition(UsbpassDeviceState from, UsbpassDeviceState to)
{
	if ((guint)from >= USBPASS_DEVICE_STATE_LAST || (guint)to >= USBPASS_DEVICE_STATE_LAST)
		return FALSE;
	return transitions[from][to];
}
