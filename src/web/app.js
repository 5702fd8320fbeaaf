/*
 * app.js: the usbpass web page (docs/api.md is the API it speaks)
 *
 * Plain JavaScript, no framework. Rules this file keeps:
 *  - nothing from the API (device strings are hostile) reaches innerHTML: the
 *    DOM is built with createElement and textContent only;
 *  - the token lives in sessionStorage and travels as "Authorization: Bearer",
 *    never in a cookie; a one-time "#token=..." address is read once and
 *    removed from the address bar and the history;
 *  - the event stream is read with fetch() and a stream reader (EventSource
 *    cannot send the Authorization header) and reopened after the daemon
 *    restarts, with a full reload of the devices since events were missed.
 */
"use strict";

const TOKEN_KEY = "usbpass.token";
const AUDIT_PAGE_SIZE = 50;
const AUDIT_MAX = 1000; /* the API's limit; older entries need the CLI */
const POLICY_CONCURRENCY = 6;
const RECONNECT_MAX_MS = 5000;
const STATES = ["available", "attaching", "attached", "detaching", "failed", "missing"];

const app = {
	token: null,
	host: null,            /* GET /v1/host */
	hosts: [],             /* one entry until the cluster exists (issue 11) */
	devices: new Map(),    /* id -> Device */
	rows: new Map(),       /* id -> <tr> of the devices table */
	instances: [],
	layout: "table",
	view: null,
	stream: null,          /* AbortController of the event stream */
	streamGeneration: 0,
	auditPage: 0,
	attach: null,          /* state of the open attach dialog */
	detach: null,
	renderPending: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
	const node = document.createElement(tag);
	if (props) {
		for (const [key, value] of Object.entries(props)) {
			if (value === undefined || value === null || value === false)
				continue;
			if (key === "class")
				node.className = value;
			else if (key === "text")
				node.textContent = value;
			else if (key === "dataset")
				Object.assign(node.dataset, value);
			else if (key.startsWith("on"))
				node.addEventListener(key.slice(2), value);
			else if (value === true)
				node.setAttribute(key, "");
			else
				node.setAttribute(key, String(value));
		}
	}
	for (const child of children) {
		if (child === null || child === undefined || child === false)
			continue;
		node.append(child instanceof Node ? child : document.createTextNode(String(child)));
	}
	return node;
}

function text(value) {
	return value === null || value === undefined || value === "" ? "\u2014" : String(value);
}

/* ---- API ---- */

class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

async function api(method, path, body) {
	const headers = { Authorization: "Bearer " + app.token };
	const init = { method, headers, cache: "no-store", credentials: "omit" };
	if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	let response;
	try {
		response = await fetch(path, init);
	} catch (e) {
		throw new ApiError(0, "unreachable", "usbpassd cannot be reached: " + e.message);
	}
	if (response.status === 204)
		return null;
	let answer = null;
	try {
		answer = await response.json();
	} catch (e) {
		answer = null;
	}
	if (!response.ok) {
		const error = answer && answer.error ? answer.error : {};
		const failure = new ApiError(response.status, error.code || "http-" + response.status,
		                             error.message || "HTTP " + response.status);
		if (response.status === 401)
			tokenRefused(failure.message);
		throw failure;
	}
	return answer;
}

const seg = (value) => encodeURIComponent(value);

/* ---- sign-in ---- */

function readTokenFromAddress() {
	const hash = location.hash;
	if (!hash.startsWith("#token="))
		return;
	const token = decodeURIComponent(hash.slice("#token=".length));
	/* a one-time address: the secret leaves the address bar and the history */
	history.replaceState(null, "", location.pathname + "#/devices");
	if (token)
		sessionStorage.setItem(TOKEN_KEY, token);
}

function showBanner(message) {
	const banner = $("banner");
	banner.textContent = message;
	banner.hidden = !message;
}

function tokenRefused(message) {
	sessionStorage.removeItem(TOKEN_KEY);
	app.token = null;
	stopEvents();
	showBanner("The token was refused: " + message + ". Sign in with a valid token.");
	showSignIn();
}

function showSignIn() {
	$("nav").hidden = true;
	$("session").hidden = true;
	for (const view of document.querySelectorAll(".view"))
		view.hidden = view.id !== "view-signin";
	$("token-input").value = "";
	$("token-input").focus();
}

