/*
 * usbpass-api-stream.c: the stream of one API connection, as libsoup sees it
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include <string.h>

#include "usbpass-api-stream.h"

/* the input and output halves: pollable pass-throughs to the base streams */

#define USBPASS_TYPE_API_STREAM_INPUT (usbpass_api_stream_input_get_type())
G_DECLARE_FINAL_TYPE(UsbpassApiStreamInput,
                     usbpass_api_stream_input,
                     USBPASS,
                     API_STREAM_INPUT,
                     GInputStream)
#define USBPASS_TYPE_API_STREAM_OUTPUT (usbpass_api_stream_output_get_type())
G_DECLARE_FINAL_TYPE(UsbpassApiStreamOutput,
                     usbpass_api_stream_output,
                     USBPASS,
                     API_STREAM_OUTPUT,
                     GOutputStream)

struct _UsbpassApiStream {
	GIOStream parent_instance;
	GIOStream *base;
	GInputStream *input;   /* UsbpassApiStreamInput */
	GOutputStream *output; /* UsbpassApiStreamOutput */
	UsbpassApiStreamHooks hooks;
	gpointer user_data;
	gboolean dormant; /* the peer is gone and libsoup was not told */
	gboolean closed;
};

struct _UsbpassApiStreamInput {
	GInputStream parent_instance;
	UsbpassApiStream *owner; /* not a reference: the owner outlives its halves' use */
	GInputStream *base;
};

struct _UsbpassApiStreamOutput {
	GOutputStream parent_instance;
	GOutputStream *base;
};

static void
usbpass_api_stream_input_pollable_iface_init(GPollableInputStreamInterface *iface);
static void
usbpass_api_stream_output_pollable_iface_init(GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE(UsbpassApiStream, usbpass_api_stream, G_TYPE_IO_STREAM)
G_DEFINE_TYPE_WITH_CODE(UsbpassApiStreamInput,
                        usbpass_api_stream_input,
                        G_TYPE_INPUT_STREAM,
                        G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM,
                                              usbpass_api_stream_input_pollable_iface_init))
G_DEFINE_TYPE_WITH_CODE(UsbpassApiStreamOutput,
                        usbpass_api_stream_output,
                        G_TYPE_OUTPUT_STREAM,
                        G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_OUTPUT_STREAM,
                                              usbpass_api_stream_output_pollable_iface_init))

/* input */

/* after a read of the base: tell the owner, maybe hide the end of the peer */
static gssize
usbpass_api_stream_input_filter(UsbpassApiStreamInput *self, gssize result, GError **error)
{
	UsbpassApiStream *owner = self->owner;

	if (owner == NULL)
		return result;
	if (result > 0) {
		if (owner->hooks.activity != NULL)
			owner->hooks.activity(owner->user_data);
		return result;
	}
	if (result < 0 && error != NULL && *error != NULL &&
	    g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return result;
	if (result < 0 && error != NULL && *error != NULL &&
	    g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return result;
	/* end of stream or a reset */
	if (owner->hooks.gone == NULL || !owner->hooks.gone(owner->user_data))
		return result;
	owner->dormant = TRUE;
	g_clear_error(error);
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "the peer has gone");
	return -1;
}

static gboolean
usbpass_api_stream_input_is_dormant(UsbpassApiStreamInput *self)
{
	return self->owner != NULL && self->owner->dormant;
}

static gssize
usbpass_api_stream_input_read(GInputStream *stream,
                              void *buffer,
                              gsize count,
                              GCancellable *cancellable,
                              GError **error)
{
	UsbpassApiStreamInput *self = USBPASS_API_STREAM_INPUT(stream);
	g_autoptr(GError) error_local = NULL;
	gssize result;

	if (usbpass_api_stream_input_is_dormant(self)) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "the peer has gone");
		return -1;
	}
	result = g_input_stream_read(self->base, buffer, count, cancellable, &error_local);
	result = usbpass_api_stream_input_filter(self, result, &error_local);
	if (result < 0)
		g_propagate_error(error, g_steal_pointer(&error_local));
	return result;
}

