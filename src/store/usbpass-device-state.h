/*
 * usbpass-device-state.h: the states of a row of host_usb_devices
 *
 *   available --claim--> attaching --ok--> attached --detach--> detaching --ok--> available
 *                            |                 |                    |
 *                            +--fail--> failed +--unplug--> missing +--fail--> failed
 *
 * "missing" keeps the assignment of a device that was unplugged while attached;
 * "failed" keeps the instance and the hypervisor's message until the device is
 * detached (released) or attached again. docs/states.md has the full diagram.
 */
#pragma once

#include "usbpass-common.h"

G_BEGIN_DECLS

typedef enum {
	USBPASS_DEVICE_STATE_AVAILABLE,
	USBPASS_DEVICE_STATE_ATTACHING,
	USBPASS_DEVICE_STATE_ATTACHED,
	USBPASS_DEVICE_STATE_DETACHING,
	USBPASS_DEVICE_STATE_FAILED,
	USBPASS_DEVICE_STATE_MISSING,
	USBPASS_DEVICE_STATE_LAST
} UsbpassDeviceState;

const gchar *
usbpass_device_state_to_string(UsbpassDeviceState state);
/* Returns: the state, or USBPASS_DEVICE_STATE_LAST for an unknown name */
UsbpassDeviceState
usbpass_device_state_from_string(const gchar *str);
/* TRUE when usbpass_store_transition() may move a row from @from to @to (the
 * table of docs/states.md); "attaching" is reached only by a claim */
gboolean
usbpass_device_state_can_transition(UsbpassDeviceState from, UsbpassDeviceState to);

G_END_DECLS
