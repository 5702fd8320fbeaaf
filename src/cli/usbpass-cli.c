/*
 * usbpass-cli.c: the usbpass command, a client of usbpassd
 *
 * `usbpass [GLOBAL-OPTION…] COMMAND [OPTION…] [ARGUMENT…]`; docs/cli.md lists
 * every command. Exit codes: 0 success, 2 usage error, else
 * usbpass_error_to_exit_code() of the error: 1 for usbpassd unreachable, 65
 * for a reply that does not follow the API.
 */
#define G_LOG_DOMAIN "UsbpassCli"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "usbpass-cli-format.h"
#include "usbpass-cli-local.h"
#include "usbpass-client.h"
#include "usbpass-error.h"
#include "usbpass-string.h"

#define USBPASS_CLI_EXIT_UNREACHABLE 1
#define USBPASS_CLI_EXIT_USAGE       2

/* options every command accepts; parsed before and after the command name */
typedef struct {
	gchar *url;
	gchar *token;
	gchar *token_file;
	gchar *socket;
	gboolean json;
	gboolean wide;
	gboolean version;
	gboolean help;
} UsbpassCliGlobals;

/* the options of the commands; each command adds the entries it understands */
typedef struct {
	gboolean tree;
	gchar *state;
	gchar *instance;
	gchar *vendor_id;
	gchar *product_id;
	gboolean present;
	gboolean missing;
	gboolean all;
	gint limit;
	gint64 after;
	gchar *role;
	gint count;
	gchar **remaining;
} UsbpassCliOptions;

typedef struct _UsbpassCli UsbpassCli;
typedef struct _UsbpassCliCommand UsbpassCliCommand;

struct _UsbpassCliCommand {
	const gchar *name;        /* "list", "token create" */
	const gchar *parameters;  /* "DEVICE INSTANCE" */
	const gchar *summary;     /* one line for `usbpass --help` */
	const gchar *description; /* more for `usbpass COMMAND --help`, or NULL */
	guint min_args;
	guint max_args;
	const GOptionEntry *options[2]; /* usbpass_cli_add_entries() tables, in help order */
	gint (*run)(UsbpassCli *cli, gchar **args, GError **error);
};

struct _UsbpassCli {
	UsbpassCliGlobals before; /* given before the command name */
	UsbpassCliGlobals after;  /* given after it */
	UsbpassCliOptions options;
	const UsbpassCliCommand *command;
	UsbpassClient *client;
	gchar *socket_path; /* the client's socket, NULL for a URL */
	guint events_printed;
	gchar *help_command; /* what "Try 'usbpass … --help'" names after a usage error */
};

static void
usbpass_cli_globals_clear(UsbpassCliGlobals *globals)
{
	g_free(globals->url);
	g_free(globals->token);
	g_free(globals->token_file);
	g_free(globals->socket);
}

static void
usbpass_cli_free(UsbpassCli *cli)
{
	usbpass_cli_globals_clear(&cli->before);
	usbpass_cli_globals_clear(&cli->after);
	g_free(cli->options.state);
	g_free(cli->options.instance);
	g_free(cli->options.vendor_id);
	g_free(cli->options.product_id);
	g_free(cli->options.role);
	g_strfreev(cli->options.remaining);
	g_clear_object(&cli->client);
	g_free(cli->socket_path);
	g_free(cli->help_command);
	g_free(cli);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassCli, usbpass_cli_free)

/* a value given after the command name wins over one given before it */
static const gchar *
usbpass_cli_global_string(UsbpassCli *cli, gsize offset)
{
	const gchar *value = G_STRUCT_MEMBER(gchar *, &cli->after, offset);
	return value != NULL ? value : G_STRUCT_MEMBER(gchar *, &cli->before, offset);
}

static gboolean
usbpass_cli_json(UsbpassCli *cli)
{
	return cli->before.json || cli->after.json;
}

static UsbpassCliFormatFlags
usbpass_cli_flags(UsbpassCli *cli)
{
	if (cli->before.wide || cli->after.wide)
		return USBPASS_CLI_FORMAT_WIDE;
	return USBPASS_CLI_FORMAT_NONE;
}

/* strings reach the program as bytes; the API carries UTF-8 */
static gboolean
usbpass_cli_check_utf8(const gchar *what, const gchar *value, GError **error)
{
	if (value != NULL && !g_utf8_validate(value, -1, NULL)) {
		g_set_error(
		  error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s is not valid UTF-8", what);
		return FALSE;
	}
	return TRUE;
}

static void
usbpass_cli_write(const gchar *text)
{
	fputs(text, stdout);
}

static void
usbpass_cli_write_json_object(JsonObject *obj)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);
	g_autofree gchar *text = usbpass_cli_format_json(node, TRUE);
	usbpass_cli_write(text);
}

/* the client for the daemon the options name: --url (or USBPASS_URL) with a
 * token, else --socket (or USBPASS_SOCKET, or the default socket) */