static gboolean
usbpass_api_stream_input_close(GInputStream *stream, GCancellable *cancellable, GError **error)
{
	/* the base belongs to the base GIOStream, closed with UsbpassApiStream */
	return TRUE;
}

static gboolean
usbpass_api_stream_input_can_poll(GPollableInputStream *stream)
{
	UsbpassApiStreamInput *self = USBPASS_API_STREAM_INPUT(stream);
	return G_IS_POLLABLE_INPUT_STREAM(self->base) &&
	       g_pollable_input_stream_can_poll(G_POLLABLE_INPUT_STREAM(self->base));
}

static gboolean
usbpass_api_stream_input_is_readable(GPollableInputStream *stream)
{
	UsbpassApiStreamInput *self = USBPASS_API_STREAM_INPUT(stream);
	if (usbpass_api_stream_input_is_dormant(self))
		return FALSE;
	return g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(self->base));
}

static GSource *
usbpass_api_stream_input_create_source(GPollableInputStream *stream, GCancellable *cancellable)
{
	UsbpassApiStreamInput *self = USBPASS_API_STREAM_INPUT(stream);
	g_autoptr(GSource) base_source = NULL;

	/* a dormant stream never becomes readable: a source without a child */
	if (usbpass_api_stream_input_is_dormant(self))
		return g_pollable_source_new_full(stream, NULL, cancellable);
	base_source =
	  g_pollable_input_stream_create_source(G_POLLABLE_INPUT_STREAM(self->base), NULL);
	return g_pollable_source_new_full(stream, base_source, cancellable);
}

static gssize
usbpass_api_stream_input_read_nonblocking(GPollableInputStream *stream,
                                          void *buffer,
                                          gsize count,
                                          GError **error)
{
	UsbpassApiStreamInput *self = USBPASS_API_STREAM_INPUT(stream);
	g_autoptr(GError) error_local = NULL;
	gssize result;

	if (usbpass_api_stream_input_is_dormant(self)) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "the peer has gone");
		return -1;
	}
	result = g_pollable_input_stream_read_nonblocking(
	  G_POLLABLE_INPUT_STREAM(self->base), buffer, count, NULL, &error_local);
	result = usbpass_api_stream_input_filter(self, result, &error_local);
	if (result < 0)
		g_propagate_error(error, g_steal_pointer(&error_local));
	return result;
}

static void
usbpass_api_stream_input_pollable_iface_init(GPollableInputStreamInterface *iface)
{
	iface->can_poll = usbpass_api_stream_input_can_poll;
	iface->is_readable = usbpass_api_stream_input_is_readable;
	iface->create_source = usbpass_api_stream_input_create_source;
	iface->read_nonblocking = usbpass_api_stream_input_read_nonblocking;
}

static void
usbpass_api_stream_input_finalize(GObject *object)
{
	UsbpassApiStreamInput *self = USBPASS_API_STREAM_INPUT(object);
	g_clear_object(&self->base);
	G_OBJECT_CLASS(usbpass_api_stream_input_parent_class)->finalize(object);
}

static void
usbpass_api_stream_input_init(UsbpassApiStreamInput *self)
{
}

static void
usbpass_api_stream_input_class_init(UsbpassApiStreamInputClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GInputStreamClass *input_class = G_INPUT_STREAM_CLASS(klass);
	object_class->finalize = usbpass_api_stream_input_finalize;
	input_class->read_fn = usbpass_api_stream_input_read;
	input_class->close_fn = usbpass_api_stream_input_close;
}

/* output */

static gssize
usbpass_api_stream_output_write(GOutputStream *stream,
                                const void *buffer,
                                gsize count,
                                GCancellable *cancellable,
                                GError **error)
{
	UsbpassApiStreamOutput *self = USBPASS_API_STREAM_OUTPUT(stream);
	return g_output_stream_write(self->base, buffer, count, cancellable, error);
}

