/*
 * usbpass-api-refusals.h: which refused requests the audit log gets one by one
 *
 * A flood of bad requests must not become a flood of audit rows. A window
 * opens at the first refusal; in it the first max_per_window refusals are
 * written one by one (usbpass_api_refusals_admit() says TRUE) and the rest
 * only counted. When the window ends, a timer calls the summary function once
 * with that count: the summary is written when its minute ends, not at a next
 * refusal that may never come. A window without a count left out ends
 * silently. The timer runs in the main context that was thread-default at
 * creation; main-loop thread only.
 */
#pragma once

#include "usbpass-common.h"

G_BEGIN_DECLS

/**
 * UsbpassApiRefusalsSummaryFunc:
 * @suppressed: how many refusals of the window were not admitted, at least 1
 * @user_data: what was passed to usbpass_api_refusals_new()
 */
typedef void (*UsbpassApiRefusalsSummaryFunc)(guint suppressed, gpointer user_data);

typedef struct _UsbpassApiRefusals UsbpassApiRefusals;

UsbpassApiRefusals *
usbpass_api_refusals_new(guint window_ms,
                         guint max_per_window,
                         UsbpassApiRefusalsSummaryFunc func,
                         gpointer user_data) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(3);
gboolean
usbpass_api_refusals_admit(UsbpassApiRefusals *self) USBPASS_NONNULL(1);
void
usbpass_api_refusals_flush(UsbpassApiRefusals *self) USBPASS_NONNULL(1);
void
usbpass_api_refusals_free(UsbpassApiRefusals *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassApiRefusals, usbpass_api_refusals_free)

G_END_DECLS