async function signIn(token) {
	app.token = token;
	let host;
	try {
		host = await api("GET", "/v1/host");
	} catch (e) {
		if (e.status !== 401) {
			showBanner(e.message);
			showSignIn();
		}
		return false;
	}
	sessionStorage.setItem(TOKEN_KEY, token);
	showBanner("");
	app.host = host;
	app.hosts = [host];
	$("nav").hidden = false;
	$("session").hidden = false;
	$("session-role").textContent = host.host + " \u00b7 signed in as " + host.role;
	document.body.dataset.role = host.role;
	await loadDevices();
	startEvents();
	route();
	return true;
}

function canOperate() {
	return app.host && (app.host.role === "operator" || app.host.role === "admin");
}

function isAdmin() {
	return app.host && app.host.role === "admin";
}

/* ---- routing: #/devices, #/devices/ID, #/instances, #/hosts, #/audit ---- */

function route() {
	if (!app.token)
		return showSignIn();
	const hash = location.hash || "#/devices";
	const parts = hash.replace(/^#\/?/, "").split("/");
	let view = parts[0] || "devices";
	if (!["devices", "instances", "hosts", "audit"].includes(view))
		view = "devices";
	let detail = null;
	if (view === "devices" && parts.length > 1 && parts[1] !== "") {
		try {
			detail = decodeURIComponent(parts.slice(1).join("/"));
		} catch (e) {
			detail = null;
		}
	}
	app.view = detail !== null ? "device" : view;
	for (const section of document.querySelectorAll(".view"))
		section.hidden = section.id !== "view-" + app.view;
	for (const link of document.querySelectorAll("#nav a")) {
		if (link.dataset.view === view)
			link.setAttribute("aria-current", "page");
		else
			link.removeAttribute("aria-current");
	}
	if (app.view === "devices")
		renderDevices();
	else if (app.view === "device")
		renderDeviceDetail(detail);
	else if (app.view === "instances")
		loadInstances();
	else if (app.view === "hosts")
		renderHosts();
	else if (app.view === "audit")
		renderAudit();
}

/* ---- devices ---- */

async function loadDevices() {
	const answer = await api("GET", "/v1/devices");
	app.devices = new Map();
	for (const device of answer.devices)
		app.devices.set(device.id, device);
	/* the host list of the filter: every host a device is on */
	const select = $("filter-host");
	const chosen = select.value;
	const hosts = new Set(app.hosts.map((h) => h.host));
	for (const device of app.devices.values())
		hosts.add(device.host);
	select.replaceChildren(el("option", { value: "", text: "All hosts" }),
	                       ...[...hosts].sort().map((h) => el("option", { value: h, text: h })));
	select.value = hosts.has(chosen) ? chosen : "";
}

/* an unplugged device nobody holds keeps state "available" with present
 * false in the API; to a person it is missing all the same */
function shownState(device) {
	return device.present === false && device.state === "available" ? "missing" : device.state;
}

function stateBadge(state) {
	const known = STATES.includes(state) ? state : "unknown";
	return el("span", { class: "state state-" + known, text: state || "unknown" });
}

function busDev(device) {
	if (!device.bus || !device.device)
		return null;
	return String(device.bus).padStart(3, "0") + ":" + String(device.device).padStart(3, "0");
}

function deviceLink(device) {
	return el("a", { href: "#/devices/" + seg(device.id), text: device.name || device.id });
}

function deviceRow(device) {
	const tr = el("tr", { dataset: { id: device.id } },
	              el("td", null, deviceLink(device)),
	              el("td", { class: "mono", text: device.id }),
	              el("td", { text: text(device.host) }),
	              el("td", { class: "mono", text: text(device.port) }),
	              el("td", { class: "mono", text: text(busDev(device)) }),
	              el("td", { class: "mono", text: text(device.serial) }),
	              el("td", { text: text(device.class_name) }),
	              el("td", null, stateBadge(shownState(device))),
	              el("td", { text: text(device.instance_name) }));
	tr.hidden = !matchesFilter(device);
	return tr;
}

function matchesFilter(device) {
	const host = $("filter-host").value;
	const state = $("filter-state").value;
	const needle = $("filter-text").value.trim().toLowerCase();
	if (host && device.host !== host)
		return false;
	if (state && shownState(device) !== state)
		return false;
	if (!needle)
		return true;
	const hay = [device.name, device.id, device.port, device.serial, device.class_name,
	             device.instance_name, device.vendor_id + ":" + device.product_id, busDev(device)];
	return hay.some((v) => v && String(v).toLowerCase().includes(needle));
}

function updateCount() {
	let shown = 0;
	for (const row of app.rows.values())
		if (!row.hidden)
			shown++;
	const total = app.devices.size;
	$("devices-count").textContent = shown === total ? total + " devices"
	                                                 : shown + " of " + total + " devices";
}

function renderDevices() {
	const table = app.layout === "table";
	$("devices-table-wrap").hidden = !table;
	$("topology").hidden = table;
	$("layout-table").setAttribute("aria-pressed", String(table));
	$("layout-topology").setAttribute("aria-pressed", String(!table));
	const fragment = document.createDocumentFragment();
	app.rows = new Map();
	for (const device of app.devices.values()) {
		const row = deviceRow(device);
		app.rows.set(device.id, row);
		fragment.append(row);
	}
	$("devices-body").replaceChildren(fragment);
	updateCount();
	if (!table)
		renderTopology();
}

function applyFilter() {
	for (const [id, row] of app.rows)
		row.hidden = !matchesFilter(app.devices.get(id));
	updateCount();
	if (app.layout === "topology")
		renderTopology();
}

/* controller -> root hub -> hub -> port -> device */
function renderTopology() {
	const byParent = new Map();
	const roots = [];
	const missing = [];
	const shown = [...app.devices.values()].filter(matchesFilter);
	const ports = new Set(shown.filter((d) => d.present !== false).map((d) => d.port));
	for (const device of shown) {
		if (device.present === false) {
			missing.push(device);
		} else if (device.parent_port && ports.has(device.parent_port)) {
			if (!byParent.has(device.parent_port))
				byParent.set(device.parent_port, []);
			byParent.get(device.parent_port).push(device);
		} else {
			roots.push(device);
		}
	}
	const node = (device) => {
		const kind = device.is_root_hub ? "root hub" : device.is_hub ? "hub" : "port " + device.port;
		const li = el("li", null, el("span", { class: "node-kind", text: kind }),
		              deviceLink(device), " ",
		              el("span", { class: "node-kind", text: "(" + device.port + ")" }), " ",
		              stateBadge(shownState(device)));
		const children = byParent.get(device.port);
		if (children && children.length)
			li.append(el("ul", null, ...children.map(node)));
		return li;
	};
	const controllers = new Map();
	for (const device of roots) {
		const c = device.controller;
		const key = (device.host || "") + "|" + (c ? c.pci_address : "");
		if (!controllers.has(key))
			controllers.set(key, { host: device.host, controller: c, devices: [] });
		controllers.get(key).devices.push(device);
	}
	const top = el("ul");
	for (const group of controllers.values()) {
		const c = group.controller;
		const label = c ? "controller " + c.pci_address + (c.name ? " \u2014 " + c.name : "")
		                : "no PCI controller";
		top.append(el("li", null, el("span", { class: "node-kind", text: group.host }),
		              el("strong", { text: label }), el("ul", null, ...group.devices.map(node))));
	}
	if (missing.length)
		top.append(el("li", null, el("strong", { text: "not plugged in" }),
		              el("ul", null, ...missing.map((d) => el("li", null, deviceLink(d), " ",
		                                                       stateBadge(shownState(d)))))));
	$("topology").replaceChildren(top);
}

async function renderDeviceDetail(id) {
	const box = $("device-detail");
	$("device-title").textContent = "Device";
	box.replaceChildren(el("p", { text: "Loading\u2026" }));
	let device;
	let policy = null;
	try {
		device = await api("GET", "/v1/devices/" + seg(id));
	} catch (e) {
		box.replaceChildren(el("p", { class: "error", text: e.message }));
		return;
	}
	try {
		policy = await api("GET", "/v1/devices/" + seg(id) + "/policy");
	} catch (e) {
		policy = { error: e.message };
	}
	$("device-title").textContent = device.name || device.id;
	const fields = [["ID", device.id], ["Identity kind", device.id_kind],
	                ["Identity conflict", device.id_conflict], ["Host", device.host],
	                ["Port", device.port], ["Bus:Dev", busDev(device)],
	                ["Vendor:Product", device.vendor_id + ":" + device.product_id],
	                ["Manufacturer", device.manufacturer], ["Product", device.product],
	                ["Serial", device.serial], ["Class", device.class_name],
	                ["Speed", device.speed ? device.speed + " Mb/s" : null],
	                ["Controller", device.controller ? device.controller.pci_address +
	                  (device.controller.name ? " " + device.controller.name : "") : null],
	                ["Instance", device.instance_name], ["Last error", device.state_error],
	                ["Read error", device.error], ["Updated", device.updated]];
	const dl = el("dl", { class: "fields" }, el("dt", { text: "State" }),
	              el("dd", null, stateBadge(shownState(device))));
	for (const [name, value] of fields)
		dl.append(el("dt", { text: name }), el("dd", { text: text(value) }));

	const ifaces = el("table", null,
	                  el("caption", { class: "visually-hidden", text: "Interfaces" }),
	                  el("thead", null, el("tr", null,
	                     ...["Number", "Class", "Subclass", "Protocol", "Driver"].map(
	                       (h) => el("th", { scope: "col", text: h })))),
	                  el("tbody", null, ...(device.interfaces || []).map((i) => el("tr", null,
	                     el("td", { text: i.number }), el("td", { text: text(i.class_name) }),
	                     el("td", { text: i.subclass }), el("td", { text: i.protocol }),
	                     el("td", { text: text(i.driver) })))));

	let verdict;
	if (policy.error) {
		verdict = el("p", { class: "error", text: policy.error });
	} else {
		verdict = el("dl", { class: "fields" },
		             el("dt", { text: "Verdict" }),
		             el("dd", { class: policy.allowed ? "verdict-allowed" : "verdict-denied",
		                        text: policy.allowed ? "allowed" : "refused" }),
		             el("dt", { text: "Rule" }), el("dd", { text: text(policy.rule) }),
		             el("dt", { text: "Reason" }), el("dd", { text: text(policy.reason) }));
	}
	box.replaceChildren(dl, el("h2", { text: "Interfaces" }),
	                    el("div", { class: "table-wrap" }, ifaces),
	                    el("h2", { text: "Policy" }), verdict,
	                    el("h2", { text: "Audit entries" }), await deviceAudit(device.id));
}

async function deviceAudit(id) {
	if (!isAdmin())
		return el("p", { class: "hint", text: "The audit log needs an admin token." });
	try {
		const answer = await api("GET", "/v1/audit?limit=" + AUDIT_MAX);
		const entries = answer.entries.filter((e) => e.device_id === id);
		if (!entries.length)
			return el("p", { class: "hint", text: "No audit entries for this device." });
		return auditTable(entries);
	} catch (e) {
		return el("p", { class: "error", text: e.message });
	}
}

/* ---- live events ---- */

function setLive(on, message) {
	const live = $("live");
	live.className = "live " + (on ? "on" : "off");
	live.textContent = message;
}

function stopEvents() {
	if (app.stream)
		app.stream.abort();
	app.stream = null;
	app.streamGeneration++;
}

function startEvents() {
	stopEvents();
	const generation = app.streamGeneration;
	runEvents(generation);
}

async function runEvents(generation) {
	let delay = 250;
	let first = true;
	while (generation === app.streamGeneration && app.token) {
		const controller = new AbortController();
		app.stream = controller;
		try {
			if (!first) {
				/* events were missed while away: start again from the list */
				await loadDevices();
				scheduleRender();
			}
			first = false;
			const response = await fetch("/v1/events", {
				headers: { Authorization: "Bearer " + app.token, Accept: "text/event-stream" },
				cache: "no-store",
				credentials: "omit",
				signal: controller.signal,
			});
			if (response.status === 401) {
				const answer = await response.json().catch(() => null);
				tokenRefused(answer && answer.error ? answer.error.message : "HTTP 401");
				return;
			}
			if (!response.ok || !response.body)
				throw new Error("HTTP " + response.status);
			setLive(true, "live");
			delay = 250;
			await readEventStream(response.body, generation);
		} catch (e) {
			if (generation !== app.streamGeneration)
				return;
		}
		if (generation !== app.streamGeneration)
			return;
		setLive(false, "reconnecting");
		await new Promise((resolve) => setTimeout(resolve, delay));
		delay = Math.min(delay * 2, RECONNECT_MAX_MS);
	}
}

/* text/event-stream: "event:" and "data:" lines, a blank line ends an event,
 * lines starting with ":" are comments (the daemon's keep-alive) */
async function readEventStream(body, generation) {
	const reader = body.getReader();
	const decoder = new TextDecoder();
	let buffer = "";
	let event = "message";
	let data = [];
	for (;;) {
		const { value, done } = await reader.read();
		if (done || generation !== app.streamGeneration)
			return;
		buffer += decoder.decode(value, { stream: true });
		let newline;
		while ((newline = buffer.indexOf("\n")) >= 0) {
			let line = buffer.slice(0, newline);
			buffer = buffer.slice(newline + 1);
			if (line.endsWith("\r"))
				line = line.slice(0, -1);
			if (line === "") {
				if (data.length)
					onStreamEvent(event, data.join("\n"));
				event = "message";
				data = [];
			} else if (line.startsWith(":")) {
				continue;
			} else {
				const colon = line.indexOf(":");
				const field = colon < 0 ? line : line.slice(0, colon);
				let value = colon < 0 ? "" : line.slice(colon + 1);
				if (value.startsWith(" "))
					value = value.slice(1);
				if (field === "event")
					event = value;
				else if (field === "data")
					data.push(value);
			}
		}
	}
}

function onStreamEvent(event, data) {
	let payload;
	try {
		payload = JSON.parse(data);
	} catch (e) {
		return;
	}
	if (event === "inventory" && payload.device)
		deviceChanged(payload.device);
	else if (event === "state" && payload.id)
		deviceChanged(payload);
}

function deviceChanged(device) {
	const old = app.devices.get(device.id);
	app.devices.set(device.id, device);
	const row = app.rows.get(device.id);
	if (row && old) {
		const fresh = deviceRow(device);
		row.replaceWith(fresh);
		app.rows.set(device.id, fresh);
		updateCount();
	} else if (!row) {
		const fresh = deviceRow(device);
		app.rows.set(device.id, fresh);
		$("devices-body").append(fresh);
		updateCount();
	}
	if (app.view === "devices" && app.layout === "topology")
		renderTopology();
	if (app.view === "instances")
		scheduleRender();
	if (app.attach)
		attachDeviceChanged(device);
}

/* coalesces bursts of events into one render */
function scheduleRender() {
	if (app.renderPending)
		return;
	app.renderPending = true;
	requestAnimationFrame(() => {
		app.renderPending = false;
		if (app.view === "devices")
			renderDevices();
		else if (app.view === "instances")
			renderInstances();
	});
}

/* ---- instances ---- */

async function loadInstances() {
	try {
		const answer = await api("GET", "/v1/instances");
		app.instances = answer.instances;
	} catch (e) {
		$("instances-list").replaceChildren(el("p", { class: "error", text: e.message }));
		return;
	}
	renderInstances();
}

function instanceDevices(instance) {
	return [...app.devices.values()].filter((d) => d.instance_uuid === instance.uuid);
}

function renderInstances() {
	const list = $("instances-list");
	if (!app.instances.length) {
		list.replaceChildren(el("p", { class: "hint", text: "This host has no instances." }));
		return;
	}
	const focused = document.activeElement && document.activeElement.id;
	list.replaceChildren(...app.instances.map((instance) => {
		const titleId = "instance-" + instance.uuid;
		const devices = instanceDevices(instance);
		const section = el("section", { class: "instance", "aria-labelledby": titleId,
		                                dataset: { uuid: instance.uuid } },
		                   el("h2", { id: titleId, text: instance.name }),
		                   el("p", { class: "meta" },
		                      "host " + app.host.host + " \u00b7 state ",
		                      el("strong", { text: instance.state }),
		                      instance.persistent ? " \u00b7 persistent" : " \u00b7 transient"));
		if (devices.length) {
			const tbody = el("tbody");
			for (const device of devices) {
				const actions = el("td");
				if (canOperate() && device.state !== "detaching")
					actions.append(el("button", {
						type: "button", id: "detach-" + instance.uuid + "-" + device.id,
						"aria-label": "Detach " + (device.name || device.id),
						text: "Detach", onclick: () => openDetach(instance, device) }));
				tbody.append(el("tr", null, el("td", null, deviceLink(device)),
				                el("td", { class: "mono", text: text(device.port) }),
				                el("td", { class: "mono", text: text(device.serial) }),
				                el("td", null, stateBadge(shownState(device))), actions));
			}
			section.append(el("div", { class: "table-wrap" }, el("table", null,
			   el("caption", { class: "visually-hidden", text: "USB devices of " + instance.name }),
			   el("thead", null, el("tr", null, ...["Device", "Port", "Serial", "State", "Action"]
			                          .map((h) => el("th", { scope: "col", text: h })))),
			   tbody)));
		} else {
			section.append(el("p", { class: "hint", text: "No USB devices." }));
		}
		if (canOperate())
			section.append(el("button", { type: "button", class: "primary",
			                              id: "attach-" + instance.uuid,
			                              "aria-describedby": titleId,
			                              text: "Attach USB device",
			                              onclick: () => openAttach(instance) }));
		return section;
	}));
	if (focused && $(focused))
		$(focused).focus();
}

/* ---- attach dialog ---- */

function identityText(device) {
	const parts = [device.vendor_id + ":" + device.product_id, "port " + (device.port || "?")];
	parts.push(device.serial ? "serial " + device.serial : "no serial");
	const bd = busDev(device);
	if (bd)
		parts.push("bus:dev " + bd);
	return parts.join(" \u00b7 ");
}

/* why a device cannot be chosen for @instance, null when it can (policy aside) */
function unavailableReason(device, instance) {
	if (device.present === false || device.state === "missing")
		return "missing: not plugged in";
	if (device.instance_uuid && device.instance_uuid !== instance.uuid)
		return "in use by instance '" + (device.instance_name || device.instance_uuid) + "'";
	if (device.instance_uuid === instance.uuid && device.state !== "failed")
		return "already " + device.state + " to this instance";
	if (["attaching", "detaching"].includes(device.state))
		return device.state;
	if (device.error)
		return "no stable identity: " + device.error;
	return null;
}

function openAttach(instance) {
	const dialog = $("attach-dialog");
	app.attach = { instance, policies: new Map(), busy: false, done: false, device: null };
	$("attach-target").textContent = "To instance " + instance.name + " (" + instance.state +
	                                 ") on host " + app.host.host + ".";
	$("attach-legend").textContent = "Devices on host " + app.host.host;
	$("attach-note").textContent = "Devices of other hosts are listed once usbpass runs as a " +
	                               "cluster.";
	$("attach-progress").textContent = "";
	$("attach-error").textContent = "";
	$("attach-confirm").disabled = false;
	$("attach-confirm").hidden = false;
	$("attach-close").textContent = "Cancel";
	renderAttachChoices();
	dialog.showModal();
	focusFirstChoice();
	loadPolicies();
}

function attachCandidates() {
	return [...app.devices.values()].filter((d) => d.host === app.host.host && !d.is_root_hub);
}

async function loadPolicies() {
	const state = app.attach;
	const queue = attachCandidates().filter((d) => !unavailableReason(d, state.instance));
	const worker = async () => {
		while (queue.length && app.attach === state) {
			const device = queue.shift();
			try {
				state.policies.set(device.id,
				                   await api("GET", "/v1/devices/" + seg(device.id) + "/policy"));
			} catch (e) {
				state.policies.set(device.id, { allowed: false, rule: null, reason: e.message });
			}
		}
	};
	await Promise.all(Array.from({ length: POLICY_CONCURRENCY }, worker));
	if (app.attach === state && !state.busy && !state.done) {
		const chosen = document.querySelector("input[name=attach-device]:checked");
		renderAttachChoices(chosen ? chosen.value : null);
		focusFirstChoice();
	}
}

function renderAttachChoices(chosenId) {
	const state = app.attach;
	const list = $("attach-list");
	const choosable = [];
	const unavailable = [];
	for (const device of attachCandidates()) {
		let reason = unavailableReason(device, state.instance);
		const policy = state.policies.get(device.id);
		if (!reason && policy === undefined)
			reason = "checking the policy\u2026";
		else if (!reason && !policy.allowed)
			reason = "refused by policy rule " + (policy.rule || "?") + ": " +
			         (policy.reason || "no reason given");
		(reason ? unavailable : choosable).push([device, reason]);
	}
	const item = ([device, reason], index) => {
		const id = "choice-" + index;
		const input = el("input", { type: "radio", name: "attach-device", id, value: device.id,
		                            disabled: !!reason,
		                            "aria-describedby": reason ? id + "-reason" : null });
		if (device.id === chosenId && !reason)
			input.checked = true;
		const label = el("label", { for: id }, el("span", { text: device.name || device.id }),
		                 el("span", { class: "identity", text: identityText(device) }));
		const row = el("div", { class: "choice" + (reason ? " unavailable" : "") }, input, label);
		if (reason)
			label.append(el("span", { class: "reason", id: id + "-reason", text: reason }));
		return row;
	};
	const all = [...choosable, ...unavailable];
	list.replaceChildren(...all.map(item));
	if (!all.length)
		list.append(el("p", { class: "hint", text: "This host has no USB devices." }));
	if (!choosable.length && !state.busy && !state.done)
		$("attach-confirm").disabled = true;
	else if (!state.busy && !state.done)
		$("attach-confirm").disabled = false;
}

function focusFirstChoice() {
	const first = document.querySelector("input[name=attach-device]:checked") ||
	              document.querySelector("input[name=attach-device]:not(:disabled)");
	if (first)
		first.focus();
}

async function confirmAttach() {
	const state = app.attach;
	if (!state || state.busy || state.done)
		return;
	const chosen = document.querySelector("input[name=attach-device]:checked");
	if (!chosen) {
		$("attach-error").textContent = "Choose a device first.";
		return;
	}
	state.busy = true;
	state.device = chosen.value;
	$("attach-error").textContent = "";
	$("attach-progress").textContent = "attaching";
	$("attach-confirm").disabled = true;
	for (const input of document.querySelectorAll("input[name=attach-device]"))
		input.disabled = true;
	try {
		const device = await api("POST", "/v1/instances/" + seg(state.instance.uuid) +
		                         "/usb-devices", { device: state.device });
		if (app.attach === state) {
			state.done = true;
			$("attach-progress").textContent = device.state || "attached";
		}
		deviceChanged(device);
	} catch (e) {
		if (app.attach === state) {
			$("attach-progress").textContent = "";
			$("attach-error").textContent = e.message;
		}
	}
	if (app.attach !== state)
		return;
	state.busy = false;
	if (state.done) {
		$("attach-confirm").hidden = true;
		$("attach-close").textContent = "Close";
		$("attach-close").focus();
	} else {
		renderAttachChoices(state.device);
		focusFirstChoice();
	}
	loadInstances();
}

/* the live state of the device being attached, from the event stream */
function attachDeviceChanged(device) {
	const state = app.attach;
	if (state.device === device.id && !state.done &&
	    ["attaching", "attached", "failed"].includes(device.state))
		$("attach-progress").textContent = device.state;
	if (!state.busy && !state.done) {
		const chosen = document.querySelector("input[name=attach-device]:checked");
		const focused = document.activeElement && document.activeElement.name === "attach-device";
		renderAttachChoices(chosen ? chosen.value : null);
		if (focused)
			focusFirstChoice();
	}
}

function closeAttach() {
	app.attach = null;
	if ($("attach-dialog").open)
		$("attach-dialog").close();
}

/* ---- detach dialog ---- */

function openDetach(instance, device) {
	app.detach = { instance, device, busy: false };
	$("detach-text").textContent = "Detach " + (device.name || device.id) + " (" +
	                               identityText(device) + ") from instance " + instance.name + "?";
	$("detach-progress").textContent = "";
	$("detach-error").textContent = "";
	$("detach-confirm").disabled = false;
	$("detach-dialog").showModal();
	$("detach-confirm").focus();
}

async function confirmDetach() {
	const state = app.detach;
	if (!state || state.busy)
		return;
	state.busy = true;
	$("detach-confirm").disabled = true;
	$("detach-progress").textContent = "detaching";
	try {
		const device = await api("DELETE", "/v1/instances/" + seg(state.instance.uuid) +
		                         "/usb-devices/" + seg(state.device.id));
		deviceChanged(device);
		closeDetach();
		loadInstances();
	} catch (e) {
		if (app.detach === state) {
			state.busy = false;
			$("detach-progress").textContent = "";
			$("detach-error").textContent = e.message;
			$("detach-confirm").disabled = false;
		}
	}
}

function closeDetach() {
	app.detach = null;
	if ($("detach-dialog").open)
		$("detach-dialog").close();
}

/* ---- hosts ---- */

function renderHosts() {
	$("hosts-body").replaceChildren(...app.hosts.map((h) => el("tr", null,
	   el("td", { text: h.host }), el("td", { text: h.version }),
	   el("td", { text: h.enabled ? "enabled" : "disabled" }),
	   el("td", { text: h.driver + (h.driver_connected ? " (connected)" : " (not connected)") }),
	   el("td", { text: h.store }),
	   el("td", { text: [...app.devices.values()].filter((d) => d.host === h.host).length }))));
}

/* ---- audit ---- */

function auditTable(entries) {
	return el("div", { class: "table-wrap" }, el("table", { id: "audit-table" },
	   el("caption", { class: "visually-hidden", text: "Audit log, newest first" }),
	   el("thead", null, el("tr", null, ...["Time", "Host", "Actor", "Action", "Device",
	                                        "Outcome", "Message"]
	                          .map((h) => el("th", { scope: "col", text: h })))),
	   el("tbody", null, ...entries.map((e) => el("tr", null,
	      el("td", { class: "mono", text: text(e.time) }), el("td", { text: text(e.host) }),
	      el("td", { text: text(e.actor) }), el("td", { text: text(e.action) }),
	      el("td", { class: "mono", text: text(e.device_id) }),
	      el("td", { text: text(e.outcome) }), el("td", { text: text(e.message) }))))));
}

async function renderAudit() {
	const box = $("audit-content");
	if (!isAdmin()) {
		box.replaceChildren(el("p", { class: "hint", text: "The audit log needs an admin token." }));
		return;
	}
	const page = app.auditPage;
	/* the API pages upwards from ?after=ID, newest first: a page further back is
	 * the tail of a longer answer, as far as the API's limit reaches */
	const limit = Math.min(AUDIT_MAX, (page + 1) * AUDIT_PAGE_SIZE);
	let answer;
	try {
		answer = await api("GET", "/v1/audit?limit=" + limit);
	} catch (e) {
		box.replaceChildren(el("p", { class: "error", text: e.message }));
		return;
	}
	const entries = answer.entries.slice(page * AUDIT_PAGE_SIZE, (page + 1) * AUDIT_PAGE_SIZE);
	const older = answer.entries.length === limit && (page + 1) * AUDIT_PAGE_SIZE < AUDIT_MAX;
	const pager = el("div", { class: "pager" },
	   el("button", { type: "button", text: "Newer", disabled: page === 0,
	                  onclick: () => { app.auditPage--; renderAudit(); } }),
	   el("span", { text: "Page " + (page + 1) }),
	   el("button", { type: "button", text: "Older", disabled: !older,
	                  onclick: () => { app.auditPage++; renderAudit(); } }),
	   el("button", { type: "button", text: "Refresh", onclick: () => renderAudit() }));
	box.replaceChildren(pager, entries.length ? auditTable(entries)
	                                          : el("p", { class: "hint", text: "No entries." }));
}

/* ---- start ---- */

function init() {
	readTokenFromAddress();
	$("signin-form").addEventListener("submit", (event) => {
		event.preventDefault();
		const token = $("token-input").value.trim();
		if (token)
			signIn(token);
	});
	$("sign-out").addEventListener("click", () => {
		sessionStorage.removeItem(TOKEN_KEY);
		app.token = null;
		app.host = null;
		stopEvents();
		showBanner("");
		showSignIn();
	});
	$("filter-host").addEventListener("change", applyFilter);
	$("filter-state").addEventListener("change", applyFilter);
	$("filter-text").addEventListener("input", applyFilter);
	$("layout-table").addEventListener("click", () => { app.layout = "table"; renderDevices(); });
	$("layout-topology").addEventListener("click", () => {
		app.layout = "topology";
		renderDevices();
	});
	$("attach-confirm").addEventListener("click", confirmAttach);
	$("attach-close").addEventListener("click", closeAttach);
	$("attach-dialog").addEventListener("close", () => { app.attach = null; });
	$("detach-confirm").addEventListener("click", confirmDetach);
	$("detach-close").addEventListener("click", closeDetach);
	$("detach-dialog").addEventListener("close", () => { app.detach = null; });
	window.addEventListener("hashchange", () => {
		if (location.hash.startsWith("#token=")) {
			readTokenFromAddress();
			signIn(sessionStorage.getItem(TOKEN_KEY));
			return;
		}
		route();
	});
	const token = sessionStorage.getItem(TOKEN_KEY);
	if (token)
		signIn(token);
	else
		showSignIn();
}

document.addEventListener("DOMContentLoaded", init);
