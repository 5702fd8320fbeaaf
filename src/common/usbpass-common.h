/*
 * usbpass-common.h: attributes shared by every module
 *
 * Header-only; GLib only.
 */
#pragma once

#include <glib.h>

/* arguments that must never be NULL; like fwupd's G_GNUC_NON_NULL */
#define USBPASS_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