static UsbpassClient *
usbpass_cli_get_client(UsbpassCli *cli, GError **error)
{
	const gchar *url = usbpass_cli_global_string(cli, G_STRUCT_OFFSET(UsbpassCliGlobals, url));
	const gchar *socket =
	  usbpass_cli_global_string(cli, G_STRUCT_OFFSET(UsbpassCliGlobals, socket));
	const gchar *token =
	  usbpass_cli_global_string(cli, G_STRUCT_OFFSET(UsbpassCliGlobals, token));
	const gchar *token_file =
	  usbpass_cli_global_string(cli, G_STRUCT_OFFSET(UsbpassCliGlobals, token_file));
	g_autoptr(UsbpassClient) client = NULL;
	g_autofree gchar *loaded_token = NULL;

	if (cli->client != NULL)
		return cli->client;
	if (url != NULL && socket != NULL) {
		g_set_error_literal(error,
		                    G_OPTION_ERROR,
		                    G_OPTION_ERROR_BAD_VALUE,
		                    "--url and --socket cannot be used together");
		return NULL;
	}
	if (url == NULL && socket == NULL) {
		url = g_getenv("USBPASS_URL");
		if (url != NULL && url[0] == '\0')
			url = NULL;
	}
	if (url == NULL && socket == NULL)
		socket = g_getenv("USBPASS_SOCKET");

	if (url != NULL) {
		g_autoptr(GError) error_local = NULL;
		client = usbpass_client_new_for_url(url, &error_local);
		if (client == NULL) {
			/* a URL that cannot be one is a usage error */
			g_set_error_literal(
			  error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, error_local->message);
			return NULL;
		}
		/* remote: the token comes from --token, a file or the environment */
		if (token == NULL) {
			g_autoptr(GError) error_token = NULL;
			loaded_token = usbpass_client_load_token(token_file, &error_token);
			if (error_token != NULL) {
				g_propagate_error(error, g_steal_pointer(&error_token));
				return NULL;
			}
			token = loaded_token;
		}
	} else {
		client = usbpass_client_new_for_socket(socket);
		cli->socket_path = g_strdup(
		  socket != NULL && socket[0] != '\0' ? socket : USBPASS_CLIENT_DEFAULT_SOCKET);
		/* local: peer credentials authenticate; a token only when asked for */
		if (token == NULL && token_file != NULL) {
			loaded_token = usbpass_client_load_token(token_file, error);
			if (loaded_token == NULL)
				return NULL;
			token = loaded_token;
		}
	}
	if (!usbpass_client_set_token(client, token, error))
		return NULL;
	cli->client = g_steal_pointer(&client);
	return cli->client;
}

/* how a command shows the answer of usbpassd without --json; @data is the
 * command's own (the instance of an assignment) */
typedef gchar *(*UsbpassCliTextFunc)(UsbpassCli *cli,
                                     JsonObject *answer,
                                     gconstpointer data,
                                     GError **error);

/* the end of a command: --json prints @answer as usbpassd sent it, else @text
 * writes it for people; @answer is NULL when the call failed */
static gint
usbpass_cli_answer(UsbpassCli *cli,
                   JsonObject *answer,
                   UsbpassCliTextFunc text,
                   gconstpointer data,
                   GError **error)
{
	g_autofree gchar *out = NULL;

	if (answer == NULL)
		return -1;
	if (usbpass_cli_json(cli)) {
		usbpass_cli_write_json_object(answer);
		return 0;
	}
	out = text(cli, answer, data, error);
	if (out == NULL)
		return -1;
	usbpass_cli_write(out);
	return 0;
}

/* option tables hold the offset of their variable as arg_data: the tables are
 * static, the variables are in each UsbpassCli */
#define USBPASS_CLI_OPTION(member) GSIZE_TO_POINTER(G_STRUCT_OFFSET(UsbpassCliOptions, member))
#define USBPASS_CLI_GLOBAL(member) GSIZE_TO_POINTER(G_STRUCT_OFFSET(UsbpassCliGlobals, member))

/* adds the entries of @table (ended by { NULL }) to @context, each pointing at
 * its variable in @base */
static void
usbpass_cli_add_entries(GOptionContext *context, gpointer base, const GOptionEntry *table)
{
	g_autoptr(GArray) entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));

	for (const GOptionEntry *entry = table; entry->long_name != NULL; entry++) {
		GOptionEntry copy = *entry;
		copy.arg_data = (guint8 *)base + GPOINTER_TO_SIZE(entry->arg_data);
		g_array_append_val(entries, copy);
	}
	/* the context keeps a copy of the entries */
	g_option_context_add_main_entries(context, (const GOptionEntry *)entries->data, NULL);
}

/* ---- commands ---- */

static const GOptionEntry usbpass_cli_filter_entries[] = {
	{ "state",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_OPTION(state),
	  "Only devices in STATE (available, attached, failed, missing…)",
	  "STATE" },
	{ "instance",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_OPTION(instance),
	  "Only devices assigned to INSTANCE (uuid or name)",
	  "INSTANCE" },
	{ "vendor-id",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_OPTION(vendor_id),
	  "Only devices of this vendor (4 hex digits)",
	  "VID" },
	{ "product-id",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_OPTION(product_id),
	  "Only devices of this product (4 hex digits)",
	  "PID" },
	{ "present",
	  0,
	  0,
	  G_OPTION_ARG_NONE,
	  USBPASS_CLI_OPTION(present),
	  "Only devices plugged in now",
	  NULL },
	{ "missing",
	  0,
	  0,
	  G_OPTION_ARG_NONE,
	  USBPASS_CLI_OPTION(missing),
	  "Only assigned devices that are unplugged",
	  NULL },
	{ NULL },
};

