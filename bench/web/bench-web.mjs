/*
 * bench-web.mjs: the web page in headless Chromium against a usbpassd with
 * 1,000 umockdev devices (bench/api/make-testbed.py), run by web-harness
 *
 * Prints key=value lines:
 *   web_first_render_1000_ms  click on "Sign in" -> the devices table shows
 *                             every device, at the next animation frame
 *                             (median of RENDER_RUNS fresh tabs)
 *   web_event_to_dom_ms_p50   an SSE event read off the stream -> its row
 *                             replaced and painted (next animation frame),
 *                             over the state events of EVENT_CYCLES attach +
 *                             detach cycles; _p90 too
 *   web_attach_to_dom_ms_p50  POST of an attach sent -> its row shows
 *                             "attaching" (the whole way through the daemon)
 *   web_page_kib              bytes the page transfers (/, app.js, app.css:
 *                             headers and bodies), before any API call
 */
import { env, launch, close } from "../../tests/web/lib.mjs";

const RENDER_RUNS = 5;
const EVENT_CYCLES = 20;

function percentile(values, p) {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p + 0.5))];
}

const fixed = (value) => value.toFixed(1);

async function api(method, path, body) {
	const init = { method, headers: { Authorization: "Bearer " + env.admin } };
	if (body) {
		init.headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	const response = await fetch(env.url + path, init);
	if (!response.ok)
		throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
	return response.json();
}

const { devices } = await api("GET", "/v1/devices");
const total = devices.length;
const stick = devices.find((d) => !d.is_hub && d.present !== false);
const instance = (await api("GET", "/v1/instances")).instances[0];

const browser = await launch();
const renders = [];
const breakdown = { host: [], devices: [], render: [] };
let pageBytes = 0;
for (let run = 0; run < RENDER_RUNS; run++) {
	const page = await browser.context.newPage();
	const sizes = [];
	page.on("requestfinished", async (request) => {
		if (!new URL(request.url()).pathname.startsWith("/v1/"))
			sizes.push(request.sizes());
	});
	await page.goto(env.url + "/");
	await page.getByLabel("Token").fill(env.admin);
	/* where the time goes: the two API calls and the table's DOM */
	await page.evaluate(() => {
		const original = window.renderDevices;
		window.renderDevices = () => {
			const start = performance.now();
			original();
			window.__renderMs = performance.now() - start;
		};
	});
	const ms = await page.evaluate((count) => new Promise((resolve) => {
		let start = 0;
		const tick = () => {
			if (document.querySelectorAll("#devices-body tr").length >= count)
				resolve(performance.now() - start);
			else
				requestAnimationFrame(tick);
		};
		document.getElementById("signin-form").addEventListener("submit", () => {
			start = performance.now();
			requestAnimationFrame(tick);
		}, { capture: true });
		document.querySelector("#signin-form button").click();
	}), total);
	renders.push(ms);
	const timing = await page.evaluate(() => {
		const entry = (name) => performance.getEntriesByType("resource")
			.filter((e) => new URL(e.name).pathname === name).map((e) => e.duration)[0];
		return { host: entry("/v1/host"), devices: entry("/v1/devices"), render: window.__renderMs };
	});
	for (const key of Object.keys(breakdown))
		breakdown[key].push(timing[key]);
	if (run === 0) {
		const all = await Promise.all(sizes);
		pageBytes = all.reduce((sum, s) => sum + s.responseHeadersSize + s.responseBodySize, 0);
	}
	if (run < RENDER_RUNS - 1)
		await page.close();
	else
		browser.page = page;
}

/* the last tab stays signed in and measures the events */
const page = browser.page;
await page.locator("#live.on").waitFor();
await page.evaluate((id) => {
	window.__eventToDom = [];
	window.__attaching = [];
	const original = window.onStreamEvent;
	window.onStreamEvent = (event, data) => {
		const read = performance.now();
		original(event, data);
		let device = null;
		try {
			const payload = JSON.parse(data);
			device = event === "state" ? payload : payload.device;
		} catch (e) {
			return;
		}
		if (!device || device.id !== id)
			return;
		requestAnimationFrame(() => window.__eventToDom.push(performance.now() - read));
		if (device.state === "attaching")
			requestAnimationFrame(() => window.__attaching.push(performance.timeOrigin +
			                                                    performance.now()));
	};
}, stick.id);

const attachToDom = [];
for (let i = 0; i < EVENT_CYCLES; i++) {
	const before = await page.evaluate(() => window.__attaching.length);
	const sent = performance.timeOrigin + performance.now();
	await api("POST", `/v1/instances/${encodeURIComponent(instance.uuid)}/usb-devices`,
	          { device: stick.id });
	await page.waitForFunction((n) => window.__attaching.length > n, before);
	attachToDom.push(await page.evaluate(() => window.__attaching.at(-1)) - sent);
	await api("DELETE", `/v1/instances/${encodeURIComponent(instance.uuid)}/usb-devices/` +
	                    encodeURIComponent(stick.id));
}
await page.waitForFunction((n) => window.__eventToDom.length >= n, EVENT_CYCLES * 4);
const eventToDom = await page.evaluate(() => window.__eventToDom);
await close(browser);

console.log(`# ${total} devices, ${RENDER_RUNS} first renders, ${eventToDom.length} events`);
console.log(`web_first_render_1000_ms=${fixed(percentile(renders, 0.5))}`);
console.log(`web_first_render_1000_ms_max=${fixed(Math.max(...renders))}`);
console.log(`# of which GET /v1/host ${fixed(percentile(breakdown.host, 0.5))} ms, ` +
            `GET /v1/devices ${fixed(percentile(breakdown.devices, 0.5))} ms, ` +
            `building the table ${fixed(percentile(breakdown.render, 0.5))} ms (medians)`);
console.log(`web_event_to_dom_ms_p50=${fixed(percentile(eventToDom, 0.5))}`);
console.log(`web_event_to_dom_ms_p90=${fixed(percentile(eventToDom, 0.9))}`);
console.log(`web_attach_to_dom_ms_p50=${fixed(percentile(attachToDom, 0.5))}`);
console.log(`web_page_kib=${fixed(pageBytes / 1024)}`);