static gboolean
usbpass_api_stream_output_flush(GOutputStream *stream, GCancellable *cancellable, GError **error)
{
	UsbpassApiStreamOutput *self = USBPASS_API_STREAM_OUTPUT(stream);
	return g_output_stream_flush(self->base, cancellable, error);
}

static gboolean
usbpass_api_stream_output_close(GOutputStream *stream, GCancellable *cancellable, GError **error)
{
	return TRUE;
}

static gboolean
usbpass_api_stream_output_can_poll(GPollableOutputStream *stream)
{
	UsbpassApiStreamOutput *self = USBPASS_API_STREAM_OUTPUT(stream);
	return G_IS_POLLABLE_OUTPUT_STREAM(self->base) &&
	       g_pollable_output_stream_can_poll(G_POLLABLE_OUTPUT_STREAM(self->base));
}

static gboolean
usbpass_api_stream_output_is_writable(GPollableOutputStream *stream)
{
	UsbpassApiStreamOutput *self = USBPASS_API_STREAM_OUTPUT(stream);
	return g_pollable_output_stream_is_writable(G_POLLABLE_OUTPUT_STREAM(self->base));
}

static GSource *
usbpass_api_stream_output_create_source(GPollableOutputStream *stream, GCancellable *cancellable)
{
	UsbpassApiStreamOutput *self = USBPASS_API_STREAM_OUTPUT(stream);
	g_autoptr(GSource) base_source =
	  g_pollable_output_stream_create_source(G_POLLABLE_OUTPUT_STREAM(self->base), NULL);
	return g_pollable_source_new_full(stream, base_source, cancellable);
}

static gssize
usbpass_api_stream_output_write_nonblocking(GPollableOutputStream *stream,
                                            const void *buffer,
                                            gsize count,
                                            GError **error)
{
	UsbpassApiStreamOutput *self = USBPASS_API_STREAM_OUTPUT(stream);
	return g_pollable_output_stream_write_nonblocking(
	  G_POLLABLE_OUTPUT_STREAM(self->base), buffer, count, NULL, error);
}

static void
usbpass_api_stream_output_pollable_iface_init(GPollableOutputStreamInterface *iface)
{
	iface->can_poll = usbpass_api_stream_output_can_poll;
	iface->is_writable = usbpass_api_stream_output_is_writable;
	iface->create_source = usbpass_api_stream_output_create_source;
	iface->write_nonblocking = usbpass_api_stream_output_write_nonblocking;
}

static void
usbpass_api_stream_output_finalize(GObject *object)
{
	UsbpassApiStreamOutput *self = USBPASS_API_STREAM_OUTPUT(object);
	g_clear_object(&self->base);
	G_OBJECT_CLASS(usbpass_api_stream_output_parent_class)->finalize(object);
}

static void
usbpass_api_stream_output_init(UsbpassApiStreamOutput *self)
{
}

static void
usbpass_api_stream_output_class_init(UsbpassApiStreamOutputClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS(klass);
	object_class->finalize = usbpass_api_stream_output_finalize;
	output_class->write_fn = usbpass_api_stream_output_write;
	output_class->flush = usbpass_api_stream_output_flush;
	output_class->close_fn = usbpass_api_stream_output_close;
}

/* the stream */

static GInputStream *
usbpass_api_stream_get_input_stream(GIOStream *stream)
{
	return USBPASS_API_STREAM(stream)->input;
}

static GOutputStream *
usbpass_api_stream_get_output_stream(GIOStream *stream)
{
	return USBPASS_API_STREAM(stream)->output;
}