static const GOptionEntry usbpass_cli_list_entries[] = {
	{ "tree",
	  't',
	  0,
	  G_OPTION_ARG_NONE,
	  USBPASS_CLI_OPTION(tree),
	  "Show the topology: controller, root hub, ports, devices",
	  NULL },
	{ NULL },
};

static JsonObject *
usbpass_cli_list_devices(UsbpassCli *cli, UsbpassClient *client, GError **error)
{
	UsbpassClientDeviceFilter filter = {
		.state = cli->options.state,
		.instance = cli->options.instance,
		.vendor_id = cli->options.vendor_id,
		.product_id = cli->options.product_id,
	};
	if (cli->options.present && cli->options.missing) {
		g_set_error_literal(error,
		                    G_OPTION_ERROR,
		                    G_OPTION_ERROR_BAD_VALUE,
		                    "--present and --missing cannot be used together");
		return NULL;
	}
	if (cli->options.present)
		filter.present = USBPASS_CLIENT_PRESENT_YES;
	else if (cli->options.missing)
		filter.present = USBPASS_CLIENT_PRESENT_NO;
	/* the API spells ids in lower case */
	for (gchar *p = cli->options.vendor_id; p != NULL && *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
	for (gchar *p = cli->options.product_id; p != NULL && *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
	return usbpass_client_list_devices(client, &filter, NULL, error);
}

static gchar *
usbpass_cli_text_list(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	if (cli->options.tree || g_strcmp0(cli->command->name, "tree") == 0)
		return usbpass_cli_format_tree(answer, usbpass_cli_flags(cli), error);
	return usbpass_cli_format_devices(answer, usbpass_cli_flags(cli), error);
}

/* list and tree without usbpassd: the local inventory, as lsusb reads it, when
 * nothing listens on the local socket; @error_daemon is why the daemon failed */
static JsonObject *
usbpass_cli_list_local_devices(UsbpassCli *cli, GError *error_daemon, GError **error)
{
	const gchar *needs_daemon = NULL;
	g_autoptr(JsonObject) answer = NULL;
	g_autofree gchar *shown = NULL;

	if (cli->socket_path == NULL ||
	    !g_error_matches(
	      error_daemon, USBPASS_ERROR, USBPASS_ERROR_UNREACHABLE) ||
	    !usbpass_cli_local_daemon_absent(cli->socket_path)) {
		g_propagate_error(error, g_error_copy(error_daemon));
		return NULL;
	}
	/* only usbpassd knows who holds what and what is assigned but unplugged */
	if (cli->options.state != NULL)
		needs_daemon = "--state";
	else if (cli->options.instance != NULL)
		needs_daemon = "--instance";
	else if (cli->options.missing)
		needs_daemon = "--missing";
	if (needs_daemon != NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_UNREACHABLE,
		            "%s needs usbpassd, which is not running: %s",
		            needs_daemon,
		            error_daemon->message);
		return NULL;
	}
	answer =
	  usbpass_cli_local_list_devices(cli->options.vendor_id, cli->options.product_id, error);
	if (answer == NULL)
		return NULL;
	shown = usbpass_cli_safe(cli->socket_path);
	fprintf(stderr,
	        "usbpass: assignment states are unknown because usbpassd is not running (nothing "
	        "answers at '%s')\n",
	        shown != NULL ? shown : "");
	return g_steal_pointer(&answer);
}

static gint
usbpass_cli_run_list(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(GError) error_daemon = NULL;

	if (client == NULL)
		return -1;
	answer = usbpass_cli_list_devices(cli, client, &error_daemon);
	if (answer == NULL)
		answer = usbpass_cli_list_local_devices(cli, error_daemon, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_list, NULL, error);
}

static gchar *
usbpass_cli_text_device(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_device(answer);
}

static gint
usbpass_cli_run_show(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) device = NULL;

	if (client == NULL)
		return -1;
	device = usbpass_client_get_device(client, args[0], NULL, error);
	return usbpass_cli_answer(cli, device, usbpass_cli_text_device, NULL, error);
}

static const GOptionEntry usbpass_cli_watch_entries[] = {
	{ "count",
	  'n',
	  0,
	  G_OPTION_ARG_INT,
	  USBPASS_CLI_OPTION(count),
	  "Exit after COUNT events",
	  "COUNT" },
	{ NULL },
};

static gboolean
usbpass_cli_watch_cb(const gchar *event, JsonNode *data, gpointer user_data)
{
	UsbpassCli *cli = user_data;

	if (usbpass_cli_json(cli)) {
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		g_autoptr(JsonNode) root = NULL;
		g_autofree gchar *text = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "event");
		json_builder_add_string_value(builder, event);
		json_builder_set_member_name(builder, "data");
		json_builder_add_value(builder, json_node_copy(data));
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		text = usbpass_cli_format_json(root, FALSE);
		usbpass_cli_write(text);
	} else {
		g_autofree gchar *line = usbpass_cli_format_event(event, data);
		/* an event of a newer daemon: --json shows it */
		if (line == NULL)
			return TRUE;
		usbpass_cli_write(line);
	}
	fflush(stdout);
	cli->events_printed++;
	return cli->options.count <= 0 || cli->events_printed < (guint)cli->options.count;
}

