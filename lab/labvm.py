# lab/labvm.py: the host side of the USB lab, shared by lab/run and lab/bench.
#
# OuterVM boots the image of lab/build under `qemu-system-x86_64 -accel tcg`
# as a child of this process (PID 1 of these machines reaps no orphans: the
# QEMU is waited for and stopped by pid, never left running), with:
#   - the root disk in snapshot mode: the cached image is never written;
#   - lab/guest/ and the usbpass build directory as read-only 9p shares (the
#     build is mounted at its host path, where its RPATHs point);
#   - a QMP socket (Qmp) to plug and unplug USB devices as a person would;
#   - the agent port (Agent): lab/guest/agent.py runs shell commands in the VM;
#   - the serial console in console.log of the work directory;
#   - the emulated USB hardware of USB_DEVICES on a qemu-xhci and a usb-ehci.
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time

LAB = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(LAB)

# The lab's USB hardware: QMP device_add arguments, in plug order. The stick
# and the FTDI adapter carry serial numbers; the twins are two identical FTDI
# adapters with an empty serial string (the kernel then has no serial for
# them), behind the hub, so only their ports tell them apart.
USB_DEVICES = [
    {"driver": "usb-storage", "id": "stick", "bus": "xhci.0", "port": "1", "drive": "stick",
     "serial": "LABSTICK0001"},
    {"driver": "usb-serial", "id": "ftdi", "bus": "xhci.0", "port": "2", "chardev": "ftdi-chr",
     "always-plugged": True, "serial": "LABFTDI0001"},
    {"driver": "usb-hub", "id": "hub", "bus": "xhci.0", "port": "3"},
    {"driver": "usb-serial", "id": "twin1", "bus": "xhci.0", "port": "3.1", "chardev": "twin1-chr",
     "always-plugged": True, "serial": ""},
    {"driver": "usb-serial", "id": "twin2", "bus": "xhci.0", "port": "3.2", "chardev": "twin2-chr",
     "always-plugged": True, "serial": ""},
    {"driver": "usb-kbd", "id": "kbd", "bus": "xhci.0", "port": "3.3"},
    {"driver": "usb-tablet", "id": "tablet", "bus": "ehci.0", "port": "1"},
]
STICK_SERIAL = "LABSTICK0001"
STICK_MIB = 64


class LabError(Exception):
    pass