static gboolean
usbpass_api_stream_close(GIOStream *stream, GCancellable *cancellable, GError **error)
{
	UsbpassApiStream *self = USBPASS_API_STREAM(stream);
	gboolean ok = g_io_stream_close(self->base, cancellable, error);

	if (!self->closed) {
		self->closed = TRUE;
		if (self->hooks.closed != NULL)
			self->hooks.closed(self->user_data);
	}
	return ok;
}

/* closing a socket does not block: close in place, not in a worker thread as
 * GIOStream's default would, so that the hook runs in the main loop */
static void
usbpass_api_stream_close_async(GIOStream *stream,
                               int io_priority,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(stream, cancellable, callback, user_data);
	g_autoptr(GError) error_local = NULL;

	g_task_set_source_tag(task, usbpass_api_stream_close_async);
	if (!usbpass_api_stream_close(stream, cancellable, &error_local))
		g_task_return_error(task, g_steal_pointer(&error_local));
	else
		g_task_return_boolean(task, TRUE);
}

static gboolean
usbpass_api_stream_close_finish(GIOStream *stream, GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}

static void
usbpass_api_stream_finalize(GObject *object)
{
	UsbpassApiStream *self = USBPASS_API_STREAM(object);
	/* libsoup's filter stream may keep the input half a little longer */
	if (self->input != NULL)
		USBPASS_API_STREAM_INPUT(self->input)->owner = NULL;
	g_clear_object(&self->input);
	g_clear_object(&self->output);
	g_clear_object(&self->base);
	G_OBJECT_CLASS(usbpass_api_stream_parent_class)->finalize(object);
}

static void
usbpass_api_stream_init(UsbpassApiStream *self)
{
}

static void
usbpass_api_stream_class_init(UsbpassApiStreamClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GIOStreamClass *stream_class = G_IO_STREAM_CLASS(klass);
	object_class->finalize = usbpass_api_stream_finalize;
	stream_class->get_input_stream = usbpass_api_stream_get_input_stream;
	stream_class->get_output_stream = usbpass_api_stream_get_output_stream;
	stream_class->close_fn = usbpass_api_stream_close;
	stream_class->close_async = usbpass_api_stream_close_async;
	stream_class->close_finish = usbpass_api_stream_close_finish;
}

/**
 * usbpass_api_stream_new:
 * @base: the accepted connection; its streams must be pollable
 * @hooks: what to tell the owner; copied
 * @user_data: passed to the hooks
 *
 * Returns: (transfer full): a stream for soup_server_accept_iostream()
 */
UsbpassApiStream *
usbpass_api_stream_new(GIOStream *base, const UsbpassApiStreamHooks *hooks, gpointer user_data)
{
	UsbpassApiStream *self;
	UsbpassApiStreamInput *input;
	UsbpassApiStreamOutput *output;

	g_return_val_if_fail(G_IS_IO_STREAM(base), NULL);
	g_return_val_if_fail(hooks != NULL, NULL);

	self = g_object_new(USBPASS_TYPE_API_STREAM, NULL);
	self->base = g_object_ref(base);
	self->hooks = *hooks;
	self->user_data = user_data;
	input = g_object_new(USBPASS_TYPE_API_STREAM_INPUT, NULL);
	input->owner = self;
	input->base = g_object_ref(g_io_stream_get_input_stream(base));
	self->input = G_INPUT_STREAM(input);
	output = g_object_new(USBPASS_TYPE_API_STREAM_OUTPUT, NULL);
	output->base = g_object_ref(g_io_stream_get_output_stream(base));
	self->output = G_OUTPUT_STREAM(output);
	return self;
}

/**
 * usbpass_api_stream_clear_hooks:
 * @self: the stream
 *
 * No hook runs after this; the stream passes everything through.
 */
void
usbpass_api_stream_clear_hooks(UsbpassApiStream *self)
{
	g_return_if_fail(USBPASS_IS_API_STREAM(self));
	memset(&self->hooks, 0, sizeof(self->hooks));
	self->user_data = NULL;
}