static gint
usbpass_cli_run_watch(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = NULL;

	if (cli->options.count < 0) {
		g_set_error_literal(error,
		                    G_OPTION_ERROR,
		                    G_OPTION_ERROR_BAD_VALUE,
		                    "--count must be a positive number");
		return -1;
	}
	client = usbpass_cli_get_client(cli, error);
	if (client == NULL)
		return -1;
	if (!usbpass_client_watch_events(client, usbpass_cli_watch_cb, cli, NULL, error))
		return -1;
	return 0;
}

/* @data: the instance, as the user named it */
static gchar *
usbpass_cli_text_attached(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_assignment(answer, TRUE, data);
}

static gchar *
usbpass_cli_text_detached(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_assignment(answer, FALSE, data);
}

static gint
usbpass_cli_run_attach(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) device = NULL;

	if (client == NULL)
		return -1;
	device = usbpass_client_attach(client, args[1], args[0], NULL, error);
	return usbpass_cli_answer(cli, device, usbpass_cli_text_attached, args[1], error);
}

static const gchar *
usbpass_cli_member_string(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

static gint
usbpass_cli_run_detach(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) before = NULL;
	g_autoptr(JsonObject) device = NULL;
	const gchar *instance_uuid;
	const gchar *instance_name;
	const gchar *id;

	if (client == NULL)
		return -1;
	/* the API detaches from an instance: ask the daemon which one holds it */
	before = usbpass_client_get_device(client, args[0], NULL, error);
	if (before == NULL)
		return -1;
	instance_uuid = usbpass_cli_member_string(before, "instance_uuid");
	instance_name = usbpass_cli_member_string(before, "instance_name");
	if (instance_uuid == NULL || instance_uuid[0] == '\0') {
		g_autofree gchar *safe = usbpass_cli_safe(args[0]);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_NOT_FOUND,
		            "USB device '%s' is not assigned to any instance",
		            safe != NULL ? safe : "");
		return -1;
	}
	/* the identity survives a re-plug between the two requests; the address may not */
	id = usbpass_cli_member_string(before, "id");
	device = usbpass_client_detach(
	  client, instance_uuid, id != NULL && id[0] != '\0' ? id : args[0], NULL, error);
	return usbpass_cli_answer(cli,
	                          device,
	                          usbpass_cli_text_detached,
	                          instance_name != NULL ? instance_name : instance_uuid,
	                          error);
}

static gchar *
usbpass_cli_text_instances(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_instances(answer, usbpass_cli_flags(cli), error);
}

/* one Instance: the table of a list of one */
static gchar *
usbpass_cli_text_instance(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	g_autoptr(JsonArray) array = json_array_new();
	g_autoptr(JsonObject) list = json_object_new();

	json_array_add_object_element(array, json_object_ref(answer));
	json_object_set_array_member(list, "instances", g_steal_pointer(&array));
	return usbpass_cli_text_instances(cli, list, data, error);
}

static gint
usbpass_cli_run_instances(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) answer = NULL;

	if (client == NULL)
		return -1;
	if (args[0] != NULL) {
		answer = usbpass_client_get_instance(client, args[0], NULL, error);
		return usbpass_cli_answer(cli, answer, usbpass_cli_text_instance, NULL, error);
	}
	answer = usbpass_client_list_instances(client, NULL, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_instances, NULL, error);
}

static const GOptionEntry usbpass_cli_status_entries[] = {
	{ "all",
	  'a',
	  0,
	  G_OPTION_ARG_NONE,
	  USBPASS_CLI_OPTION(all),
	  "Include hubs and root hubs, which are never passed through",
	  NULL },
	{ NULL },
};

static gchar *
usbpass_cli_text_status(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_status(answer, cli->options.all, usbpass_cli_flags(cli), error);
}

static gint
usbpass_cli_run_status(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) answer = NULL;

	if (client == NULL)
		return -1;
	answer = usbpass_cli_list_devices(cli, client, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_status, NULL, error);
}

static const GOptionEntry usbpass_cli_audit_entries[] = {
	{ "limit",
	  'n',
	  0,
	  G_OPTION_ARG_INT,
	  USBPASS_CLI_OPTION(limit),
	  "Show at most N entries (1 to 1000)",
	  "N" },
	{ "after",
	  0,
	  0,
	  G_OPTION_ARG_INT64,
	  USBPASS_CLI_OPTION(after),
	  "Only entries newer than the entry ID",
	  "ID" },
	{ NULL },
};

static gchar *
usbpass_cli_text_audit(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_audit(answer, usbpass_cli_flags(cli), error);
}