def die_with_parent():
    """In the QEMU child before exec: SIGKILL when lab/run dies, whatever kills it."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def qemu_prop(value):
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value).replace(",", ",,")


def device_arg(dev):
    props = [dev["driver"]] + [f"{k}={qemu_prop(v)}" for k, v in dev.items() if k != "driver"]
    return ",".join(props)


class Qmp:
    """A QMP client on the outer QEMU's monitor socket; keeps the events."""

    def __init__(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise LabError(f"cannot connect to QMP at {path}")
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb", buffering=0)
        self.events = []
        self.lock = threading.Lock()
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise LabError("QMP connection closed")
            msg = json.loads(line)
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def execute(self, command, **arguments):
        with self.lock:
            req = {"execute": command}
            if arguments:
                req["arguments"] = arguments
            self.file.write((json.dumps(req) + "\n").encode())
            msg = self._read()
        if "error" in msg:
            raise LabError(f"QMP {command}: {msg['error'].get('desc', msg['error'])}")
        return msg.get("return")

    def hmp(self, command):
        return self.execute("human-monitor-command", **{"command-line": command})

    def wait_event(self, name, match=None, timeout=10.0):
        """Waits for an event (already received or coming) and consumes it."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                for i, ev in enumerate(self.events):
                    if ev["event"] == name and (match is None or match(ev.get("data", {}))):
                        return self.events.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabError(f"no QMP event {name} within {timeout} s")
                ready, _, _ = select.select([self.sock], [], [], min(left, 0.2))
                if ready:
                    line = self.file.readline()
                    if not line:
                        raise LabError("QMP connection closed")
                    msg = json.loads(line)
                    if "event" in msg:
                        self.events.append(msg)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Result:
    def __init__(self, msg):
        self.rc = msg.get("rc", -1)
        self.out = msg.get("out", "")
        self.err = msg.get("err", "")
        self.ms = msg.get("ms", 0.0)
        self.msg = msg

    @property
    def ok(self):
        return self.rc == 0

    def __repr__(self):
        return f"Result(rc={self.rc}, out={self.out[-300:]!r}, err={self.err[-300:]!r})"


class Pending:
    def __init__(self):
        self.event = threading.Event()
        self.msg = None

    def wait(self, timeout=None):
        if not self.event.wait(timeout):
            raise LabError("the agent did not answer in time")
        return Result(self.msg)


class Agent:
    """The client of lab/guest/agent.py over the virtio-serial socket."""

    def __init__(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise LabError(f"cannot connect to the agent socket {path}")
                time.sleep(0.05)
        self.lock = threading.Lock()
        self.pending = {}
        self.next_id = 1
        self.closed = False
        self.reader = threading.Thread(target=self._reader, daemon=True)
        self.reader.start()

    def _reader(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                with self.lock:
                    for p in self.pending.values():
                        p.msg = {"rc": -1, "err": "agent connection closed"}
                        p.event.set()
                    self.pending.clear()
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                with self.lock:
                    p = self.pending.pop(msg.get("id"), None)
                if p is not None:
                    p.msg = msg
                    p.event.set()

    def request(self, req):
        p = Pending()
        with self.lock:
            if self.closed:
                p.msg = {"rc": -1, "err": "agent connection closed"}
                p.event.set()
                return p
            rid = self.next_id
            self.next_id += 1
            self.pending[rid] = p
            req = dict(req, id=rid)
            self.sock.sendall((json.dumps(req) + "\n").encode())
        return p

    def start(self, command, timeout=300):
        return self.request({"sh": command, "timeout": timeout})

    def sh(self, command, timeout=300):
        return self.start(command, timeout).wait(timeout + 30)

    def ping(self, timeout):
        p = self.request({"op": "ping"})
        return p.wait(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class OuterVM:
    def __init__(self, image, builddir, workdir, memory_mib=3072, cpus=2, log=print):
        self.image = image
        self.builddir = os.path.abspath(builddir)
        self.workdir = workdir
        self.memory_mib = memory_mib
        self.cpus = cpus
        self.log = log
        self.proc = None
        self.qmp = None
        self.agent = None
        self.boot_s = None
        self.plugged = {dev["id"]: dict(dev) for dev in USB_DEVICES}

    def path(self, name):
        return os.path.join(self.workdir, name)

    def command(self):
        append = " ".join([
            "console=ttyS0", "root=/dev/vda", "rw", "quiet", "loglevel=4", "panic=-1",
            "tsc=reliable", f"lab.build={self.builddir}",
        ])
        cmd = [
            "qemu-system-x86_64", "-accel", "tcg,thread=multi", "-machine", "pc",
            "-m", str(self.memory_mib), "-smp", str(self.cpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
            "-kernel", os.path.join(self.image, "vmlinuz"),
            "-initrd", os.path.join(self.image, "initrd.img"),
            "-append", append,
            "-drive", f"file={os.path.join(self.image, 'rootfs.ext4')},format=raw,if=virtio,"
                      "snapshot=on,cache=unsafe",
            "-virtfs", f"local,path={os.path.join(LAB, 'guest')},mount_tag=lab,"
                       "security_model=none,readonly=on",
            "-virtfs", f"local,path={self.builddir},mount_tag=build,security_model=none,readonly=on",
            "-chardev", f"file,id=console,path={self.path('console.log')}",
            "-serial", "chardev:console",
            "-qmp", f"unix:{self.path('qmp.sock')},server=on,wait=off",
            "-device", "virtio-serial-pci,id=vser",
            "-chardev", f"socket,id=agent,path={self.path('agent.sock')},server=on,wait=off",
            "-device", "virtserialport,chardev=agent,name=lab.agent",
            "-device", "qemu-xhci,id=xhci,p2=8,p3=8",
            "-device", "usb-ehci,id=ehci",
            "-blockdev", f"driver=file,filename={self.path('stick.raw')},node-name=stick-file",
            "-blockdev", "driver=raw,file=stick-file,node-name=stick",
        ]
        for dev in USB_DEVICES:
            if "chardev" in dev:
                cmd += ["-chardev", f"null,id={dev['chardev']}"]
            cmd += ["-device", device_arg(dev)]
        return cmd

    def start(self, boot_timeout=300):
        os.makedirs(self.workdir, exist_ok=True)
        for name in ("qmp.sock", "agent.sock", "console.log"):
            try:
                os.unlink(self.path(name))
            except FileNotFoundError:
                pass
        with open(self.path("stick.raw"), "wb") as f:
            f.truncate(STICK_MIB << 20)
        cmd = self.command()
        with open(self.path("qemu.cmdline"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        start = time.monotonic()
        with open(self.path("qemu.log"), "w") as qemu_log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qemu_log,
                                         stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        self.log(f"outer QEMU pid {self.proc.pid}, console in {self.path('console.log')}")
        self.qmp = Qmp(self.path("qmp.sock"))
        self.agent = Agent(self.path("agent.sock"))
        deadline = start + boot_timeout
        while True:
            if self.proc.poll() is not None:
                raise LabError(f"the outer QEMU exited with {self.proc.returncode}: "
                               + self.tail("qemu.log") + self.tail("console.log"))
            try:
                res = self.agent.ping(timeout=2)
                if res.ok:
                    self.boot_s = time.monotonic() - start
                    self.guest_uptime = res.msg.get("uptime")
                    return
            except LabError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"the lab did not answer within {boot_timeout} s: "
                               + self.tail("console.log"))

    def tail(self, name, lines=30):
        try:
            with open(self.path(name), errors="replace") as f:
                return "\n" + "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # --- the person at the USB ports -------------------------------------
    def unplug(self, dev_id, timeout=10.0):
        self.qmp.execute("device_del", id=dev_id)
        self.qmp.wait_event("DEVICE_DELETED", lambda d: d.get("device") == dev_id, timeout)
        self.plugged.pop(dev_id, None)

    def plug(self, dev_id, **changes):
        dev = dict(next(d for d in USB_DEVICES if d["id"] == dev_id))
        dev.update(changes)
        args = {k: v for k, v in dev.items()}
        self.qmp.execute("device_add", **args)
        self.plugged[dev_id] = dev

    def sh(self, command, timeout=300):
        return self.agent.sh(command, timeout)

    def stop(self, timeout=30.0):
        if self.proc is None:
            return
        if self.proc.poll() is None and self.agent is not None and not self.agent.closed:
            try:
                self.agent.request({"op": "poweroff"})
                self.proc.wait(timeout)
            except (LabError, OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None and self.qmp is not None:
            try:
                self.qmp.execute("quit")
                self.proc.wait(10)
            except (LabError, OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.agent is not None:
            self.agent.close()
        if self.qmp is not None:
            self.qmp.close()
        self.proc = None