static gint
usbpass_cli_run_audit(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = NULL;
	g_autoptr(JsonObject) answer = NULL;

	if (cli->options.limit < 0 || cli->options.limit > 1000) {
		g_set_error_literal(error,
		                    G_OPTION_ERROR,
		                    G_OPTION_ERROR_BAD_VALUE,
		                    "--limit must be between 1 and 1000");
		return -1;
	}
	if (cli->options.after < 0) {
		g_set_error_literal(
		  error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--after must be an entry id");
		return -1;
	}
	client = usbpass_cli_get_client(cli, error);
	if (client == NULL)
		return -1;
	answer = usbpass_client_list_audit(
	  client, cli->options.after, (guint)cli->options.limit, NULL, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_audit, NULL, error);
}

static const GOptionEntry usbpass_cli_token_create_entries[] = {
	{ "role",
	  'r',
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_OPTION(role),
	  "reader, operator or admin (required)",
	  "ROLE" },
	{ NULL },
};

static gchar *
usbpass_cli_text_token_created(UsbpassCli *cli,
                               JsonObject *answer,
                               gconstpointer data,
                               GError **error)
{
	return usbpass_cli_format_token_created(answer, error);
}

static gint
usbpass_cli_run_token_create(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = NULL;
	g_autoptr(JsonObject) answer = NULL;

	if (cli->options.role == NULL) {
		g_set_error_literal(error,
		                    G_OPTION_ERROR,
		                    G_OPTION_ERROR_BAD_VALUE,
		                    "--role is required (reader, operator or admin)");
		return -1;
	}
	client = usbpass_cli_get_client(cli, error);
	if (client == NULL)
		return -1;
	answer = usbpass_client_create_token(client, args[0], cli->options.role, NULL, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_token_created, NULL, error);
}

static gchar *
usbpass_cli_text_tokens(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_tokens(answer, usbpass_cli_flags(cli), error);
}

static gint
usbpass_cli_run_token_list(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) answer = NULL;

	if (client == NULL)
		return -1;
	answer = usbpass_client_list_tokens(client, NULL, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_tokens, NULL, error);
}

static gint
usbpass_cli_run_token_revoke(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autofree gchar *safe = NULL;

	if (client == NULL)
		return -1;
	if (!usbpass_client_revoke_token(client, args[0], NULL, error))
		return -1;
	/* the API answers 204: --json prints an empty object so that output is always JSON */
	if (usbpass_cli_json(cli)) {
		usbpass_cli_write("{}\n");
		return 0;
	}
	safe = usbpass_cli_safe(args[0]);
	usbpass_cli_write("Revoked token '");
	usbpass_cli_write(safe != NULL ? safe : "");
	usbpass_cli_write("'.\n");
	return 0;
}

static gchar *
usbpass_cli_text_policy(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_policy(answer);
}

static gint
usbpass_cli_run_policy_show(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) answer = NULL;

	if (client == NULL)
		return -1;
	answer = usbpass_client_get_policy(client, NULL, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_policy, NULL, error);
}

static gchar *
usbpass_cli_text_policy_check(UsbpassCli *cli,
                              JsonObject *answer,
                              gconstpointer data,
                              GError **error)
{
	return usbpass_cli_format_policy_check(answer);
}

static gint
usbpass_cli_run_policy_check(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) answer = NULL;
	JsonNode *allowed;

	if (client == NULL)
		return -1;
	answer = usbpass_client_check_policy(client, args[0], NULL, error);
	if (answer == NULL)
		return -1;
	allowed = json_object_get_member(answer, "allowed");
	if (allowed == NULL || !JSON_NODE_HOLDS_VALUE(allowed) ||
	    json_node_get_value_type(allowed) != G_TYPE_BOOLEAN) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "the answer of usbpassd has no \"allowed\" boolean");
		return -1;
	}
	if (usbpass_cli_answer(cli, answer, usbpass_cli_text_policy_check, NULL, error) < 0)
		return -1;
	/* like grep: scripts can test the answer without parsing it */
	return json_node_get_boolean(allowed)
	         ? 0
	         : usbpass_error_to_exit_code(USBPASS_ERROR_DENIED_BY_POLICY);
}

static gchar *
usbpass_cli_text_host(UsbpassCli *cli, JsonObject *answer, gconstpointer data, GError **error)
{
	return usbpass_cli_format_host(answer);
}

static gint
usbpass_cli_run_host(UsbpassCli *cli, gchar **args, GError **error)
{
	UsbpassClient *client = usbpass_cli_get_client(cli, error);
	g_autoptr(JsonObject) answer = NULL;

	if (client == NULL)
		return -1;
	answer = usbpass_client_get_host(client, NULL, error);
	return usbpass_cli_answer(cli, answer, usbpass_cli_text_host, NULL, error);
}

static gint
usbpass_cli_run_help(UsbpassCli *cli, gchar **args, GError **error);

static const UsbpassCliCommand usbpass_cli_commands[] = {
	{ "list",
	  NULL,
	  "List the USB devices of the host",
	  "Columns: BUS DEV ID NAME SERIAL PORT CLASS STATE INSTANCE. With --json, the\n"
	  "answer of GET /v1/devices as it is: {\"generation\": N, \"devices\": [...]}.",
	  0,
	  0,
	  { usbpass_cli_list_entries, usbpass_cli_filter_entries },
	  usbpass_cli_run_list },
	{ "tree",
	  NULL,
	  "Show the USB topology: controllers, root hubs, ports, devices",
	  "The same as `usbpass list --tree`.",
	  0,
	  0,
	  { usbpass_cli_filter_entries },
	  usbpass_cli_run_list },
	{ "show", "DEVICE", "Show one USB device", NULL, 1, 1, { NULL }, usbpass_cli_run_show },
	{ "watch",
	  NULL,
	  "Print hotplug and assignment events as they happen",
	  "One line per event: \"added 0781:5567:s:XYZ 1-1.4 SanDisk Cruzer Blade\",\n"
	  "\"attached … → web01\". With --json, one {\"event\", \"data\"} object per line.",
	  0,
	  0,
	  { usbpass_cli_watch_entries },
	  usbpass_cli_run_watch },
	{ "attach",
	  "DEVICE INSTANCE",
	  "Attach a USB device to an instance",
	  NULL,
	  2,
	  2,
	  { NULL },
	  usbpass_cli_run_attach },
	{ "detach",
	  "DEVICE",
	  "Detach a USB device from the instance it is assigned to",
	  NULL,
	  1,
	  1,
	  { NULL },
	  usbpass_cli_run_detach },
	{ "instances",
	  "[INSTANCE]",
	  "List the instances with their USB devices",
	  NULL,
	  0,
	  1,
	  { NULL },
	  usbpass_cli_run_instances },
	{ "status",
	  NULL,
	  "Show the assignment state of the USB devices",
	  "Columns: ID NAME BUS:DEV STATE INSTANCE ERROR (the host_usb_devices table).",
	  0,
	  0,
	  { usbpass_cli_status_entries, usbpass_cli_filter_entries },
	  usbpass_cli_run_status },
	{ "audit",
	  NULL,
	  "Show the audit log, newest first (admin)",
	  NULL,
	  0,
	  0,
	  { usbpass_cli_audit_entries },
	  usbpass_cli_run_audit },
	{ "token create",
	  "NAME --role ROLE",
	  "Create an API token, shown only once (admin)",
	  NULL,
	  1,
	  1,
	  { usbpass_cli_token_create_entries },
	  usbpass_cli_run_token_create },
	{ "token list",
	  NULL,
	  "List the API tokens (admin)",
	  NULL,
	  0,
	  0,
	  { NULL },
	  usbpass_cli_run_token_list },
	{ "token revoke",
	  "NAME",
	  "Revoke an API token (admin)",
	  NULL,
	  1,
	  1,
	  { NULL },
	  usbpass_cli_run_token_revoke },
	{ "policy show",
	  NULL,
	  "Show whether passthrough is enabled and the policy rules",
	  NULL,
	  0,
	  0,
	  { NULL },
	  usbpass_cli_run_policy_show },
	{ "policy check",
	  "DEVICE",
	  "Would attaching DEVICE be allowed, by which rule? (dry run)",
	  "Exits 0 when it would be allowed, 5 when the policy denies it.",
	  1,
	  1,
	  { NULL },
	  usbpass_cli_run_policy_check },
	{ "host",
	  NULL,
	  "Show the host, the daemon and its connections",
	  NULL,
	  0,
	  0,
	  { NULL },
	  usbpass_cli_run_host },
	{ "help",
	  "[COMMAND]",
	  "Show the help of a command",
	  NULL,
	  0,
	  2,
	  { NULL },
	  usbpass_cli_run_help },
};

static const UsbpassCliCommand *
usbpass_cli_find_command(const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(usbpass_cli_commands); i++) {
		if (g_strcmp0(usbpass_cli_commands[i].name, name) == 0)
			return &usbpass_cli_commands[i];
	}
	return NULL;
}

/* "token", "policy": the first word of commands with subcommands */
static gboolean
usbpass_cli_is_group(const gchar *word)
{
	gsize len = strlen(word);
	for (guint i = 0; i < G_N_ELEMENTS(usbpass_cli_commands); i++) {
		const gchar *name = usbpass_cli_commands[i].name;
		if (strncmp(name, word, len) == 0 && name[len] == ' ')
			return TRUE;
	}
	return FALSE;
}

static const gchar usbpass_cli_help_footer[] =
  "\n"
  "DEVICE is a stable identity (0781:5567:s:4C530001), BUS:DEVICE (1:5) or a\n"
  "port path (1-1.4); INSTANCE is a uuid or a name.\n"
  "\n"
  "Exit status: 0 success, 1 usbpassd unreachable, 2 usage error, 3 not\n"
  "found, 4 in use, 5 denied by policy, 6 passthrough disabled, 77 permission\n"
  "denied; docs/cli.md lists them all.\n"
  "\n"
  "Environment: USBPASS_SOCKET, USBPASS_URL, USBPASS_TOKEN,\n"
  "USBPASS_TOKEN_FILE.";

static gchar *
usbpass_cli_commands_text(const gchar *group)
{
	GString *out = g_string_new("Commands:\n");
	for (guint i = 0; i < G_N_ELEMENTS(usbpass_cli_commands); i++) {
		const UsbpassCliCommand *command = &usbpass_cli_commands[i];
		g_autofree gchar *usage = NULL;
		if (group != NULL && !(g_str_has_prefix(command->name, group) &&
		                       command->name[strlen(group)] == ' '))
			continue;
		usage = g_strdup_printf("%s%s%s",
		                        command->name,
		                        command->parameters != NULL ? " " : "",
		                        command->parameters != NULL ? command->parameters : "");
		g_string_append_printf(out, "  %-30s %s\n", usage, command->summary);
	}
	g_string_append(out, usbpass_cli_help_footer);
	return g_string_free(out, FALSE);
}

static const GOptionEntry usbpass_cli_global_entries[] = {
	{ "json",
	  'j',
	  0,
	  G_OPTION_ARG_NONE,
	  USBPASS_CLI_GLOBAL(json),
	  "Print the JSON answer of usbpassd",
	  NULL },
	{ "wide",
	  'w',
	  0,
	  G_OPTION_ARG_NONE,
	  USBPASS_CLI_GLOBAL(wide),
	  "Never cut long columns",
	  NULL },
	{ "socket",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_GLOBAL(socket),
	  "The Unix socket of usbpassd (default " USBPASS_CLIENT_DEFAULT_SOCKET ")",
	  "PATH" },
	{ "url",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_GLOBAL(url),
	  "A remote usbpassd, http(s)://HOST:PORT (needs a token)",
	  "URL" },
	{ "token",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_GLOBAL(token),
	  "The bearer token for --url (prefer USBPASS_TOKEN or --token-file)",
	  "TOKEN" },
	{ "token-file",
	  0,
	  0,
	  G_OPTION_ARG_FILENAME,
	  USBPASS_CLI_GLOBAL(token_file),
	  "Read the bearer token from FILE",
	  "FILE" },
	{ "version",
	  0,
	  0,
	  G_OPTION_ARG_NONE,
	  USBPASS_CLI_GLOBAL(version),
	  "Print the version of usbpass",
	  NULL },
	{ "help", 'h', 0, G_OPTION_ARG_NONE, USBPASS_CLI_GLOBAL(help), "Show this help", NULL },
	{ NULL },
};

static GOptionContext *
usbpass_cli_command_context(UsbpassCli *cli, const UsbpassCliCommand *command)
{
	g_autofree gchar *parameters = NULL;
	GOptionContext *context;
	static const GOptionEntry remaining[] = {
		{ G_OPTION_REMAINING,
		  0,
		  0,
		  G_OPTION_ARG_FILENAME_ARRAY,
		  USBPASS_CLI_OPTION(remaining),
		  NULL,
		  NULL },
		{ NULL },
	};

	parameters = g_strdup_printf("%s%s%s",
	                             command->name,
	                             command->parameters != NULL ? " " : "",
	                             command->parameters != NULL ? command->parameters : "");
	context = g_option_context_new(parameters);
	g_option_context_set_help_enabled(context, FALSE);
	g_option_context_set_summary(context, command->summary);
	if (command->description != NULL)
		g_option_context_set_description(context, command->description);
	for (guint i = 0; i < G_N_ELEMENTS(command->options) && command->options[i] != NULL; i++)
		usbpass_cli_add_entries(context, &cli->options, command->options[i]);
	usbpass_cli_add_entries(context, &cli->after, usbpass_cli_global_entries);
	usbpass_cli_add_entries(context, &cli->options, remaining);
	return context;
}

static gchar *
usbpass_cli_main_help(UsbpassCli *cli)
{
	g_autoptr(GOptionContext) context = g_option_context_new("COMMAND [ARGUMENT…]");
	g_autofree gchar *commands = usbpass_cli_commands_text(NULL);
	UsbpassCliGlobals scratch = { NULL };
	gchar *help;

	g_option_context_set_help_enabled(context, FALSE);
	g_option_context_set_summary(context, "Hand host USB devices to virtual machines.");
	g_option_context_set_description(context, commands);
	usbpass_cli_add_entries(context, &scratch, usbpass_cli_global_entries);
	help = g_option_context_get_help(context, TRUE, NULL);
	return help;
}

static gint
usbpass_cli_run_help(UsbpassCli *cli, gchar **args, GError **error)
{
	const UsbpassCliCommand *command;
	g_autofree gchar *name = NULL;
	g_autofree gchar *help = NULL;

	if (args[0] == NULL) {
		help = usbpass_cli_main_help(cli);
		usbpass_cli_write(help);
		return 0;
	}
	name = args[1] != NULL ? g_strdup_printf("%s %s", args[0], args[1]) : g_strdup(args[0]);
	command = usbpass_cli_find_command(name);
	if (command == NULL && args[1] == NULL && usbpass_cli_is_group(args[0])) {
		help = usbpass_cli_commands_text(args[0]);
		usbpass_cli_write(help);
		usbpass_cli_write("\n");
		return 0;
	}
	if (command == NULL) {
		g_autofree gchar *safe = usbpass_cli_safe(name);
		g_set_error(error,
		            G_OPTION_ERROR,
		            G_OPTION_ERROR_FAILED,
		            "unknown command '%s'",
		            safe != NULL ? safe : "");
		return -1;
	}
	{
		g_autoptr(GOptionContext) context = usbpass_cli_command_context(cli, command);
		help = g_option_context_get_help(context, TRUE, NULL);
	}
	usbpass_cli_write(help);
	return 0;
}

/* ---- main ---- */

static gint
usbpass_cli_exit_code(const GError *error)
{
	if (error->domain == USBPASS_ERROR)
		return usbpass_error_to_exit_code((UsbpassError)error->code);
	if (error->domain == G_OPTION_ERROR)
		return USBPASS_CLI_EXIT_USAGE;
	return USBPASS_CLI_EXIT_UNREACHABLE;
}

static void
usbpass_cli_print_error(const GError *error, const gchar *help_command)
{
	g_autofree gchar *safe = usbpass_cli_safe(error->message);
	fprintf(stderr, "usbpass: %s\n", safe != NULL ? safe : "unknown error");
	if (error->domain == G_OPTION_ERROR) {
		fprintf(stderr,
		        "Try 'usbpass%s%s --help' for more information.\n",
		        help_command != NULL ? " " : "",
		        help_command != NULL ? help_command : "");
	}
}

static gint
usbpass_cli_run(UsbpassCli *cli, gint argc, gchar **argv, GError **error)
{
	g_autoptr(GOptionContext) global_context = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_auto(GStrv) args = NULL;
	g_autofree gchar *name = NULL;
	guint first = 1;
	guint n_args;

	/* options before the command: stop at the first word that is not one */
	args = g_new0(gchar *, argc + 1);
	for (gint i = 0; i < argc; i++)
		args[i] = g_strdup(argv[i]);
	global_context = g_option_context_new("COMMAND [ARGUMENT…]");
	g_option_context_set_help_enabled(global_context, FALSE);
	g_option_context_set_strict_posix(global_context, TRUE);
	usbpass_cli_add_entries(global_context, &cli->before, usbpass_cli_global_entries);
	if (!g_option_context_parse_strv(global_context, &args, error))
		return -1;
	if (cli->before.version) {
		usbpass_cli_write("usbpass " PACKAGE_VERSION "\n");
		return 0;
	}
	if (args[1] == NULL) {
		if (cli->before.help) {
			g_autofree gchar *help = usbpass_cli_main_help(cli);
			usbpass_cli_write(help);
			return 0;
		}
		g_set_error_literal(
		  error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "no command given");
		return -1;
	}

	/* "token create": a group word and a subcommand */
	if (usbpass_cli_is_group(args[1])) {
		if (args[2] == NULL || args[2][0] == '-') {
			g_autofree gchar *text = usbpass_cli_commands_text(args[1]);
			gboolean help = g_strcmp0(args[2], "--help") == 0 ||
			                g_strcmp0(args[2], "-h") == 0 || cli->before.help;
			if (help) {
				usbpass_cli_write(text);
				usbpass_cli_write("\n");
				return 0;
			}
			cli->help_command = g_strdup(args[1]);
			g_set_error(error,
			            G_OPTION_ERROR,
			            G_OPTION_ERROR_FAILED,
			            "'%s' needs a subcommand",
			            args[1]);
			return -1;
		}
		name = g_strdup_printf("%s %s", args[1], args[2]);
		first = 2;
	} else {
		name = g_strdup(args[1]);
	}
	cli->command = usbpass_cli_find_command(name);
	if (cli->command == NULL) {
		g_autofree gchar *safe = usbpass_cli_safe(name);
		g_set_error(error,
		            G_OPTION_ERROR,
		            G_OPTION_ERROR_FAILED,
		            "unknown command '%s'",
		            safe != NULL ? safe : "");
		return -1;
	}
	cli->help_command = g_strdup(cli->command->name);

	/* the command's own options and the global ones, anywhere after its name */
	context = usbpass_cli_command_context(cli, cli->command);
	{
		g_auto(GStrv) command_args = g_new0(gchar *, g_strv_length(args) - first + 1);
		command_args[0] = g_strdup_printf("usbpass %s", cli->command->name);
		for (guint i = first + 1; args[i] != NULL; i++)
			command_args[i - first] = g_strdup(args[i]);
		if (!g_option_context_parse_strv(context, &command_args, error))
			return -1;
	}
	if (cli->before.help || cli->after.help) {
		g_autofree gchar *help = g_option_context_get_help(context, TRUE, NULL);
		usbpass_cli_write(help);
		return 0;
	}
	if (cli->after.version) {
		usbpass_cli_write("usbpass " PACKAGE_VERSION "\n");
		return 0;
	}

	n_args = cli->options.remaining != NULL ? g_strv_length(cli->options.remaining) : 0;
	if (n_args < cli->command->min_args) {
		g_set_error(error,
		            G_OPTION_ERROR,
		            G_OPTION_ERROR_FAILED,
		            "'%s' needs %s",
		            cli->command->name,
		            cli->command->parameters);
		return -1;
	}
	if (n_args > cli->command->max_args) {
		const gchar *extra = cli->options.remaining[cli->command->max_args];
		g_autofree gchar *safe = usbpass_cli_safe(extra);
		g_set_error(error,
		            G_OPTION_ERROR,
		            G_OPTION_ERROR_FAILED,
		            "unexpected argument '%s'",
		            safe != NULL ? safe : "");
		return -1;
	}
	for (guint i = 0; i < n_args; i++) {
		if (!usbpass_cli_check_utf8("an argument", cli->options.remaining[i], error))
			return -1;
	}
	if (!usbpass_cli_check_utf8("--state", cli->options.state, error) ||
	    !usbpass_cli_check_utf8("--instance", cli->options.instance, error) ||
	    !usbpass_cli_check_utf8("--vendor-id", cli->options.vendor_id, error) ||
	    !usbpass_cli_check_utf8("--product-id", cli->options.product_id, error) ||
	    !usbpass_cli_check_utf8("--role", cli->options.role, error))
		return -1;
	if (cli->options.remaining == NULL)
		cli->options.remaining = g_new0(gchar *, 1);
	return cli->command->run(cli, cli->options.remaining, error);
}

int
main(int argc, char **argv)
{
	g_autoptr(UsbpassCli) cli = g_new0(UsbpassCli, 1);
	g_autoptr(GError) error = NULL;
	gint rc;

	setlocale(LC_ALL, "");
	g_set_prgname("usbpass");

	rc = usbpass_cli_run(cli, argc, argv, &error);
	if (rc < 0) {
		usbpass_cli_print_error(error, cli->help_command);
		rc = usbpass_cli_exit_code(error);
	}
	/* a full disk or a closed pipe must not look like success */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == 0) {
			fprintf(
			  stderr, "usbpass: cannot write the output: %s\n", g_strerror(errno));
			rc = USBPASS_CLI_EXIT_UNREACHABLE;
		}
	}
	return rc;
}
